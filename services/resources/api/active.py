"""The regional methodological active: members and candidates, their history, candidates from an ОМК campaign,
inclusion by an order, removal with a reason, import of existing lists."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from kit.pagination import MAX_LIMIT
from kit.versioning import etag
from services.resources.active_import import ACTIVE_COLUMNS
from services.resources.active_schemas import (
    CandidatesResult,
    InclusionCreate,
    InclusionResult,
    MemberEvent,
    MemberPage,
    MemberRead,
    RemovalCreate,
)
from services.resources.active_vocab import ActiveStatus, BasisKind
from services.resources.api import active_work
from services.resources.api.import_media import IMPORT_MEDIA
from services.resources.auth import ActiveKeeper
from services.resources.deps import Registry, Settings
from services.resources.schemas import ImportResult
from services.resources.service import active as service
from services.resources.service import active_import
from services.resources.service.imports import ImportRequest
from services.resources.vocab import Subject

router = APIRouter(prefix="/api/v1/active", tags=["active"], responses=problem_responses(401, 403, 422))


@router.get(
    "/members",
    response_model=MemberPage,
    summary="List members and candidates of the methodological active in your scope (keyset pages)",
    description="The region for regional roles, the municipality for its methodologist, the school for its "
    "deputy head, a teacher's own record for a teacher.",
)
async def list_members(
    principal: CurrentPrincipal,
    session: DbSession,
    status_: ActiveStatus | None = Query(default=None, alias="status"),
    municipality: str | None = Query(default=None, max_length=32),
    subject: Subject | None = None,
    basis: BasisKind | None = None,
    campaign: str | None = Query(default=None, max_length=64, description="The basis campaign (an ОМК campaign id)"),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    filters = {
        "status": status_,
        "municipality": municipality,
        "subject": subject,
        "basis": basis,
        "campaign": campaign,
    }
    return await service.list_members(session, principal, filters, cursor=cursor, limit=limit)


@router.get(
    "/members/{member_id}",
    response_model=MemberRead,
    summary="Read a member or candidate (status, basis, order, criteria)",
    responses=problem_responses(404),
)
async def get_member(
    member_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.get_member(session, principal, member_id)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.get(
    "/members/{member_id}/history",
    response_model=list[MemberEvent],
    summary="Status history of a member: from, to, when, by which order or for which reason",
    responses=problem_responses(404),
)
async def list_member_history(
    member_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> list[dict[str, Any]]:
    return await service.member_history(session, principal, member_id)


@router.post(
    "/candidates",
    response_model=CandidatesResult,
    summary="Make candidates of an ОМК campaign's participants by the region's entry rule, with their criteria",
    description="Reads the campaign, its results and the participants' registry records from the assessment "
    "service; those the rule admits (by default: elevated or high level) become candidates, each with the entry "
    "criteria that hold and that do not, in Russian. Members stay members; a repeat recomputes.",
    responses=problem_responses(404, 503),
)
async def compute_candidates(
    principal: ActiveKeeper,
    session: DbSession,
    registry: Registry,
    campaign_id: uuid.UUID,
    policy: Literal["threshold", "recommendations"] | None = Query(
        default=None, description="threshold (default): the level rule; recommendations: every participant"
    ),
) -> dict[str, Any]:
    return await service.compute_candidates(session, principal, registry, campaign_id, policy)


@router.post(
    "/orders",
    response_model=InclusionResult,
    summary="Include a batch of candidates into the active by one order (number, date); all or none",
    responses=problem_responses(409, 412),
)
async def include_by_order(principal: ActiveKeeper, session: DbSession, body: InclusionCreate) -> dict[str, Any]:
    return await service.include_by_order(session, principal, body)


@router.post(
    "/members/{member_id}/remove",
    response_model=MemberRead,
    summary="Remove a member from the active with a reason (If-Match required); their mentoring stops",
    responses=problem_responses(404, 409, 412, 428),
)
async def remove_member(
    member_id: uuid.UUID,
    body: RemovalCreate,
    principal: ActiveKeeper,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    row = await service.remove_member(session, principal, member_id, body, if_match)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.post(
    "/import",
    response_model=ImportResult,
    summary="Import existing lists of the active from CSV, XLSX or JSON (Idempotency-Key required)",
    description=(
        "Columns: "
        + ", ".join(ACTIVE_COLUMNS)
        + " (Russian headers accepted). A teacher is named by the external id, or by the full name with the "
        "municipality code when the registry has exactly one such teacher there. `mode=all` (default) stores "
        "nothing when any row is bad; `mode=partial` stores the good rows. Every bad row is named."
    ),
    openapi_extra={"requestBody": {"required": True, "content": IMPORT_MEDIA}},
    responses=problem_responses(400, 409, 413, 415, 503),
)
async def import_members(
    request: Request,
    principal: ActiveKeeper,
    session: DbSession,
    settings: Settings,
    registry: Registry,
    mode: Literal["all", "partial"] = Query(default="all"),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    upload = ImportRequest(await request.body(), request.headers.get("content-type"), mode, idempotency_key)
    return await active_import.import_members(session, principal, settings, registry, upload)


# The summary for the region, expert work and training (issue 15, points 5-7) under the same prefix and tag.
router.include_router(active_work.router)
