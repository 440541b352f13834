"""The resource map as a whole: neighbouring municipalities and coverage against demand (JSON / XLSX)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from services.resources.auth import CoverageAnalyst, NeighbourKeeper
from services.resources.coverage_workbook import XLSX, coverage_workbook
from services.resources.deps import Assessment
from services.resources.schemas import CoverageRequest, CoverageResponse, NeighboursRead, NeighboursWrite
from services.resources.service import coverage as service

router = APIRouter(prefix="/api/v1/resource-map", tags=["resource-map"], responses=problem_responses(401, 403, 422))


@router.get("/neighbours", response_model=NeighboursRead, summary="Neighbouring municipalities of your region")
async def list_neighbours(principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    return await service.list_neighbours(session, principal)


@router.put(
    "/neighbours",
    response_model=NeighboursRead,
    summary="Replace the region's neighbour relation (pairs are symmetric; used for in-person mentoring)",
)
async def replace_neighbours(body: NeighboursWrite, principal: NeighbourKeeper, session: DbSession) -> dict[str, Any]:
    return await service.replace_neighbours(session, principal, body)


def _respond(result: dict[str, Any], fmt: str) -> Any:
    if fmt != "xlsx":
        return result
    return Response(
        coverage_workbook(result),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="resource-coverage.xlsx"'},
    )


COVERAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, XLSX: {"schema": {"type": "string", "format": "binary"}}}},
}


@router.get(
    "/coverage",
    response_model=CoverageResponse,
    summary="Coverage per municipality and subject with demand from the assessment service (JSON or XLSX)",
    description=(
        "Demand (teachers with deficits per municipality and subject) is read from the assessment service "
        "(GET /api/v1/assessment/analytics/deficit-demand). When it cannot be read, demand_source is "
        "`unavailable`, demand is null and the supply side (municipalities without methodists) is still "
        "shown; POST demand rows to compute against a given demand."
    ),
    responses=COVERAGE_RESPONSES,
)
async def get_coverage(
    principal: CoverageAnalyst,
    session: DbSession,
    assessment: Assessment,
    format_: Literal["json", "xlsx"] = Query(default="json", alias="format"),
) -> Any:
    return _respond(await service.coverage_from_assessment(session, principal, assessment), format_)


@router.post(
    "/coverage",
    response_model=CoverageResponse,
    summary="Coverage per municipality and subject against the demand given in the body (JSON or XLSX)",
    responses=COVERAGE_RESPONSES,
)
async def compute_coverage(
    body: CoverageRequest,
    principal: CoverageAnalyst,
    session: DbSession,
    assessment: Assessment,
    format_: Literal["json", "xlsx"] = Query(default="json", alias="format"),
) -> Any:
    return _respond(await service.coverage_for_demand(session, principal, assessment, body), format_)
