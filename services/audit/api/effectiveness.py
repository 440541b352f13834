"""Effectiveness of measures: how deficits closed and levels moved for teachers re-assessed after a route."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query

from kit.errors import problem_responses
from services.audit.auth import Analyst
from services.audit.deps import Settings, UpstreamClient
from services.audit.schemas import EffectivenessRead
from services.audit.service import analytics as service

router = APIRouter(prefix="/api/v1/effectiveness", tags=["effectiveness"], responses=problem_responses(401, 403, 422))


@router.get(
    "",
    response_model=EffectivenessRead,
    summary="Deficits closed and level movement after routes, against teachers without a completed route",
    responses=problem_responses(404, 502, 503),
)
async def effectiveness_of_measures(
    principal: Analyst,
    upstream: UpstreamClient,
    settings: Settings,
    municipality: str | None = Query(default=None, max_length=32),
    region: str | None = Query(default=None, max_length=32, description="Only for credentials without a region"),
    date_from: date | None = Query(default=None, description="Re-assessments on or after"),
    date_to: date | None = Query(default=None, description="Re-assessments on or before"),
) -> dict[str, Any]:
    return await service.effectiveness(
        upstream,
        settings,
        principal,
        region=region,
        municipality=municipality,
        date_from=date_from,
        date_to=date_to,
    )
