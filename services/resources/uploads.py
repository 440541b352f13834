"""Uploaded catalogue tables (CSV, XLSX read by kit.uploads; JSON rows) as numbered rows of named cells.

On top of the kit's reader (which checks the limits, the zip's sizes and ratio included): Russian
header aliases, unknown columns reported as errors, JSON rows, this service's codes for a workbook
that is not one or is a zip bomb, and cells made plain (empty -> None, whole floats -> int, dates ->
ISO). Errors never echo cell values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kit import tabular
from kit.errors import FieldError, UnsupportedMediaType, ValidationFailed
from kit.jsonutil import loads
from kit.uploads import Answer, Refusal, UploadLimits, check_archive

CSV_TYPES = tabular.CSV_MEDIA_TYPES | {"application/vnd.ms-excel"}


def import_limits(
    max_rows: int = 20_000,
    max_unpacked_bytes: int = 100 * 1024 * 1024,
    max_ratio: float = 100.0,
    max_seconds: float | None = None,
) -> UploadLimits:
    """The kit's upload limits with a catalogue import's numbers (the settings' import_max_*, upload_read_seconds).

    The table is kept whole, so its cells are capped as kit.tabular caps them (`TABLE_MAX_CELLS`).
    """
    return UploadLimits(
        max_rows=max_rows,
        max_uncompressed=max_unpacked_bytes,
        max_ratio=max_ratio,
        max_cells=tabular.TABLE_MAX_CELLS,
        max_seconds=max_seconds,
    )


# What this service has always answered for a workbook that is no zip, or compressed too well.
_NOT_XLSX = Answer(422, "invalid-xlsx", "Файл не является книгой XLSX")
_ZIP_BOMB = Answer(422, "xlsx-zip-bomb", "Книга XLSX сжата подозрительно сильно; такой файл не принимается")
ANSWERS: dict[Refusal, Answer] = {
    Refusal.not_xlsx: _NOT_XLSX,
    Refusal.zip_bomb: _ZIP_BOMB,
    Refusal.part_zip_bomb: _ZIP_BOMB,
}


@dataclass
class Upload:
    format: str
    # (1-based data row number as the user sees it, {canonical column: value}); blank rows are skipped.
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def upload_format(content_type: str | None) -> str:
    mt = tabular.media_type(content_type)
    if mt in CSV_TYPES:
        return "csv"
    if mt == tabular.XLSX_MEDIA_TYPE:
        return "xlsx"
    if mt in tabular.JSON_MEDIA_TYPES:
        return "json"
    raise UnsupportedMediaType(
        "Загрузите таблицу в формате CSV или XLSX либо строки в формате JSON",
        code="unsupported-upload-type",
    )


def check_ratio(body: bytes, max_ratio: float) -> None:
    """Refuse a workbook compressed suspiciously well (a zip bomb) without extracting it."""
    check_archive(body, UploadLimits(max_uncompressed=1 << 62, max_ratio=max_ratio), ANSWERS)


def normalize_header(name: Any) -> str:
    return "_".join(str(name if name is not None else "").strip().lower().replace("ё", "е").split())


def plain(value: Any) -> Any:
    """A cell as a plain value: empty -> None, whole floats -> int, dates -> ISO text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def read_upload(
    body: bytes,
    content_type: str | None,
    *,
    allowed: Iterable[str],
    required: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None,
    limits: UploadLimits | None = None,
    json_key: str = "rows",
) -> Upload:
    """Parse an upload into rows keyed by canonical columns; header problems answer 422 at once.

    Blocking (openpyxl, CSV): call it in a worker thread, never on the event loop.
    """
    fmt = upload_format(content_type)
    limits = limits or import_limits()
    aliases = aliases or {}
    allowed_set = set(allowed)
    if not body.strip():
        raise ValidationFailed("Файл пуст", code="empty-file")
    if fmt == "json":
        return _read_json(body, allowed_set, aliases, limits.max_rows, json_key)
    table = tabular.read(body, fmt, limits, answers=ANSWERS)

    def canonical(header: str) -> str:
        name = normalize_header(header)
        return aliases.get(name, name)

    unknown = [
        FieldError(
            loc=["header", pos],
            code="unknown-column",
            message=f"Неизвестный столбец (по счёту {pos})",
            column=normalize_header(h)[:64],
        )
        for pos, h in enumerate(table.headers, start=1)
        if normalize_header(h) and canonical(h) not in allowed_set
    ]
    try:
        records = tabular.records(
            table, lambda h: canonical(h) if canonical(h) in allowed_set else None, required=required
        )
    except ValidationFailed as e:
        raise ValidationFailed(
            "В строке заголовков есть ошибки; ничего не сохранено", errors=unknown + list(e.errors or [])
        ) from e
    if unknown:
        raise ValidationFailed("В строке заголовков есть ошибки; ничего не сохранено", errors=unknown)
    rows = [(n, {k: plain(v) for k, v in rec.items()}) for n, rec in records]
    rows = [(n, rec) for n, rec in rows if any(v is not None for v in rec.values())]
    if not rows:
        raise ValidationFailed("В файле есть строка заголовков, но нет строк с данными", code="no-rows")
    return Upload(fmt, rows)


def _read_json(body: bytes, allowed: set[str], aliases: Mapping[str, str], max_rows: int, json_key: str) -> Upload:
    try:
        doc = loads(body)
    except ValueError as e:
        raise ValidationFailed("Тело запроса не читается как JSON", code="invalid-json") from e
    items = doc.get(json_key) if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ValidationFailed(
            f"Передайте список строк в формате JSON или объект вида {{«{json_key}»: [...]}}", code="invalid-json"
        )
    if not items:
        raise ValidationFailed("В загрузке нет ни одной строки", code="no-rows")
    if len(items) > max_rows:
        raise ValidationFailed(f"В загрузке больше строк, чем допустимо (не более {max_rows})", code="too-many-rows")
    errors: list[FieldError] = []
    upload = Upload("json")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors.append(
                FieldError(
                    loc=[json_key, number - 1],
                    code="not-an-object",
                    message="Каждая строка должна быть объектом JSON",
                    row=number,
                )
            )
            continue
        row: dict[str, Any] = {}
        for key, value in item.items():
            canon = aliases.get(normalize_header(key), normalize_header(key))
            if canon not in allowed:
                errors.append(
                    FieldError(
                        loc=[json_key, number - 1, str(key)[:64]],
                        code="unknown-column",
                        message="Неизвестный столбец",
                        row=number,
                        column=str(key)[:64],
                    )
                )
                continue
            row[canon] = value if isinstance(value, list | dict) else plain(value)
        upload.rows.append((number, row))
    if errors:
        raise ValidationFailed(f"Отклонено строк: {len({e.row for e in errors})}; ничего не сохранено", errors=errors)
    return upload


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
