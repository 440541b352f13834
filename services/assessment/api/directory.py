"""Municipalities and organisations: the small directory the registry refers to."""

from __future__ import annotations

from fastapi import APIRouter, Query

from kit.auth import CurrentPrincipal, Principal, Role, require_roles
from kit.db import DbSession
from kit.errors import Forbidden, NotFound, problem_responses
from services.assessment.repository import DirectoryRepository
from services.assessment.schemas import MunicipalityRead, MunicipalityWrite, OrganisationRead, OrganisationWrite

router = APIRouter(prefix="/api/v1", tags=["directory"], responses=problem_responses(401, 403, 422))

DirectoryEditor = require_roles(Role.regional_specialist, Role.admin, Role.service)


@router.get("/municipalities", response_model=list[MunicipalityRead], summary="List municipalities of the region")
async def list_municipalities(principal: CurrentPrincipal, session: DbSession) -> list[dict[str, object]]:
    return await DirectoryRepository(session).list_municipalities(principal.region)


@router.put(
    "/municipalities",
    response_model=list[MunicipalityRead],
    summary="Create or update municipalities by code",
    dependencies=[DirectoryEditor],
)
async def upsert_municipalities(
    body: list[MunicipalityWrite], principal: CurrentPrincipal, session: DbSession
) -> list[dict[str, object]]:
    if principal.region and any(m.region != principal.region for m in body):
        raise Forbidden("municipalities outside your region", code="out-of-scope")
    repo = DirectoryRepository(session)
    if body:
        await repo.upsert_municipalities([m.model_dump() for m in body])
    return [m.model_dump() for m in body]


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
    own_mun, own_org = _directory_scope(principal)
    if own_mun and municipality and municipality != own_mun:
        return []
    return await DirectoryRepository(session).list_organisations(
        region=principal.region, municipality=municipality or own_mun, organisation=own_org
    )


@router.put(
    "/organisations",
    response_model=list[OrganisationRead],
    summary="Create or update organisations by code",
    dependencies=[DirectoryEditor],
    responses=problem_responses(404, 422),
)
async def upsert_organisations(
    body: list[OrganisationWrite], principal: CurrentPrincipal, session: DbSession
) -> list[dict[str, object]]:
    repo = DirectoryRepository(session)
    for code in {o.municipality for o in body}:
        m = await repo.get_municipality(code)
        if m is None or (principal.region and m["region"] != principal.region):
            raise NotFound("municipality not found", code="municipality-not-found")
    if body:
        await repo.upsert_organisations(
            [{"code": o.code, "name": o.name, "municipality_code": o.municipality} for o in body]
        )
    return [o.model_dump() for o in body]


def _directory_scope(principal: Principal) -> tuple[str | None, str | None]:
    """Municipality and organisation a non-regional caller is limited to."""
    if principal.is_regional:
        return None, None
    if principal.role == Role.municipal_methodologist:
        return principal.municipality or "-", None
    if principal.role in (Role.school_admin, Role.teacher):
        return None, principal.organisation or "-"
    return "-", "-"
