"""Bulk imports of resources and mentors: the idempotent start, reading the upload, checking every row, and
the all-or-partial finish with the answer stored for replays."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import anyio.to_thread
import asyncpg
from fastapi import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import Conflict, FieldError, ValidationFailed
from kit.idempotency import IdempotencyGuard, check_key, fingerprint
from kit.jsonutil import dumps
from services.resources.config import ResourcesSettings
from services.resources.import_repository import upsert_mentors, upsert_resources
from services.resources.imports import (
    MENTOR_ALIASES,
    MENTOR_COLUMNS,
    MENTOR_REQUIRED,
    RESOURCE_ALIASES,
    RESOURCE_COLUMNS,
    RESOURCE_REQUIRED,
    MentorImportRow,
    ResourceImportRow,
    mentor_record,
    mentor_row_problem,
    resource_record,
    resource_row_problem,
    row_error,
    validate_rows,
)
from services.resources.models import idempotency_keys
from services.resources.ownership import import_owner
from services.resources.repository import MentorRepository, ResourceRepository
from services.resources.schemas import ImportResult, ImportRowError
from services.resources.service.mentors import this_year
from services.resources.service.regions import write_region
from services.resources.uploads import Upload, import_limits, read_upload

Mode = Literal["all", "partial"]


@dataclass(frozen=True)
class ImportRequest:
    """What the client sent: the body as it came, its content type, the mode and the idempotency key."""

    body: bytes
    content_type: str | None
    mode: Mode
    idempotency_key: str | None


@dataclass
class Import:
    """An import under way: its region, its upload, and the idempotency record its answer goes to."""

    region: str
    mode: Mode
    table: Upload
    guard: IdempotencyGuard
    fingerprint: str


@dataclass
class Checked:
    """The rows to store and the errors of the others."""

    records: list[tuple[Any, ...]]
    errors: list[FieldError]
    bad_rows: set[int | None]

    def refuse(self, number: int, problem: tuple[str | None, str, str]) -> None:
        self.errors.append(row_error(number, *problem))
        self.bad_rows.add(number)


async def import_resources(
    session: AsyncSession, principal: Principal, settings: ResourcesSettings, upload: ImportRequest
) -> Response:
    """Upsert resources by external_id; a municipal service imports its municipality's local resources only."""
    run = await begin_import(
        session,
        principal,
        settings,
        upload,
        what="resources",
        allowed=RESOURCE_COLUMNS,
        required=RESOURCE_REQUIRED,
        aliases=RESOURCE_ALIASES,
    )
    if isinstance(run, Response):
        return run
    good, errors = validate_rows(run.table, ResourceImportRow)
    existing = await ResourceRepository(session).by_external_ids(run.region, [r.external_id for _n, r in good])
    owner = import_owner(principal)
    checked = Checked([], errors, {e.row for e in errors})
    seen: dict[str, int] = {}
    for number, r in good:
        problem = resource_row_problem(r, existing.get(r.external_id), owner, seen.get(r.external_id))
        seen.setdefault(r.external_id, number)
        if problem is not None:
            checked.refuse(number, problem)
        else:
            checked.records.append(resource_record(r, run.region, owner, principal.sub))
    return await finish_import(run, checked, lambda recs: upsert_resources(session, recs), changed="Каталог ресурсов")


async def import_mentors(
    session: AsyncSession, principal: Principal, settings: ResourcesSettings, upload: ImportRequest
) -> Response:
    """Upsert mentors by teacher_id; new ones get an `entered` history event."""
    run = await begin_import(
        session,
        principal,
        settings,
        upload,
        what="mentors",
        allowed=MENTOR_COLUMNS,
        required=MENTOR_REQUIRED,
        aliases=MENTOR_ALIASES,
    )
    if isinstance(run, Response):
        return run
    good, errors = validate_rows(run.table, MentorImportRow)
    existing = await MentorRepository(session).by_teacher_ids(run.region, [r.teacher_id for _n, r in good])
    own = import_owner(principal)
    checked = Checked([], errors, {e.row for e in errors})
    seen: dict[Any, int] = {}
    for number, r in good:
        problem = mentor_row_problem(r, existing.get(r.teacher_id), own, seen.get(r.teacher_id))
        seen.setdefault(r.teacher_id, number)
        if problem is not None:
            checked.refuse(number, problem)
        else:
            checked.records.append(mentor_record(r, run.region))
    return await finish_import(
        run,
        checked,
        lambda recs: upsert_mentors(session, recs, principal.sub, this_year()),
        changed="Методический актив",
    )


async def begin_import(
    session: AsyncSession,
    principal: Principal,
    settings: ResourcesSettings,
    upload: ImportRequest,
    *,
    what: str,
    allowed: Iterable[str],
    required: Iterable[str],
    aliases: Mapping[str, str],
) -> Import | Response:
    """The import to run, or the stored answer when the same key and body came before."""
    region = write_region(principal)
    key = check_key(upload.idempotency_key)
    assert key is not None
    fp = fingerprint(upload.content_type or "", upload.mode, upload.body)
    guard = IdempotencyGuard(idempotency_keys, session, key=key, principal=principal.sub, operation=f"{what}-import")
    replayed = await guard.begin(fp)
    if replayed is not None:
        return replayed
    limits = import_limits(
        settings.import_max_rows,
        settings.import_max_unpacked_bytes,
        settings.import_max_zip_ratio,
        settings.upload_read_seconds,
    )
    # Reading is blocking work bounded by the limits' deadline: a worker thread, so other requests are served.
    table = await anyio.to_thread.run_sync(
        partial(
            read_upload,
            upload.body,
            upload.content_type,
            allowed=allowed,
            required=required,
            aliases=aliases,
            limits=limits,
        )
    )
    return Import(region, upload.mode, table, guard, fp)


async def finish_import(
    run: Import,
    checked: Checked,
    upsert: Callable[[list[tuple[Any, ...]]], Awaitable[tuple[int, int]]],
    *,
    changed: str,
) -> Response:
    """Refuse the batch in `all` mode when a row is bad; else store the good rows and answer (and keep
    the answer for replays). `changed` names what a concurrent change hit (409)."""
    errors, records = checked.errors, checked.records
    errors.sort(key=lambda e: (e.row or 0, e.column or ""))
    if errors and run.mode == "all":
        raise ValidationFailed(f"Отклонено строк: {len(checked.bad_rows)}; ничего не сохранено", errors=errors)
    inserted = updated = 0
    if records:
        try:
            inserted, updated = await upsert(records)
        except asyncpg.DataError as e:  # a value PostgreSQL refuses (validation should have caught it)
            raise ValidationFailed(
                "Одно из значений нельзя сохранить: проверьте числа и символы в таблице", code="invalid-value"
            ) from e
        except asyncpg.IntegrityConstraintViolationError as e:
            raise Conflict(f"{changed} изменился во время импорта; повторите импорт", code="import-conflict") from e
    result = ImportResult(
        mode=run.mode,
        format=run.table.format,
        rows=len(run.table.rows),
        inserted=inserted,
        updated=updated,
        unchanged=len(records) - inserted - updated,
        rejected=len(checked.bad_rows),
        errors=[ImportRowError(row=e.row, column=e.column, code=e.code, message=e.message) for e in errors],
    )
    payload = dumps(result.model_dump(mode="json"))
    await run.guard.store(run.fingerprint, 200, payload)
    return Response(payload, status_code=200, media_type="application/json")
