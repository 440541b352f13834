"""The resource map as a whole: neighbouring municipalities and coverage against demand (JSON / XLSX)."""

from __future__ import annotations

import io
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response

from kit.auth import REGIONAL_ROLES, CurrentPrincipal, Principal, Role
from kit.db import DbSession
from kit.errors import Forbidden, problem_responses
from kit.tabular import xlsx_cell
from services.resources.assignment import neighbour_map
from services.resources.clients import AssessmentClient, Unavailable
from services.resources.coverage import MentorSupply, ResourceSupply, coverage
from services.resources.repository import MentorRepository, NeighbourRepository, ResourceRepository
from services.resources.schemas import CoverageRequest, CoverageResponse, NeighboursRead, NeighboursWrite

router = APIRouter(prefix="/api/v1/resource-map", tags=["resource-map"], responses=problem_responses(401, 403, 422))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUS_RU = {
    "no-methodists": "нет методистов",
    "short": "не хватает",
    "covered": "покрыто",
    "no-demand": "нет потребности",
    "unknown-demand": "потребность неизвестна",
}


@router.get("/neighbours", response_model=NeighboursRead, summary="Neighbouring municipalities of your region")
async def list_neighbours(principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    pairs = await NeighbourRepository(session).pairs(principal.region)
    return {"region": principal.region or "", "pairs": [{"municipality": a, "neighbour": b} for a, b in pairs]}


@router.put(
    "/neighbours",
    response_model=NeighboursRead,
    summary="Replace the region's neighbour relation (pairs are symmetric; used for in-person mentoring)",
)
async def replace_neighbours(body: NeighboursWrite, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    if principal.role not in REGIONAL_ROLES or not principal.region:
        raise Forbidden("the neighbour relation is kept by the regional centre", code="role-forbidden")
    repo = NeighbourRepository(session)
    await repo.replace(principal.region, [(p.municipality, p.neighbour) for p in body.pairs])
    pairs = await repo.pairs(principal.region)
    return {"region": principal.region, "pairs": [{"municipality": a, "neighbour": b} for a, b in pairs]}


def ensure_analyst(principal: Principal) -> None:
    if principal.role not in (*REGIONAL_ROLES, Role.municipal_methodologist):
        raise Forbidden("coverage is for the regional centre and municipal services", code="role-forbidden")


async def _coverage(
    request: Request,
    principal: Principal,
    session: Any,
    demand: dict[tuple[str, str], int] | None,
    source: str,
    note: str | None,
    municipalities: list[str] | None,
) -> dict[str, Any]:
    region = principal.region
    client = AssessmentClient(request.app.state.gateway)
    muns = municipalities if municipalities is not None else await client.municipalities(region)
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
    return {"region": region, "demand_source": source, "demand_note": note, **out}


def _respond(result: dict[str, Any], fmt: str) -> Any:
    if fmt != "xlsx":
        return result
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Покрытие")
    ws.append(
        [
            "Муниципалитет",
            "Предмет",
            "Потребность (педагогов с дефицитами)",
            "Методистов",
            "Свободных мест",
            "Методистов в соседних",
            "Онлайн-методистов в регионе",
            "Ресурсов по предмету",
            "Межпредметных ресурсов",
            "Нехватка",
            "Статус",
        ]
    )
    for c in result["cells"]:
        ws.append(
            [
                xlsx_cell(c["municipality"]),
                xlsx_cell(c["subject"]),
                c["demand"],
                c["methodists"],
                c["free_slots"],
                c["neighbour_methodists"],
                c["online_methodists"],
                c["resources"],
                c["cross_subject_resources"],
                c["shortfall"],
                STATUS_RU.get(c["status"], c["status"]),
            ]
        )
    ws2 = wb.create_sheet("Без методистов")
    ws2.append(["Муниципалитет"])
    for m in result["municipalities_without_methodists"]:
        ws2.append([xlsx_cell(m)])
    ws3 = wb.create_sheet("Дефицит методистов")
    ws3.append(["Предмет", "Потребность", "Методистов", "Свободных мест", "Нехватка", "Муниципалитетов без методистов"])
    for s in result["subjects_short_of_methodists"]:
        ws3.append(
            [
                xlsx_cell(s["subject"]),
                s["demand"],
                s["methodists"],
                s["free_slots"],
                s["shortfall"],
                s["municipalities_without_methodists"],
            ]
        )
    ws4 = wb.create_sheet("Источник")
    ws4.append(["Регион", xlsx_cell(result["region"] or "")])
    ws4.append(["Источник потребности", result["demand_source"]])
    if result.get("demand_note"):
        ws4.append(["Примечание", xlsx_cell(result["demand_note"])])
    buf = io.BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(),
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
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    format_: Literal["json", "xlsx"] = Query(default="json", alias="format"),
) -> Any:
    ensure_analyst(principal)
    client = AssessmentClient(request.app.state.gateway)
    demand: dict[tuple[str, str], int] | None
    try:
        demand, source, note = await client.deficit_demand(principal.region), "assessment", None
    except Unavailable as e:
        demand, source, note = None, "unavailable", str(e)
    return _respond(await _coverage(request, principal, session, demand, source, note, None), format_)


@router.post(
    "/coverage",
    response_model=CoverageResponse,
    summary="Coverage per municipality and subject against the demand given in the body (JSON or XLSX)",
    responses=COVERAGE_RESPONSES,
)
async def compute_coverage(
    body: CoverageRequest,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    format_: Literal["json", "xlsx"] = Query(default="json", alias="format"),
) -> Any:
    ensure_analyst(principal)
    demand: dict[tuple[str, str], int] = {}
    for row in body.demand:
        k = (row.municipality, row.subject.value)
        demand[k] = demand.get(k, 0) + row.teachers
    result = await _coverage(request, principal, session, demand, "request", None, body.municipalities)
    return _respond(result, format_)
