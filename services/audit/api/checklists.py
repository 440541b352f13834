"""Checklist of municipal documents: conceptual documents and the twelve directions, with regional summaries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Path, Query, Response

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from kit.pagination import MAX_LIMIT
from kit.versioning import etag
from services.audit.auth import ChecklistEditor, ChecklistReader
from services.audit.deps import Municipalities
from services.audit.schemas import (
    ChecklistPage,
    ChecklistRead,
    ChecklistSummary,
    ChecklistVocabulary,
    ChecklistWrite,
)
from services.audit.service import checklists as service

router = APIRouter(prefix="/api/v1/checklists", tags=["checklists"], responses=problem_responses(401, 403, 422))

MunicipalityCode = Path(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")


@router.get("/directions", response_model=ChecklistVocabulary, summary="The twelve directions, elements, doc types")
async def checklist_vocabulary(principal: CurrentPrincipal) -> dict[str, Any]:
    return service.vocabulary()


@router.get("/summary", response_model=ChecklistSummary, summary="Which directions are weakest across the region")
async def checklist_summary(principal: ChecklistReader, session: DbSession) -> dict[str, Any]:
    return await service.summary(session, principal)


@router.get("", response_model=ChecklistPage, summary="Checklists in your scope, by municipality code")
async def list_checklists(
    principal: ChecklistReader,
    session: DbSession,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    return await service.list_checklists(session, principal, cursor, limit)


@router.get(
    "/municipalities/{municipality}",
    response_model=ChecklistRead,
    summary="A municipality's checklist",
    responses=problem_responses(404),
)
async def get_checklist(
    principal: ChecklistReader, session: DbSession, response: Response, municipality: str = MunicipalityCode
) -> dict[str, Any]:
    checklist = await service.get_checklist(session, principal, municipality)
    response.headers["ETag"] = etag(checklist["version"])
    return checklist


@router.put(
    "/municipalities/{municipality}",
    response_model=ChecklistRead,
    summary="Write a municipality's checklist (If-Match required once it exists; 412 when stale)",
    description="The municipality must be in the region's directory (`GET /api/v1/municipalities`); "
    "an unknown code is 404 `unknown-municipality`. The first write creates the checklist without If-Match; "
    "every later write sends the ETag it read (428 without).",
    responses=problem_responses(404, 412, 428, 503),
)
async def put_checklist(
    body: ChecklistWrite,
    principal: ChecklistEditor,
    session: DbSession,
    municipalities: Municipalities,
    response: Response,
    municipality: str = MunicipalityCode,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    checklist = await service.put_checklist(session, municipalities, principal, municipality, body, if_match)
    response.headers["ETag"] = etag(checklist["version"])
    return checklist
