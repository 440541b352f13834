"""Read an uploaded table (CSV, XLSX or JSON rows) into numbered rows of named cells.

CSV as Russian Excel users produce it: UTF-8 with or without BOM, or Windows-1251, `;` or `,`
separated. XLSX is checked for zip bombs (total uncompressed size and compression ratio) before
openpyxl parses it in read-only mode. Errors never echo cell values (they may be personal data).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kit.errors import FieldError, UnsupportedMediaType, ValidationFailed
from kit.jsonutil import loads

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"})
XLSX_TYPES = frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
JSON_TYPES = frozenset({"application/json"})
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\x00")


@dataclass(frozen=True)
class ZipLimits:
    """Ceilings an XLSX (a zip) must stay under before it is parsed."""

    max_uncompressed_bytes: int = 100 * 1024 * 1024
    max_ratio: float = 100.0
    max_members: int = 10_000


@dataclass
class UploadedTable:
    format: str
    columns: list[str]
    # (1-based data row number as the user sees it, {canonical column: value}); blank rows are skipped.
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def upload_format(content_type: str | None) -> str:
    """Return csv, xlsx or json for a Content-Type, or answer 415."""
    mt = media_type(content_type)
    if mt in CSV_TYPES:
        return "csv"
    if mt in XLSX_TYPES:
        return "xlsx"
    if mt in JSON_TYPES:
        return "json"
    raise UnsupportedMediaType(
        "send text/csv, application/json or an XLSX workbook "
        "(application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)",
        code="unsupported-upload-type",
    )


def decode_text(body: bytes) -> str:
    """Decode CSV bytes: UTF-8 (BOM or not), else Windows-1251."""
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", errors="strict")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1251", errors="replace")


def sniff_delimiter(header_line: str) -> str:
    """`;` (Russian Excel) or `,` or tab: whichever the header line uses most."""
    counts = {d: header_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def check_zip(body: bytes, limits: ZipLimits) -> None:
    """Refuse archives that would inflate beyond the limits (zip bombs) without extracting them."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError) as e:
        raise ValidationFailed("the file is not a valid XLSX workbook", code="invalid-xlsx") from e
    if len(infos) > limits.max_members:
        raise ValidationFailed("the workbook has too many parts", code="xlsx-too-complex")
    total = sum(i.file_size for i in infos)
    compressed = sum(i.compress_size for i in infos) or 1
    if total > limits.max_uncompressed_bytes:
        raise ValidationFailed("the workbook is too large when unpacked", code="xlsx-too-large")
    if total / max(compressed, 1) > limits.max_ratio:
        raise ValidationFailed("the workbook is compressed suspiciously well (zip bomb?)", code="xlsx-zip-bomb")
    for i in infos:
        if i.compress_size and i.file_size / i.compress_size > limits.max_ratio:
            raise ValidationFailed("the workbook is compressed suspiciously well (zip bomb?)", code="xlsx-zip-bomb")


def normalize_header(name: Any) -> str:
    return "_".join(str(name if name is not None else "").strip().lower().replace("ё", "е").split())


def _cell(value: Any) -> Any:
    """Turn a spreadsheet or CSV cell into a plain value: empty -> None, whole floats -> int, dates -> ISO."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _header_map(
    raw: list[Any], allowed: Iterable[str], aliases: Mapping[str, str], required: Iterable[str]
) -> list[str | None]:
    allowed_set = set(allowed)
    errors: list[FieldError] = []
    out: list[str | None] = []
    seen: dict[str, int] = {}
    for pos, h in enumerate(raw, start=1):
        name = normalize_header(h)
        if not name:
            out.append(None)  # an unnamed trailing column (Excel leaves them); its cells are ignored
            continue
        canon = aliases.get(name, name)
        if canon not in allowed_set:
            errors.append(
                FieldError(loc=["header", pos], code="unknown-column", message=f"column {pos} is not a known column",
                           column=name[:64])
            )
            out.append(None)
            continue
        if canon in seen:
            errors.append(
                FieldError(loc=["header", pos], code="duplicate-column",
                           message=f"column {pos} repeats column {seen[canon]}", column=canon)
            )
            out.append(None)
            continue
        seen[canon] = pos
        out.append(canon)
    for req in required:
        if req not in seen:
            errors.append(FieldError(loc=["header"], code="missing-column", message="required column is missing",
                                     column=req))
    if errors:
        raise ValidationFailed("the header row is not valid; nothing was stored", errors=errors)
    return out


def _too_many(max_rows: int) -> ValidationFailed:
    return ValidationFailed(f"the upload has more than {max_rows} rows", code="too-many-rows")


def _from_matrix(
    fmt: str,
    matrix: Iterable[Iterable[Any]],
    *,
    allowed: Iterable[str],
    aliases: Mapping[str, str],
    required: Iterable[str],
    max_rows: int,
) -> UploadedTable:
    it = iter(matrix)
    header: list[Any] | None = None
    for raw in it:
        cells = list(raw)
        if any(_cell(c) is not None for c in cells):
            header = cells
            break
    if header is None:
        raise ValidationFailed("the file is empty", code="empty-file")
    names = _header_map(header, allowed, aliases, required)
    table = UploadedTable(format=fmt, columns=[n for n in names if n])
    for number, raw in enumerate(it, start=1):
        cells = [_cell(c) for c in raw]
        if all(c is None for c in cells):
            continue
        if len(table.rows) >= max_rows:
            raise _too_many(max_rows)
        row: dict[str, Any] = {}
        for name, value in zip(names, cells, strict=False):
            if name is not None:
                row[name] = value
        table.rows.append((number, row))
    if not table.rows:
        raise ValidationFailed("the file has a header but no data rows", code="no-rows")
    return table


def read_upload(
    body: bytes,
    content_type: str | None,
    *,
    allowed: Iterable[str],
    required: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None,
    max_rows: int = 10_000,
    json_key: str = "rows",
    zip_limits: ZipLimits | None = None,
) -> UploadedTable:
    """Parse an upload into numbered rows keyed by canonical column names (header errors answer 422)."""
    fmt = upload_format(content_type)
    aliases = aliases or {}
    allowed = list(allowed)
    if not body.strip():
        raise ValidationFailed("the file is empty", code="empty-file")
    if fmt == "csv":
        text = decode_text(body)
        first = text.split("\n", 1)[0]
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(first))
        try:
            return _from_matrix("csv", reader, allowed=allowed, aliases=aliases, required=required,
                                max_rows=max_rows)
        except csv.Error as e:
            raise ValidationFailed("the CSV file cannot be parsed", code="invalid-csv") from e
    if fmt == "xlsx":
        check_zip(body, zip_limits or ZipLimits())
        import openpyxl

        try:
            wb = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises many kinds for a damaged workbook
            raise ValidationFailed("the file is not a valid XLSX workbook", code="invalid-xlsx") from e
        try:
            ws = wb.worksheets[0] if wb.worksheets else None
            if ws is None:
                raise ValidationFailed("the workbook has no sheets", code="empty-file")
            return _from_matrix("xlsx", ws.iter_rows(values_only=True), allowed=allowed, aliases=aliases,
                                required=required, max_rows=max_rows)
        finally:
            wb.close()
    return _read_json(body, allowed=allowed, aliases=aliases, required=required, max_rows=max_rows,
                      json_key=json_key)


def _read_json(
    body: bytes,
    *,
    allowed: list[str],
    aliases: Mapping[str, str],
    required: Iterable[str],
    max_rows: int,
    json_key: str,
) -> UploadedTable:
    try:
        doc = loads(body)
    except ValueError as e:
        raise ValidationFailed("the body is not valid JSON", code="invalid-json") from e
    items = doc.get(json_key) if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ValidationFailed(f'send a JSON array of row objects or {{"{json_key}": [...]}}', code="invalid-json")
    if not items:
        raise ValidationFailed("the upload has no rows", code="no-rows")
    if len(items) > max_rows:
        raise _too_many(max_rows)
    allowed_set = set(allowed)
    errors: list[FieldError] = []
    table = UploadedTable(format="json", columns=[])
    columns: dict[str, None] = {}
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors.append(FieldError(loc=[json_key, number - 1], code="not-an-object",
                                     message="each row must be a JSON object", row=number))
            continue
        row: dict[str, Any] = {}
        for key, value in item.items():
            canon = aliases.get(normalize_header(key), normalize_header(key))
            if canon not in allowed_set:
                errors.append(FieldError(loc=[json_key, number - 1, str(key)[:64]], code="unknown-column",
                                         message="not a known column", row=number, column=str(key)[:64]))
                continue
            row[canon] = _cell(value) if not isinstance(value, list | dict) else value
            columns[canon] = None
        table.rows.append((number, row))
    if errors:
        raise ValidationFailed(f"{len({e.row for e in errors})} rows rejected; nothing was stored", errors=errors)
    table.columns = list(columns)
    return table


def split_list(value: Any, separators: str = ",;|") -> list[str]:
    """A multi-valued cell ("M1, M2" or "M1|M2", or a JSON list) as a list of stripped strings."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    text = str(value)
    for sep in separators[1:]:
        text = text.replace(sep, separators[0])
    return [p.strip() for p in text.split(separators[0]) if p.strip()]


def safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in exported text (a leading = + - @ tab CR or NUL)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
