"""Scoped analytics of assessment results: level distributions, dynamics, top deficits, the KPI."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Query

from kit.db import DbSession
from kit.errors import problem_responses
from services.assessment.auth import Analyst
from services.assessment.result_schemas import DeficitDemand, Dynamics, Kpi, LevelDistribution, TopDeficits
from services.assessment.service import analytics as service
from services.assessment.vocab import Subject

router = APIRouter(
    prefix="/api/v1/assessment/analytics", tags=["analytics"], responses=problem_responses(401, 403, 422)
)

SCOPE_NOTE = (
    " Scoped: a municipal methodologist sees their municipality, a school deputy their school, "
    "regional roles the region; teachers get 403. Unless grouped by campaign, each teacher counts "
    "once per subject with their latest result among the filtered campaigns."
)


def _filters(
    campaign_id: uuid.UUID | None,
    subject: Subject | None,
    year: int | None,
    municipality: str | None,
    organisation: str | None,
) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "subject": subject.value if subject else None,
        "year": year,
        "municipality": municipality,
        "organisation": organisation,
    }


@router.get(
    "/levels",
    response_model=LevelDistribution,
    summary="Distribution of levels (counts and percents adding up to 100) per subject, municipality or campaign",
    description="Percents are rounded to 0.1 so that each row adds up to 100." + SCOPE_NOTE,
)
async def level_distribution(
    principal: Analyst,
    session: DbSession,
    group_by: Literal["subject", "municipality", "campaign"] = "subject",
    campaign_id: uuid.UUID | None = None,
    subject: Subject | None = None,
    year: int | None = Query(default=None, ge=2000, le=2100),
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
) -> dict[str, Any]:
    return await service.level_distribution(
        session, principal, group_by, _filters(campaign_id, subject, year, municipality, organisation)
    )


@router.get(
    "/dynamics",
    response_model=Dynamics,
    summary="Year-over-year dynamics per subject and group, with up / down / same markers",
    description="For each subject and year, each teacher's latest result of that year counts. "
    "`delta` is in percentage points against the previous year with data." + SCOPE_NOTE,
)
async def level_dynamics(
    principal: Analyst,
    session: DbSession,
    subject: Subject | None = None,
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
) -> dict[str, Any]:
    return await service.level_dynamics(session, principal, _filters(None, subject, None, municipality, organisation))


@router.get(
    "/deficits",
    response_model=TopDeficits,
    summary="Top deficits per subject",
    description="Competencies ranked by how many assessed teachers have them as a deficit; `percent` is "
    "the share of the subject's teachers with competency scores." + SCOPE_NOTE,
)
async def top_deficits(
    principal: Analyst,
    session: DbSession,
    campaign_id: uuid.UUID | None = None,
    subject: Subject | None = None,
    year: int | None = Query(default=None, ge=2000, le=2100),
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=5, ge=1, le=50),
) -> dict[str, Any]:
    filters = _filters(campaign_id, subject, year, municipality, organisation)
    return await service.top_deficits(session, principal, filters, limit)


@router.get(
    "/deficit-demand",
    response_model=DeficitDemand,
    summary="Demand for support: teachers with deficits per municipality and subject",
    description="What the resource map sets its methodists and resources against (coverage)." + SCOPE_NOTE,
)
async def deficit_demand(
    principal: Analyst,
    session: DbSession,
    campaign_id: uuid.UUID | None = None,
    subject: Subject | None = None,
    year: int | None = Query(default=None, ge=2000, le=2100),
    municipality: str | None = Query(default=None, max_length=32),
) -> dict[str, Any]:
    return await service.deficit_demand(session, principal, _filters(campaign_id, subject, year, municipality, None))


@router.get(
    "/kpi",
    response_model=Kpi,
    summary="Regional KPI: share of assessed teachers at basic level or higher (target 60%)",
    description="Each teacher counts once, with their latest result among the filtered campaigns." + SCOPE_NOTE,
)
async def assessment_kpi(
    principal: Analyst,
    session: DbSession,
    campaign_id: uuid.UUID | None = None,
    subject: Subject | None = None,
    year: int | None = Query(default=None, ge=2000, le=2100),
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
    young_ids: bool = Query(default=False, description="Also list the ids of the young teachers"),
) -> dict[str, Any]:
    filters = _filters(campaign_id, subject, year, municipality, organisation)
    return await service.assessment_kpi(session, principal, filters, young_ids=young_ids)
