"""Import of existing lists of the methodological active (`POST /active/import`): the resources import machinery
(`service/imports.py` begin/finish: Idempotency-Key, the upload reader, all-or-nothing or partial), teachers named
by external id or by full name with the municipality (exactly one registry match), upserted by teacher with a
history event for every change of status."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.resources.active_import import (
    ACTIVE_ALIASES,
    ACTIVE_COLUMNS,
    ACTIVE_REQUIRED,
    ActiveImportRow,
    duplicate_problem,
    mentor_problem,
    teacher_problem,
)
from services.resources.active_repository import ActiveRepository
from services.resources.active_vocab import ActiveStatus, fold
from services.resources.clients import RegistryClient, TeacherInfo, Unavailable
from services.resources.config import ResourcesSettings
from services.resources.imports import validate_rows
from services.resources.service.active import assessment_down, today
from services.resources.service.imports import Checked, ImportRequest, begin_import, finish_import


async def resolve_teachers(
    registry: RegistryClient, region: str, rows: list[tuple[int, ActiveImportRow]]
) -> dict[int, list[TeacherInfo]]:
    """The registry's teachers each row names: by external id, else by exact full name in the municipality."""
    by_ext = await registry.teachers_by_external_id(
        [r.teacher_external_id for _n, r in rows if r.teacher_external_id], region
    )
    out: dict[int, list[TeacherInfo]] = {}
    for number, r in rows:
        if r.teacher_external_id:
            t = by_ext.get(r.teacher_external_id)
            out[number] = [t] if t else []
        else:
            assert r.full_name is not None and r.municipality is not None
            named = await registry.teachers_named(r.full_name, r.municipality, region)
            out[number] = [
                t for t in named if fold(t.full_name) == fold(r.full_name) and t.municipality == r.municipality
            ]
    return out


def record(r: ActiveImportRow, t: TeacherInfo) -> tuple[Any, ...]:
    return (
        t.id,
        t.municipality,
        t.organisation,
        list(r.subjects),
        r.status.value,
        r.since or r.order_date or today(),
        r.basis.value,
        r.basis_level,
        r.order_number,
        r.order_date,
    )


async def import_members(
    session: AsyncSession,
    principal: Principal,
    settings: ResourcesSettings,
    registry: RegistryClient,
    upload: ImportRequest,
) -> Response:
    """Upsert members by teacher; every bad row named (its row, column and why)."""
    run = await begin_import(
        session,
        principal,
        settings,
        upload,
        what="active",
        allowed=ACTIVE_COLUMNS,
        required=ACTIVE_REQUIRED,
        aliases=ACTIVE_ALIASES,
    )
    if isinstance(run, Response):
        return run
    good, errors = validate_rows(run.table, ActiveImportRow)
    try:
        found = await resolve_teachers(registry, run.region, good)
    except Unavailable as e:
        raise assessment_down() from e
    checked = Checked([], errors, {e.row for e in errors})
    mentoring = await ActiveRepository(session).active_mentors(run.region, [t.id for m in found.values() for t in m])
    seen: dict[uuid.UUID, int] = {}
    for number, r in good:
        matches = found.get(number, [])
        differs = bool(matches) and r.municipality is not None and matches[0].municipality != r.municipality
        problem = teacher_problem(r, len(matches), differs)
        if problem is None:
            problem = duplicate_problem(seen.get(matches[0].id)) or mentor_problem(r.status, matches[0].id in mentoring)
            seen.setdefault(matches[0].id, number)
        if problem is not None:
            checked.refuse(number, problem)
        else:
            checked.records.append(record(r, matches[0]))

    async def upsert(records: list[tuple[Any, ...]]) -> tuple[int, int]:
        return await store_members(ActiveRepository(session), principal, run.region, records)

    return await finish_import(run, checked, upsert, changed="Методический актив")


async def store_members(
    repo: ActiveRepository, principal: Principal, region: str, records: list[tuple[Any, ...]]
) -> tuple[int, int]:
    """Insert new members, change the others; a change of status is recorded in the history (with its order)."""
    existing = await repo.by_teachers(region, [rec[0] for rec in records])
    inserted = updated = 0
    for teacher_id, mun, org, subjects, status, since, basis, level, number, issued_on in records:
        order_id = (await repo.order(region, number, issued_on, principal.sub))["id"] if number else None
        values = {
            "municipality": mun,
            "organisation": org,
            "subjects": subjects,
            "status": status,
            "since": since,
            "basis_kind": basis,
            "basis_level": level,
            "order_id": order_id,
        }
        current = existing.get(teacher_id)
        if current is None:
            member_id = await repo.insert({**values, "region": region, "teacher_id": teacher_id})
            status_from, inserted = None, inserted + 1
        else:
            member_id, status_from = current["id"], current["status"]
            await repo.update(member_id, values, None)
            updated += 1
        if status_from != status:
            await repo.add_event(
                {
                    "member_id": member_id,
                    "status_from": status_from,
                    "status_to": status,
                    "happened_on": since,
                    "order_id": order_id,
                    "reason": "Перенесён из импортированного списка",
                    "recorded_by": principal.sub,
                }
            )
        if status == ActiveStatus.left:
            await repo.stop_mentoring(member_id, since.year, None, principal.sub)
    return inserted, updated
