"""KPIs and effectiveness of measures: figures computed from what the owning services report."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from kit.auth import Principal
from kit.client import UpstreamError
from kit.errors import UpstreamUnavailable
from services.audit.clients import (
    BadUpstreamAnswer,
    Reassessment,
    RouteOutcome,
    Upstream,
    UpstreamShapeError,
    fetch_municipality_codes,
    fetch_reassessments,
    fetch_route_stats,
    fetch_teacher_levels,
    iter_route_outcomes,
    upstream_reason,
)
from services.audit.config import AuditSettings
from services.audit.effectiveness import compute_effectiveness
from services.audit.engagement import count_engaged
from services.audit.kpi import Engagement, compute_kpis
from services.audit.repository import MonitoringRepository
from services.audit.scope import analytics_scope, kpi_scope


async def engagement(
    session: AsyncSession, up: Upstream, *, region: str | None, municipality: str | None, date_to: date | None
) -> Engagement:
    """Municipal services engaged (engagement.py) in the latest campaign up to the period's end."""
    repo = MonitoringRepository(session)
    campaign = await repo.latest_campaign(region, on_or_before=date_to)
    rows = await repo.scores(campaign["id"], municipality=municipality) if campaign else []
    codes = [municipality] if municipality is not None else await fetch_municipality_codes(up, region=region)
    return Engagement(
        municipalities=len(codes),
        engaged=count_engaged(rows, set(codes)),
        campaign_id=str(campaign["id"]) if campaign else None,
        campaign_code=campaign["code"] if campaign else None,
    )


async def mentored_teachers(
    up: Upstream, among: frozenset[str], *, region: str | None, municipality: str | None
) -> frozenset[str]:
    """Those of `among` (teacher ids) whose route has a mentor, from the outcomes of the scope's routes that
    have one (the routes service filters them: not every route of the region crosses the network)."""
    if not among:
        return frozenset()
    found = {
        o.teacher_id
        async for o in iter_route_outcomes(up, region=region, municipality=municipality, mentored=True)
        if o.mentor_id and o.teacher_id in among
    }
    return frozenset(found)


async def kpi_dashboard(
    session: AsyncSession,
    up: Upstream,
    settings: AuditSettings,
    principal: Principal,
    *,
    region: str | None,
    municipality: str | None,
    date_from: date | None,
    date_to: date | None,
    organisation: str | None = None,
) -> dict[str, Any]:
    """The KPIs of the scope (a school deputy's: their school); a KPI whose source is down is marked
    unavailable, the others still answer."""
    region, municipality, organisation = kpi_scope(principal, region, municipality, organisation, date_from, date_to)
    where = {"region": region, "municipality": municipality, "organisation": organisation}
    levels_r, routes_r = await asyncio.gather(
        fetch_teacher_levels(up, **where, date_from=date_from, date_to=date_to),
        fetch_route_stats(up, **where, date_from=date_from, date_to=date_to),
        return_exceptions=True,
    )
    why: dict[str, str] = {}
    if isinstance(levels_r, BaseException):
        why["assessment"] = upstream_reason("assessment", levels_r)
    if isinstance(routes_r, BaseException):
        why["routes"] = upstream_reason("routes", routes_r)
    mentored: frozenset[str] | None = None
    if not isinstance(levels_r, BaseException):
        try:
            mentored = await mentored_teachers(up, levels_r.young_teacher_ids, region=region, municipality=municipality)
        except (UpstreamUnavailable, UpstreamError, UpstreamShapeError) as e:
            why["mentors"] = upstream_reason("routes", e)
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
        basic_target=settings.kpi_basic_target_percent,
        unavailable=why,
        mentored_young=mentored,
    )
    return {
        "scope": {**where, "date_from": date_from, "date_to": date_to},
        "kpis": kpis,
        "monitoring_campaign": engaged.campaign_code if engaged else None,
    }


def _raise_for(service: str, result: BaseException) -> None:
    """503 when the service is down, 502 when it answered wrongly; anything else as it is."""
    down = isinstance(result, UpstreamUnavailable) or (
        isinstance(result, UpstreamError) and result.status in (502, 503, 504)
    )
    if down:
        raise UpstreamUnavailable(upstream_reason(service, result), code="upstream-unavailable")
    if isinstance(result, UpstreamShapeError | UpstreamError):
        raise BadUpstreamAnswer(upstream_reason(service, result))
    raise result


async def effectiveness(
    up: Upstream,
    settings: AuditSettings,
    principal: Principal,
    *,
    region: str | None,
    municipality: str | None,
    date_from: date | None,
    date_to: date | None,
) -> dict[str, Any]:
    """Deficits closed and level movement after routes, against teachers without a completed route."""
    region, municipality = analytics_scope(principal, region, municipality, date_from, date_to)

    async def outcomes() -> list[RouteOutcome]:
        return [o async for o in iter_route_outcomes(up, region=region, municipality=municipality)]

    async def reassessed() -> list[Reassessment]:
        return await fetch_reassessments(
            up, region=region, municipality=municipality, date_from=date_from, date_to=date_to
        )

    routes, pairs = await asyncio.gather(outcomes(), reassessed(), return_exceptions=True)
    for service, result in (("routes", routes), ("assessment", pairs)):
        if isinstance(result, BaseException):
            _raise_for(service, result)
    assert isinstance(routes, list) and isinstance(pairs, list)
    figures = await run_in_threadpool(compute_effectiveness, routes, pairs, min_group=settings.effectiveness_min_group)
    return {
        "scope": {"region": region, "municipality": municipality, "date_from": date_from, "date_to": date_to},
        **figures,
    }
