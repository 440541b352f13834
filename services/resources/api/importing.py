"""What the resource and mentor imports share: who may import, the idempotent start, reading the upload,
and the all-or-partial finish with the answer stored for replays."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
from fastapi import Request, Response

from kit.auth import Principal, Role
from kit.errors import Conflict, FieldError, Forbidden, ValidationFailed
from kit.idempotency import IdempotencyGuard, check_key, fingerprint
from kit.jsonutil import dumps
from services.resources.api.common import write_region
from services.resources.config import ResourcesSettings
from services.resources.models import idempotency_keys
from services.resources.schemas import ImportResult, ImportRowError
from services.resources.uploads import Limits, Upload, read_upload

IMPORT_MEDIA = {
    "text/csv": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "object"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}
    },
}
Mode = Literal["all", "partial"]


@dataclass
class Import:
    """An import under way: its region, its upload, and the idempotency record its answer goes to."""

    region: str
    mode: Mode
    table: Upload
    guard: IdempotencyGuard
    fingerprint: str


async def begin_import(
    request: Request,
    principal: Principal,
    session: Any,
    *,
    what: str,
    mode: Mode,
    idempotency_key: str | None,
    allowed: Iterable[str],
    required: Iterable[str],
    aliases: Mapping[str, str],
) -> Import | Response:
    """The import to run, or the stored answer when the same key and body came before."""
    if not (principal.is_regional or principal.role == Role.municipal_methodologist):
        raise Forbidden(f"your role may not import {what}", code="role-forbidden")
    region = write_region(principal)
    key = check_key(idempotency_key)
    assert key is not None
    body = await request.body()
    settings: ResourcesSettings = request.app.state.settings
    content_type = request.headers.get("content-type")
    fp = fingerprint(content_type or "", mode, body)
    guard = IdempotencyGuard(idempotency_keys, session, key=key, principal=principal.sub, operation=f"{what}-import")
    replayed = await guard.begin(fp)
    if replayed is not None:
        return replayed
    table = read_upload(
        body,
        content_type,
        allowed=allowed,
        required=required,
        aliases=aliases,
        limits=Limits(settings.import_max_rows, settings.import_max_unpacked_bytes, settings.import_max_zip_ratio),
    )
    return Import(region, mode, table, guard, fp)


async def finish_import(
    run: Import,
    records: list[tuple[Any, ...]],
    errors: list[FieldError],
    bad_rows: set[int | None],
    upsert: Callable[[list[tuple[Any, ...]]], Awaitable[tuple[int, int]]],
    *,
    changed: str,
) -> Response:
    """Refuse the batch in `all` mode when a row is bad; else store the good rows and answer (and keep
    the answer for replays). `changed` names what a concurrent change hit (409)."""
    errors.sort(key=lambda e: (e.row or 0, e.column or ""))
    if errors and run.mode == "all":
        raise ValidationFailed(f"{len(bad_rows)} rows rejected; nothing was stored", errors=errors)
    inserted = updated = 0
    if records:
        try:
            inserted, updated = await upsert(records)
        except asyncpg.DataError as e:  # a value PostgreSQL refuses (validation should have caught it)
            raise ValidationFailed("a value cannot be stored", code="invalid-value") from e
        except asyncpg.IntegrityConstraintViolationError as e:
            raise Conflict(f"{changed} changed during the import; retry", code="import-conflict") from e
    result = ImportResult(
        mode=run.mode,
        format=run.table.format,
        rows=len(run.table.rows),
        inserted=inserted,
        updated=updated,
        unchanged=len(records) - inserted - updated,
        rejected=len(bad_rows),
        errors=[ImportRowError(row=e.row, column=e.column, code=e.code, message=e.message) for e in errors],
    )
    payload = dumps(result.model_dump(mode="json"))
    await run.guard.store(run.fingerprint, 200, payload)
    return Response(payload, status_code=200, media_type="application/json")
