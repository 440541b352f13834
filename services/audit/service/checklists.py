"""Checklists of municipal documents: conceptual documents and the twelve directions, with regional summaries."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import NotFound, PreconditionFailed, PreconditionRequired
from kit.pagination import decode_cursor, encode_cursor, key_text
from kit.versioning import parse_if_match, require_if_match
from services.audit.checklist import completeness, summarise
from services.audit.clients import MunicipalityDirectory, unknown_municipalities
from services.audit.repository import ChecklistRepository
from services.audit.schemas import ChecklistWrite
from services.audit.scope import own_municipality, sees_municipality, writer_region
from services.audit.vocab import (
    DIRECTION_LABELS_RU,
    DOCUMENT_TYPE_LABELS_RU,
    ELEMENT_LABELS_RU,
    ChecklistElement,
    Direction,
    DocumentType,
)

# The version a first write names: none is stored with it (versions start at 1), so it only inserts.
CREATE_ONLY = 0


def vocabulary() -> dict[str, Any]:
    return {
        "directions": [{"code": d.value, "label": DIRECTION_LABELS_RU[d]} for d in Direction],
        "elements": [{"code": e.value, "label": ELEMENT_LABELS_RU[e]} for e in ChecklistElement],
        "document_types": [{"code": t.value, "label": DOCUMENT_TYPE_LABELS_RU[t]} for t in DocumentType],
    }


def checklist_view(row: dict[str, Any]) -> dict[str, Any]:
    directions = row["directions"]
    return {
        "region": row["region"],
        "municipality": row["municipality"],
        "documents": row["documents"],
        "directions": [{"direction": d.value, **directions.get(d.value, {})} for d in Direction],
        "completeness": completeness(directions),
        "updated_at": row["updated_at"],
        "version": row["version"],
    }


async def summary(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    rows = await ChecklistRepository(session).list_checklists(
        principal.region, municipality=own_municipality(principal), after=None, limit=None
    )
    return summarise(rows)


async def list_checklists(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> dict[str, Any]:
    after = decode_cursor(cursor, [key_text])
    rows = await ChecklistRepository(session).list_checklists(
        principal.region,
        municipality=own_municipality(principal),
        after=after[0] if after else None,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["municipality"]])
    return {"items": [checklist_view(r) for r in rows], "next_cursor": next_cursor}


async def get_checklist(session: AsyncSession, principal: Principal, municipality: str) -> dict[str, Any]:
    row = (
        await ChecklistRepository(session).get(principal.region, municipality)
        if sees_municipality(principal, municipality)
        else None
    )
    if row is None:
        raise NotFound("Чек-лист не найден", code="checklist-not-found")
    return checklist_view(row)


async def put_checklist(
    session: AsyncSession,
    directory: MunicipalityDirectory,
    principal: Principal,
    municipality: str,
    body: ChecklistWrite,
    if_match: str | None,
) -> dict[str, Any]:
    """Write a municipality's checklist; the code must be in the directory. The first write creates it without
    If-Match; once it exists a write needs If-Match (428 without, 412 when stale)."""
    if not sees_municipality(principal, municipality):
        raise NotFound("Чек-лист не найден", code="checklist-not-found")
    region = writer_region(principal)
    if await unknown_municipalities(directory, region, [municipality]):
        raise NotFound("В справочнике региона нет муниципалитета с таким кодом", code="unknown-municipality")
    repo = ChecklistRepository(session)
    exists = await repo.get(region, municipality) is not None
    expected = require_if_match(if_match) if exists else parse_if_match(if_match)
    if expected is not None and not exists:
        raise PreconditionFailed("Чек-листа ещё нет: первая запись делается без If-Match", code="stale-version")
    row = await repo.upsert(
        {
            "region": region,
            "municipality": municipality,
            "documents": [d.model_dump(mode="json") for d in body.documents],
            "directions": {
                d.direction.value: d.model_dump(mode="json", exclude={"direction"}) for d in body.directions
            },
            "updated_by": principal.sub,
        },
        # A creation stores only where none exists (versions start at 1): a concurrent first write is not
        # overwritten, the later writer is asked for the ETag.
        CREATE_ONLY if expected is None else expected,
    )
    if row is None and expected is None:
        raise PreconditionRequired(
            "Чек-лист тем временем уже записан: прочитайте его и передайте If-Match с его ETag",
            code="if-match-required",
        )
    if row is None:
        raise PreconditionFailed(
            "Чек-лист изменился с тех пор, как вы его прочитали: прочитайте его заново и повторите изменение",
            code="stale-version",
        )
    return checklist_view(row)
