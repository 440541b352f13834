"""Effectiveness of measures: how deficits closed and levels moved for teachers re-assessed after a route."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from kit.auth import CurrentPrincipal
from kit.client import UpstreamError
from kit.errors import UpstreamUnavailable, problem_responses
from services.audit.api.common import BadUpstreamAnswer, settings_of, upstream_of, upstream_reason
from services.audit.api.kpi import analytics_scope
from services.audit.clients import (
    Reassessment,
    RouteOutcome,
    UpstreamShapeError,
    fetch_reassessments,
    iter_route_outcomes,
)
from services.audit.effectiveness import compute_effectiveness
from services.audit.schemas import EffectivenessRead

router = APIRouter(prefix="/api/v1/effectiveness", tags=["effectiveness"], responses=problem_responses(401, 403, 422))


@router.get(
    "",
    response_model=EffectivenessRead,
    summary="Deficits closed and level movement after routes, against teachers without a completed route",
    responses=problem_responses(404, 502, 503),
)
async def effectiveness_of_measures(
    principal: CurrentPrincipal,
    request: Request,
    municipality: str | None = Query(default=None, max_length=32),
    region: str | None = Query(default=None, max_length=32, description="Only for credentials without a region"),
    date_from: date | None = Query(default=None, description="Re-assessments on or after"),
    date_to: date | None = Query(default=None, description="Re-assessments on or before"),
) -> dict[str, Any]:
    region, municipality = analytics_scope(principal, region, municipality, date_from, date_to)
    up = upstream_of(request)

    async def outcomes() -> list[RouteOutcome]:
        return [o async for o in iter_route_outcomes(up, region=region, municipality=municipality)]

    async def reassessed() -> list[Reassessment]:
        return await fetch_reassessments(
            up, region=region, municipality=municipality, date_from=date_from, date_to=date_to
        )

    got = await asyncio.gather(outcomes(), reassessed(), return_exceptions=True)
    for service, result in zip(("routes", "assessment"), got, strict=True):
        if not isinstance(result, BaseException):
            continue
        down = isinstance(result, UpstreamUnavailable) or (
            isinstance(result, UpstreamError) and result.status in (502, 503, 504)
        )
        if down:
            raise UpstreamUnavailable(upstream_reason(service, result), code="upstream-unavailable")
        if isinstance(result, UpstreamShapeError | UpstreamError):
            raise BadUpstreamAnswer(upstream_reason(service, result))
        raise result
    routes, pairs = got
    assert isinstance(routes, list) and isinstance(pairs, list)
    min_group = settings_of(request).effectiveness_min_group
    figures = await run_in_threadpool(compute_effectiveness, routes, pairs, min_group=min_group)
    return {
        "scope": {"region": region, "municipality": municipality, "date_from": date_from, "date_to": date_to},
        **figures,
    }
