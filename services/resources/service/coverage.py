"""The resource map as a whole: neighbouring municipalities, and coverage against demand."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal, Role
from kit.client import UpstreamError
from kit.errors import AppError, Forbidden
from services.resources.clients import MUNICIPALITIES_PATH, AssessmentClient, Unavailable, listing_items
from services.resources.coverage import MentorSupply, ResourceSupply, coverage
from services.resources.reach import neighbour_map
from services.resources.repository import MentorRepository, NeighbourRepository, ResourceRepository
from services.resources.schemas import CoverageRequest, NeighboursWrite


async def list_neighbours(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    pairs = await NeighbourRepository(session).pairs(principal.region)
    return {"region": principal.region or "", "pairs": [{"municipality": a, "neighbour": b} for a, b in pairs]}


async def replace_neighbours(session: AsyncSession, principal: Principal, body: NeighboursWrite) -> dict[str, Any]:
    """Replace the region's relation (the role is checked by `auth.NeighbourKeeper`; a region is needed)."""
    if not principal.region:
        raise Forbidden("Соседство муниципалитетов ведёт региональный центр", code="role-forbidden")
    repo = NeighbourRepository(session)
    await repo.replace(principal.region, [(p.municipality, p.neighbour) for p in body.pairs])
    return await list_neighbours(session, principal)


async def coverage_from_assessment(
    session: AsyncSession, principal: Principal, assessment: AssessmentClient
) -> dict[str, Any]:
    """Coverage against the demand the assessment service reports (unknown demand when it cannot say)."""
    demand: dict[tuple[str, str], int] | None
    try:
        demand, source, note = await assessment.deficit_demand(principal.region), "assessment", None
    except Unavailable as e:
        demand, source, note = None, "unavailable", str(e)
    return await _coverage(session, principal, assessment, demand, source, note, None)


async def coverage_for_demand(
    session: AsyncSession, principal: Principal, assessment: AssessmentClient, body: CoverageRequest
) -> dict[str, Any]:
    """Coverage against the demand rows of the body (summed per municipality and subject)."""
    demand: dict[tuple[str, str], int] = {}
    for row in body.demand:
        k = (row.municipality, row.subject.value)
        demand[k] = demand.get(k, 0) + row.teachers
    return await _coverage(session, principal, assessment, demand, "request", None, body.municipalities)


async def _coverage(
    session: AsyncSession,
    principal: Principal,
    assessment: AssessmentClient,
    demand: dict[tuple[str, str], int] | None,
    source: str,
    note: str | None,
    municipalities: list[str] | None,
) -> dict[str, Any]:
    region = principal.region
    muns = municipalities if municipalities is not None else await assessment.municipalities(region)
    mentors = [
        MentorSupply(r["municipality"], frozenset(r["subjects"]), r["mode"], r["capacity"] - r["load"])
        for r in await MentorRepository(session).active(region)
    ]
    resources = [
        ResourceSupply(frozenset(r["subjects"]), frozenset(r["municipalities"]), r["mode"])
        for r in await ResourceRepository(session).coverage_counts(region)
    ]
    neighbours = neighbour_map(await NeighbourRepository(session).pairs(region))
    out = coverage(muns, demand, mentors, resources, neighbours)
    if principal.role == Role.municipal_methodologist:
        # A municipal service sees its own municipality's rows; the region-wide lists stay (no personal data).
        out["cells"] = [c for c in out["cells"] if c["municipality"] == principal.municipality]
    names = await _municipality_names(assessment)
    return {"region": region, "demand_source": source, "demand_note": note, "municipality_names": names, **out}


async def _municipality_names(assessment: AssessmentClient) -> dict[str, str]:
    """Municipality names by code for the workbook (none when the directory cannot be read: it says so)."""
    try:
        body = await assessment.gateway.json("GET", MUNICIPALITIES_PATH, retries=1)
        items = listing_items(body)
    except (UpstreamError, AppError, Unavailable):
        return {}
    return {str(i["code"]): str(i["name"]) for i in items if isinstance(i, dict) and i.get("code") and i.get("name")}
