"""Reading routes: lists in scope, the teacher's own, counts and outcomes for KPIs, a route's history."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor, key_id, key_time
from services.routes.content import chosen_kinds, route_view
from services.routes.directory import Directory
from services.routes.printing import Printed, render
from services.routes.repository import RouteRepository
from services.routes.route_document.view import build_document
from services.routes.service.route_access import load_route


async def list_routes(
    session: AsyncSession,
    principal: Principal,
    filters: dict[str, Any],
    *,
    overdue: bool,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """A keyset page of route summaries in scope, newest first."""
    after = decode_cursor(cursor, [key_time, key_id])
    rows = await RouteRepository(session).search(
        principal,
        filters=filters,
        overdue_on=datetime.now(UTC).date() if overdue else None,
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["created_at"].isoformat(), str(rows[-1]["id"])])
    return {"items": rows, "next_cursor": next_cursor}


async def own_routes(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """The calling teacher's routes (the scope of a teacher is their own)."""
    rows = await RouteRepository(session).search(principal, filters={}, overdue_on=None, after=None, limit=MAX_LIMIT)
    return {"items": rows, "next_cursor": None}


def outcome_of(row: dict[str, Any]) -> dict[str, Any]:
    """What effectiveness analysis needs of one route: its forms chosen, mentor and deficits."""
    sections = row["content"].get("sections", {})
    return {
        "route_id": row["id"],
        "teacher_id": row["teacher_id"],
        "municipality": row["municipality"],
        "group": row["grp"],
        "subject": row["subject"],
        "status": row["status"],
        "completed_at": row["completed_at"],
        "resource_kinds": chosen_kinds(row["content"]),
        "mentor_id": row["mentor_id"],
        "deficits": sections.get("competency_profile", {}).get("deficits", []),
    }


async def outcomes(
    session: AsyncSession,
    principal: Principal,
    municipality: str | None,
    cursor: str | None,
    limit: int,
    *,
    mentored: bool | None = None,
) -> dict[str, Any]:
    """A keyset page of per-route outcomes in scope (by route id); `mentored`: only those with (without) a mentor."""
    after = decode_cursor(cursor, [key_id])
    rows = await RouteRepository(session).outcomes(
        principal, municipality, after[0] if after else None, limit + 1, mentored=mentored
    )
    next_cursor = encode_cursor([str(rows[limit - 1]["id"])]) if len(rows) > limit else None
    return {"items": [outcome_of(r) for r in rows[:limit]], "next_cursor": next_cursor}


async def printable(
    session: AsyncSession, principal: Principal, route_id: uuid.UUID, fmt: str, directory: Directory
) -> Printed:
    """The route as a document (html, docx or pdf): its history for the approvals, its school and
    municipality by name from the assessment directory (asked at print, cached: every stored route prints
    with the names the directory holds now). Drawing runs in a worker thread (a PDF takes tens of ms)."""
    repo = RouteRepository(session)
    row = await load_route(repo, principal, route_id, None)
    events = await repo.history(route_id)
    municipalities = await directory.municipality_names(row["region"], needs=row["municipality"])
    schools = await directory.organisation_names(row["region"], row["municipality"], needs=row["organisation"])
    doc = build_document(
        route_view(row, principal),
        events,
        municipality_name=municipalities.get(row["municipality"]),
        organisation_name=schools.get(row["organisation"]),
    )
    return await asyncio.to_thread(render, doc, fmt)


async def history(session: AsyncSession, principal: Principal, route_id: uuid.UUID) -> list[dict[str, Any]]:
    repo = RouteRepository(session)
    await load_route(repo, principal, route_id, None)
    return await repo.history(route_id)


async def versions(session: AsyncSession, principal: Principal, route_id: uuid.UUID) -> list[dict[str, Any]]:
    repo = RouteRepository(session)
    await load_route(repo, principal, route_id, None)
    return await repo.versions(route_id)
