"""Checklist of municipal documents: conceptual documents and the twelve directions, with regional summaries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from kit.auth import CurrentPrincipal, Principal, Role
from kit.db import DbSession
from kit.errors import NotFound, PreconditionFailed, problem_responses
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from kit.versioning import etag, parse_if_match
from services.audit.api.common import ANALYSTS, ensure_role, own_municipality, unknown_municipalities, writer_region
from services.audit.checklist import completeness, summarise
from services.audit.repository import ChecklistRepository
from services.audit.schemas import (
    ChecklistPage,
    ChecklistRead,
    ChecklistSummary,
    ChecklistVocabulary,
    ChecklistWrite,
)
from services.audit.vocab import (
    DIRECTION_LABELS_RU,
    DOCUMENT_TYPE_LABELS_RU,
    ELEMENT_LABELS_RU,
    ChecklistElement,
    Direction,
    DocumentType,
)

router = APIRouter(prefix="/api/v1/checklists", tags=["checklists"], responses=problem_responses(401, 403, 422))

EDITORS = frozenset({Role.municipal_methodologist, Role.regional_specialist, Role.admin})
MunicipalityCode = Path(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")


def _read(row: dict[str, Any]) -> dict[str, Any]:
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


def _visible(principal: Principal, municipality: str) -> bool:
    own = own_municipality(principal)
    return own is None or own == municipality


@router.get("/directions", response_model=ChecklistVocabulary, summary="The twelve directions, elements, doc types")
async def checklist_vocabulary(principal: CurrentPrincipal) -> dict[str, Any]:
    return {
        "directions": [{"code": d.value, "label": DIRECTION_LABELS_RU[d]} for d in Direction],
        "elements": [{"code": e.value, "label": ELEMENT_LABELS_RU[e]} for e in ChecklistElement],
        "document_types": [{"code": t.value, "label": DOCUMENT_TYPE_LABELS_RU[t]} for t in DocumentType],
    }


@router.get("/summary", response_model=ChecklistSummary, summary="Which directions are weakest across the region")
async def checklist_summary(principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    ensure_role(principal, ANALYSTS, "read checklists")
    rows = await ChecklistRepository(session).list_checklists(
        principal.region, municipality=own_municipality(principal), after=None, limit=None
    )
    return summarise(rows)


@router.get("", response_model=ChecklistPage, summary="Checklists in your scope, by municipality code")
async def list_checklists(
    principal: CurrentPrincipal,
    session: DbSession,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    ensure_role(principal, ANALYSTS, "read checklists")
    after = decode_cursor(cursor, 1)
    rows = await ChecklistRepository(session).list_checklists(
        principal.region,
        municipality=own_municipality(principal),
        after=str(after[0]) if after else None,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["municipality"]])
    return {"items": [_read(r) for r in rows], "next_cursor": next_cursor}


@router.get(
    "/municipalities/{municipality}",
    response_model=ChecklistRead,
    summary="A municipality's checklist",
    responses=problem_responses(404),
)
async def get_checklist(
    principal: CurrentPrincipal, session: DbSession, response: Response, municipality: str = MunicipalityCode
) -> dict[str, Any]:
    ensure_role(principal, ANALYSTS, "read checklists")
    row = (
        await ChecklistRepository(session).get(principal.region, municipality)
        if _visible(principal, municipality)
        else None
    )
    if row is None:
        raise NotFound("checklist not found", code="checklist-not-found")
    response.headers["ETag"] = etag(row["version"])
    return _read(row)


@router.put(
    "/municipalities/{municipality}",
    response_model=ChecklistRead,
    summary="Write a municipality's checklist (If-Match optional; 412 when stale)",
    description="The municipality must be in the region's directory (`GET /api/v1/municipalities`); "
    "an unknown code is 404 `unknown-municipality`.",
    responses=problem_responses(404, 412, 503),
)
async def put_checklist(
    body: ChecklistWrite,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    response: Response,
    municipality: str = MunicipalityCode,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    ensure_role(principal, EDITORS, "edit checklists")
    if not _visible(principal, municipality):
        raise NotFound("checklist not found", code="checklist-not-found")
    region = writer_region(principal)
    if await unknown_municipalities(request, region, [municipality]):
        raise NotFound("the region's directory has no municipality with this code", code="unknown-municipality")
    expected = parse_if_match(if_match)
    repo = ChecklistRepository(session)
    if expected is not None and await repo.get(region, municipality) is None:
        raise PreconditionFailed("the checklist does not exist yet", code="stale-version")
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
        expected,
    )
    if row is None:
        raise PreconditionFailed("the checklist changed since you read it", code="stale-version")
    response.headers["ETag"] = etag(row["version"])
    return _read(row)
