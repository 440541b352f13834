"""KPI dashboard: the region's (or a municipality's) indicators, each computed from the owning service."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query

from kit.db import DbSession
from kit.errors import problem_responses
from services.audit.auth import KpiReader
from services.audit.deps import Settings, UpstreamClient
from services.audit.schemas import KpiDashboard
from services.audit.service import analytics as service

router = APIRouter(prefix="/api/v1/kpi", tags=["kpi"], responses=problem_responses(401, 403, 422))


@router.get(
    "",
    response_model=KpiDashboard,
    summary="KPIs for the region, a municipality or a school over a period",
    description="A school deputy gets their own school's KPIs (another school or municipality answers 404).",
    responses=problem_responses(404),
)
async def kpi_dashboard(
    principal: KpiReader,
    session: DbSession,
    upstream: UpstreamClient,
    settings: Settings,
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32, description="One school"),
    region: str | None = Query(default=None, max_length=32, description="Only for credentials without a region"),
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, Any]:
    return await service.kpi_dashboard(
        session,
        upstream,
        settings,
        principal,
        region=region,
        municipality=municipality,
        organisation=organisation,
        date_from=date_from,
        date_to=date_to,
    )
