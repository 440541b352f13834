"""Uploaded tables (CSV, XLSX) read into numbered rows, and cells made safe for exports.

Domain-free: a service maps the headers to its own fields and validates the values.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kit.errors import FieldError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
JSON_MEDIA_TYPES = frozenset({"application/json"})
# Excel, LibreOffice and Google Sheets run cells starting with these as formulas.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\x00")


@dataclass(frozen=True)
class Table:
    """Headers and data rows; each row carries its 1-based number below the header line."""

    headers: list[str]
    rows: list[tuple[int, list[Any]]]


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header, lower case ('' when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _invalid(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(loc=["body"], code=code, message=message)])


def _too_many(max_rows: int) -> ValidationFailed:
    return _invalid("too-many-rows", f"the table has more than {max_rows} data rows")


def _blank(values: Iterable[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _decode(body: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _invalid("bad-encoding", "the CSV is neither UTF-8 nor Windows-1251")


def read_csv(body: bytes, *, max_rows: int) -> Table:
    """Read CSV (UTF-8 or Windows-1251; comma, semicolon or tab separated); the first line is the header."""
    text = _decode(body)
    first_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = next(reader)
    except StopIteration:
        raise _invalid("empty", "the table is empty") from None
    except csv.Error as e:
        raise _invalid("bad-csv", "the CSV cannot be read") from e
    rows: list[tuple[int, list[Any]]] = []
    try:
        for n, values in enumerate(reader, start=1):
            if _blank(values):
                continue
            if len(rows) >= max_rows:
                raise _too_many(max_rows)
            rows.append((n, [v.strip() for v in values]))
    except csv.Error as e:
        raise _invalid("bad-csv", "the CSV cannot be read") from e
    return Table([h.strip() for h in headers], rows)


def check_xlsx_size(body: bytes, max_uncompressed: int) -> None:
    """Refuse a workbook that is not a zip or would unpack beyond `max_uncompressed` bytes."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            size = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, ValueError) as e:
        raise _invalid("bad-xlsx", "the file is not an XLSX workbook") from e
    if size > max_uncompressed:
        raise PayloadTooLarge(f"the workbook unpacks beyond {max_uncompressed} bytes", code="xlsx-too-large")


def read_xlsx(body: bytes, *, max_rows: int, max_uncompressed: int, sheet: str | None = None) -> Table:
    """Read the first (or the named) sheet; the first non-empty row is the header."""
    import openpyxl

    check_xlsx_size(body, max_uncompressed)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a damaged file
        raise _invalid("bad-xlsx", "the file is not a readable XLSX workbook") from e
    try:
        if sheet is not None and sheet in wb.sheetnames:
            ws = wb[sheet]
        else:
            ws = wb.worksheets[0]
        headers: list[str] | None = None
        rows: list[tuple[int, list[Any]]] = []
        n = 0
        for values in ws.iter_rows(values_only=True):
            if headers is None:
                if _blank(values):
                    continue
                headers = ["" if v is None else str(v).strip() for v in values]
                continue
            n += 1
            if _blank(values):
                continue
            if len(rows) >= max_rows:
                raise _too_many(max_rows)
            rows.append((n, [v.strip() if isinstance(v, str) else v for v in values]))
    finally:
        wb.close()
    if headers is None:
        raise _invalid("empty", "the table is empty")
    return Table(headers, rows)


def read_table(body: bytes, content_type: str | None, *, max_rows: int, max_uncompressed: int) -> Table:
    """Read CSV or XLSX by Content-Type; anything else is 415."""
    mt = media_type(content_type)
    if mt == XLSX_MEDIA_TYPE:
        return read_xlsx(body, max_rows=max_rows, max_uncompressed=max_uncompressed)
    if mt in CSV_MEDIA_TYPES:
        return read_csv(body, max_rows=max_rows)
    raise UnsupportedMediaType("send text/csv or an XLSX workbook", code="unsupported-media-type")


def records(
    table: Table, column_of: Callable[[str], str | None], *, required: Iterable[str] = ()
) -> list[tuple[int, dict[str, Any]]]:
    """Rows as {field: value} using `column_of(header)` (None ignores the column); check required fields."""
    fields: list[str | None] = []
    seen: set[str] = set()
    errors: list[FieldError] = []
    for h in table.headers:
        f = column_of(h) if h else None
        if f is not None and f in seen:
            errors.append(FieldError(loc=["header", f], code="duplicate-column", message="a column repeats", column=f))
            f = None
        if f is not None:
            seen.add(f)
        fields.append(f)
    for f in required:
        if f not in seen:
            errors.append(
                FieldError(loc=["header", f], code="missing-column", message="a required column is missing", column=f)
            )
    if errors:
        raise ValidationFailed("the header row is not usable; nothing was stored", errors=errors)
    out: list[tuple[int, dict[str, Any]]] = []
    for n, values in table.rows:
        rec: dict[str, Any] = {}
        for f, v in zip(fields, values, strict=False):
            if f is not None:
                rec[f] = v
        out.append((n, rec))
    return out


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; other values pass."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


# ECMA-376 ST_Xstring: `_xHHHH_` in a cell's text is read as the character U+HHHH (Excel shows `_x0041_`
# as "A"); a literal one has its underscore written `_x005F_`.
_OOXML_ESCAPE_RE = re.compile("_(?=x[0-9A-Fa-f]{4}_)")


def ooxml_literal(text: str) -> str:
    """Text for an XLSX cell that Excel shows as written."""
    return _OOXML_ESCAPE_RE.sub("_x005F_", text) if "_x" in text else text


def xlsx_cell(value: Any) -> Any:
    """A value for an XLSX cell: formula-escaped (`safe_cell`), and its text shown as written."""
    value = safe_cell(value)
    return ooxml_literal(value) if isinstance(value, str) else value
