"""KPI dashboard: the region's (or a municipality's) indicators, each computed from the owning service."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request

from kit.auth import CurrentPrincipal, Principal
from kit.client import UpstreamError
from kit.db import DbSession
from kit.errors import NotFound, UpstreamUnavailable, ValidationFailed, problem_responses
from services.audit.api.common import ANALYSTS, ensure_role, own_municipality, settings_of, upstream_of, upstream_reason
from services.audit.clients import (
    Upstream,
    UpstreamShapeError,
    fetch_municipality_codes,
    fetch_route_stats,
    fetch_teacher_levels,
)
from services.audit.kpi import Engagement, compute_kpis
from services.audit.monitoring import NOT_ENGAGED_BELOW
from services.audit.repository import MonitoringRepository
from services.audit.schemas import KpiDashboard

router = APIRouter(prefix="/api/v1/kpi", tags=["kpi"], responses=problem_responses(401, 403, 422))


def analytics_scope(
    principal: Principal, region: str | None, municipality: str | None, date_from: date | None, date_to: date | None
) -> tuple[str | None, str | None]:
    """(region, municipality) the caller may ask about; a municipal methodologist is held to their own."""
    ensure_role(principal, ANALYSTS, "read analytics")
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed("date_from is after date_to", code="invalid-period")
    own = own_municipality(principal)
    if own is not None:
        if municipality and municipality != own:
            raise NotFound("municipality not found", code="municipality-not-found")
        municipality = own
    if principal.region:
        if region and region != principal.region:
            raise NotFound("region not found", code="region-not-found")
        region = principal.region
    return region, municipality


async def engagement(
    session: Any, up: Upstream, *, region: str | None, municipality: str | None, date_to: date | None
) -> Engagement:
    """Municipal services scoring 30% or more in the latest campaign up to the period's end."""
    campaign = await MonitoringRepository(session).latest_campaign(region, on_or_before=date_to)
    rows = await MonitoringRepository(session).scores(campaign["id"], municipality=municipality) if campaign else []
    if municipality is not None:
        codes = [municipality]
    else:
        codes = await fetch_municipality_codes(up, region=region)
    known = set(codes)
    engaged = sum(1 for r in rows if r.municipality in known and r.total >= NOT_ENGAGED_BELOW)
    return Engagement(
        municipalities=len(codes),
        engaged=engaged,
        campaign_id=str(campaign["id"]) if campaign else None,
        campaign_code=campaign["code"] if campaign else None,
    )


@router.get(
    "",
    response_model=KpiDashboard,
    summary="KPIs for the region or a municipality over a period",
    responses=problem_responses(404),
)
async def kpi_dashboard(
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    municipality: str | None = Query(default=None, max_length=32),
    region: str | None = Query(default=None, max_length=32, description="Only for credentials without a region"),
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, Any]:
    region, municipality = analytics_scope(principal, region, municipality, date_from, date_to)
    up = upstream_of(request)
    levels_r, routes_r = await asyncio.gather(
        fetch_teacher_levels(up, region=region, municipality=municipality, date_from=date_from, date_to=date_to),
        fetch_route_stats(up, region=region, municipality=municipality, date_from=date_from, date_to=date_to),
        return_exceptions=True,
    )
    why: dict[str, str] = {}
    if isinstance(levels_r, BaseException):
        why["assessment"] = upstream_reason("assessment", levels_r)
    if isinstance(routes_r, BaseException):
        why["routes"] = upstream_reason("routes", routes_r)
    engaged: Engagement | None
    try:
        engaged = await engagement(session, up, region=region, municipality=municipality, date_to=date_to)
    except (UpstreamUnavailable, UpstreamError, UpstreamShapeError) as e:
        engaged = None
        why["monitoring"] = upstream_reason("assessment", e)
    kpis = compute_kpis(
        None if isinstance(levels_r, BaseException) else levels_r,
        None if isinstance(routes_r, BaseException) else routes_r,
        engaged,
        basic_target=settings_of(request).kpi_basic_target_percent,
        unavailable=why,
    )
    return {
        "scope": {"region": region, "municipality": municipality, "date_from": date_from, "date_to": date_to},
        "kpis": kpis,
        "monitoring_campaign": engaged.campaign_code if engaged else None,
    }
