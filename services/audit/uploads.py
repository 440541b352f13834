"""Reading an upload of monitoring scores (JSON, CSV or XLSX) into numbered rows keyed by canonical column."""

from __future__ import annotations

from typing import Any

from kit.errors import FieldError, ValidationFailed
from kit.jsonutil import loads
from kit.tabular import JSON_MEDIA_TYPES, media_type, read_table, records
from services.audit.config import AuditSettings
from services.audit.monitoring import REQUIRED_COLUMNS, canonical_column

Records = list[tuple[int, dict[str, Any]]]


def score_records(body: bytes, content_type: str | None, settings: AuditSettings) -> Records:
    """The upload's rows as (row number, {canonical column: value}); 422 naming every bad row.

    Blocking (openpyxl, CSV): call it in a worker thread, never on the event loop.
    """
    if media_type(content_type) in JSON_MEDIA_TYPES:
        return _json_records(body, settings.monitoring_max_rows)
    table = read_table(
        body,
        content_type,
        max_rows=settings.monitoring_max_rows,
        max_uncompressed=settings.max_xlsx_uncompressed_bytes,
        max_seconds=settings.upload_read_seconds,
    )
    return records(table, canonical_column, required=REQUIRED_COLUMNS)


def _json_rows(body: bytes, max_rows: int) -> list[Any]:
    """The list under {"rows": [...]}; 422 when the body is not that or holds too many rows."""
    try:
        doc = loads(body)
    except ValueError:
        raise ValidationFailed(
            "Тело запроса не читается как JSON",
            errors=[FieldError(loc=["body"], code="bad-json", message="Ожидается JSON")],
        ) from None
    if not isinstance(doc, dict) or set(doc) != {"rows"} or not isinstance(doc["rows"], list) or not doc["rows"]:
        raise ValidationFailed(
            "Передайте объект вида {«rows»: [...]} хотя бы с одной строкой",
            errors=[FieldError(loc=["body", "rows"], code="invalid", message="Нужен непустой список строк")],
        )
    if len(doc["rows"]) > max_rows:
        raise ValidationFailed(
            "Слишком много строк",
            errors=[
                FieldError(loc=["body", "rows"], code="too-many-rows", message=f"Допустимо не более {max_rows} строк")
            ],
        )
    rows: list[Any] = doc["rows"]
    return rows


def _json_record(n: int, item: Any, errors: list[FieldError]) -> dict[str, Any]:
    """One JSON row keyed by canonical column; an unknown field or a non-object is added to `errors`."""
    if not isinstance(item, dict):
        errors.append(
            FieldError(loc=["body", n], code="not-an-object", message=f"Строка {n}: ожидается объект с полями", row=n)
        )
        return {}
    rec: dict[str, Any] = {}
    for k, v in item.items():
        col = canonical_column(k)
        if col is None:
            errors.append(
                FieldError(
                    loc=["body", n, str(k)[:64]],
                    code="unknown-field",
                    message=f"Строка {n}: неизвестное поле",
                    row=n,
                    column=str(k)[:64],
                )
            )
        else:
            rec[col] = v
    return rec


def _json_records(body: bytes, max_rows: int) -> Records:
    out: Records = []
    errors: list[FieldError] = []
    for n, item in enumerate(_json_rows(body, max_rows), start=1):
        rec = _json_record(n, item, errors)
        if isinstance(item, dict):
            out.append((n, rec))
    if errors:
        raise ValidationFailed(f"Отклонено строк: {len({e.row for e in errors})}; ничего не сохранено", errors=errors)
    return out
