"""Municipalities and organisations: the small directory the registry refers to."""

from __future__ import annotations

from fastapi import APIRouter, Query

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from services.assessment.auth import DirectoryEditor
from services.assessment.repositories.directory import DirectoryRepository
from services.assessment.schemas import MunicipalityRead, MunicipalityWrite, OrganisationRead, OrganisationWrite
from services.assessment.service import directory as service

router = APIRouter(prefix="/api/v1", tags=["directory"], responses=problem_responses(401, 403, 422))


@router.get("/municipalities", response_model=list[MunicipalityRead], summary="List municipalities of the region")
async def list_municipalities(principal: CurrentPrincipal, session: DbSession) -> list[dict[str, object]]:
    return await DirectoryRepository(session).list_municipalities(principal.region)


@router.put(
    "/municipalities",
    response_model=list[MunicipalityRead],
    summary="Create or update municipalities by code",
    description="Codes are unique across regions: a code another region uses is 409 and nothing is stored.",
    responses=problem_responses(409),
)
async def upsert_municipalities(
    body: list[MunicipalityWrite], principal: DirectoryEditor, session: DbSession
) -> list[dict[str, object]]:
    return await service.upsert_municipalities(session, principal, body)


@router.get(
    "/organisations",
    response_model=list[OrganisationRead],
    summary="List organisations (schools), optionally of one municipality",
)
async def list_organisations(
    principal: CurrentPrincipal,
    session: DbSession,
    municipality: str | None = Query(default=None, max_length=32),
) -> list[dict[str, object]]:
    return await service.list_organisations(session, principal, municipality)


@router.put(
    "/organisations",
    response_model=list[OrganisationRead],
    summary="Create or update organisations by code",
    description="Codes are unique across regions: a code another region uses is 409 and nothing is stored.",
    responses=problem_responses(404, 409, 422),
)
async def upsert_organisations(
    body: list[OrganisationWrite], principal: DirectoryEditor, session: DbSession
) -> list[dict[str, object]]:
    return await service.upsert_organisations(session, principal, body)
