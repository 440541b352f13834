"""Uploaded tables (CSV, XLSX) read whole into numbered rows, and cells made safe for exports.

Domain-free: a service maps the headers to its own fields and validates the values. The reading
itself (encodings, delimiters, limits, XLSX safety) is `kit.uploads`; this module keeps the rows.
A table kept whole costs memory by its cells (a sparse row costs its header's width), so these readers
stop at `TABLE_MAX_CELLS` cells unless told otherwise. Call them in a worker thread, not on an event loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kit.errors import FieldError, UnsupportedMediaType, ValidationFailed
from kit.uploads import ANSWERS, Answers, Source, UploadLimits, read_rows

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
JSON_MEDIA_TYPES = frozenset({"application/json"})
# Excel, LibreOffice and Google Sheets run cells starting with these as formulas.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\x00")
# Cells (blank rows' included) a whole-table read may hold: 2,000,000 slots are ~16 MB of row lists plus their
# values, 100 columns of 20,000 rows; a 1,024-column header over sparse rows meets it after ~2,000 rows.
TABLE_MAX_CELLS = 2_000_000


@dataclass(frozen=True)
class Table:
    """Headers and data rows; each row carries its 1-based number below the header line."""

    headers: list[str]
    rows: list[tuple[int, list[Any]]]


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header, lower case ('' when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def read(
    source: Source, fmt: str, limits: UploadLimits, *, answers: Answers = ANSWERS, sheet: str | None = None
) -> Table:
    """Read a whole CSV or XLSX upload (`kit.uploads.read_rows`) into a Table, text cells stripped."""
    with read_rows(source, fmt, limits, answers=answers, sheet=sheet) as table:
        headers = [h.strip() for h in table.headers]
        rows = [(n, [v.strip() if isinstance(v, str) else v for v in values]) for n, values in table.rows]
    return Table(headers, rows)


def read_csv(
    body: bytes, *, max_rows: int, max_cells: int = TABLE_MAX_CELLS, max_seconds: float | None = None
) -> Table:
    """Read CSV (UTF-8 or Windows-1251; comma, semicolon or tab separated); the first line is the header."""
    return read(body, "csv", UploadLimits(max_rows=max_rows, max_cells=max_cells, max_seconds=max_seconds))


def read_xlsx(
    body: bytes,
    *,
    max_rows: int,
    max_uncompressed: int,
    sheet: str | None = None,
    max_cells: int = TABLE_MAX_CELLS,
    max_seconds: float | None = None,
) -> Table:
    """Read the first (or the named) sheet; the first non-empty row is the header."""
    limits = UploadLimits(
        max_rows=max_rows, max_uncompressed=max_uncompressed, max_cells=max_cells, max_seconds=max_seconds
    )
    return read(body, "xlsx", limits, sheet=sheet)


def read_table(
    body: bytes,
    content_type: str | None,
    *,
    max_rows: int,
    max_uncompressed: int,
    max_cells: int = TABLE_MAX_CELLS,
    max_seconds: float | None = None,
) -> Table:
    """Read CSV or XLSX by Content-Type (blocking: call it in a worker thread); anything else is 415."""
    mt = media_type(content_type)
    if mt == XLSX_MEDIA_TYPE:
        return read_xlsx(
            body, max_rows=max_rows, max_uncompressed=max_uncompressed, max_cells=max_cells, max_seconds=max_seconds
        )
    if mt in CSV_MEDIA_TYPES:
        return read_csv(body, max_rows=max_rows, max_cells=max_cells, max_seconds=max_seconds)
    raise UnsupportedMediaType("Загрузите таблицу в формате CSV или XLSX", code="unsupported-media-type")


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
            errors.append(
                FieldError(loc=["header", f], code="duplicate-column", message="Столбец повторяется", column=f)
            )
            f = None
        if f is not None:
            seen.add(f)
        fields.append(f)
    for f in required:
        if f not in seen:
            errors.append(
                FieldError(loc=["header", f], code="missing-column", message="Нет обязательного столбца", column=f)
            )
    if errors:
        raise ValidationFailed("Строка заголовков не подходит; ничего не сохранено", errors=errors)
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
