"""Scoped analytics of assessment results: level distributions, dynamics, top deficits, the KPI."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any, Literal

from fastapi import APIRouter, Query

from kit.auth import CurrentPrincipal, Principal, Role
from kit.db import DbSession
from kit.errors import Forbidden, problem_responses
from services.assessment.repositories.analytics import AnalyticsRepository
from services.assessment.repositories.frameworks import FrameworkRepository
from services.assessment.result_schemas import DeficitDemand, Dynamics, Kpi, LevelDistribution, TopDeficits
from services.assessment.scoring import LEVEL_GROUP, Level, percent_shares, trend
from services.assessment.vocab import Subject

router = APIRouter(
    prefix="/api/v1/assessment/analytics", tags=["analytics"], responses=problem_responses(401, 403, 422)
)

KPI_TARGET = 60.0
SCOPE_NOTE = (
    " Scoped: a municipal methodologist sees their municipality, a school deputy their school, "
    "regional roles the region; teachers get 403. Unless grouped by campaign, each teacher counts "
    "once per subject with their latest result among the filtered campaigns."
)


def ensure_analyst(principal: Principal) -> None:
    if principal.role == Role.teacher:
        raise Forbidden("analytics are for schools, municipalities and the region", code="role-forbidden")


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


def _row(key: str, label: str, counts: dict[str, int]) -> dict[str, Any]:
    ordered = [counts.get(lv.value, 0) for lv in Level]
    shares = percent_shares(ordered)
    return {
        "key": key,
        "label": label,
        "total": sum(ordered),
        "levels": [
            {"level": lv, "group": LEVEL_GROUP[lv], "count": c, "percent": p}
            for lv, c, p in zip(Level, ordered, shares, strict=True)
        ],
    }


@router.get(
    "/levels",
    response_model=LevelDistribution,
    summary="Distribution of levels (counts and percents adding up to 100) per subject, municipality or campaign",
    description="Percents are rounded to 0.1 so that each row adds up to 100." + SCOPE_NOTE,
)
async def level_distribution(
    principal: CurrentPrincipal,
    session: DbSession,
    group_by: Literal["subject", "municipality", "campaign"] = "subject",
    campaign_id: uuid.UUID | None = None,
    subject: Subject | None = None,
    year: int | None = Query(default=None, ge=2000, le=2100),
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
) -> dict[str, Any]:
    ensure_analyst(principal)
    rows = await AnalyticsRepository(session).level_counts(
        principal, group_by, **_filters(campaign_id, subject, year, municipality, organisation)
    )
    by_key: dict[str, dict[str, int]] = defaultdict(dict)
    labels: dict[str, str] = {}
    overall: dict[str, int] = defaultdict(int)
    for r in rows:
        key = str(r["key"])
        by_key[key][r["level"]] = int(r["n"])
        labels[key] = str(r["label"])
        overall[r["level"]] += int(r["n"])
    return {
        "group_by": group_by,
        "rows": [_row(k, labels[k], by_key[k]) for k in sorted(by_key, key=lambda k: labels[k])],
        "overall": _row("all", "Всего", overall),
    }


@router.get(
    "/dynamics",
    response_model=Dynamics,
    summary="Year-over-year dynamics per subject and group, with up / down / same markers",
    description="For each subject and year, each teacher's latest result of that year counts. "
    "`delta` is in percentage points against the previous year with data." + SCOPE_NOTE,
)
async def level_dynamics(
    principal: CurrentPrincipal,
    session: DbSession,
    subject: Subject | None = None,
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
) -> dict[str, Any]:
    ensure_analyst(principal)
    rows = await AnalyticsRepository(session).yearly_groups(
        principal, **_filters(None, subject, None, municipality, organisation)
    )
    counts: dict[str, dict[int, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        counts[r["subject"]][int(r["year"])][int(r["grp"])] = int(r["n"])
    out = []
    for subj in sorted(counts):
        years = sorted(counts[subj])
        shares = {y: percent_shares([counts[subj][y].get(g, 0) for g in (1, 2, 3, 4)]) for y in years}
        groups = []
        for lv in Level:
            g = LEVEL_GROUP[lv]
            points, prev = [], None
            for y in years:
                pct = shares[y][g - 1]
                points.append(
                    {
                        "year": y,
                        "count": counts[subj][y].get(g, 0),
                        "percent": pct,
                        "delta": None if prev is None else round(pct - prev, 1),
                        "marker": trend(prev, pct),
                    }
                )
                prev = pct
            groups.append({"group": g, "level": lv, "years": points})
        basic, prev = [], None
        for y in years:
            n = sum(counts[subj][y].values())
            ok = n - counts[subj][y].get(1, 0)
            pct = round(ok * 100 / n, 1) if n else 0.0
            basic.append(
                {
                    "year": y,
                    "count": ok,
                    "percent": pct,
                    "delta": None if prev is None else round(pct - prev, 1),
                    "marker": trend(prev, pct),
                }
            )
            prev = pct
        out.append(
            {
                "subject": subj,
                "assessed_by_year": {str(y): sum(counts[subj][y].values()) for y in years},
                "groups": groups,
                "basic_or_higher": basic,
            }
        )
    return {"subjects": out}


@router.get(
    "/deficits",
    response_model=TopDeficits,
    summary="Top deficits per subject",
    description="Competencies ranked by how many assessed teachers have them as a deficit; `percent` is "
    "the share of the subject's teachers with competency scores." + SCOPE_NOTE,
)
async def top_deficits(
    principal: CurrentPrincipal,
    session: DbSession,
    campaign_id: uuid.UUID | None = None,
    subject: Subject | None = None,
    year: int | None = Query(default=None, ge=2000, le=2100),
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=5, ge=1, le=50),
) -> dict[str, Any]:
    ensure_analyst(principal)
    rows, assessed, fw_ids = await AnalyticsRepository(session).deficit_counts(
        principal, **_filters(campaign_id, subject, year, municipality, organisation)
    )
    fws = FrameworkRepository(session)
    names: dict[str, tuple[str, str]] = {}
    for fid in fw_ids:
        fw = await fws.scoring(fid)
        for code, comp in fw.competencies.items():
            names.setdefault(code, (comp.name, comp.area))
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        n_assessed = assessed.get(r["subject"], 0)
        name, area = names.get(r["code"], (r["code"], ""))
        per[r["subject"]].append(
            {
                "competency": r["code"],
                "name": name,
                "area": area,
                "count": int(r["n"]),
                "percent": round(int(r["n"]) * 100 / n_assessed, 1) if n_assessed else 0.0,
            }
        )
    return {
        "subjects": [
            {
                "subject": s,
                "assessed": assessed.get(s, 0),
                "top": sorted(per.get(s, []), key=lambda d: (-d["count"], d["competency"]))[:limit],
            }
            for s in sorted(set(assessed) | set(per))
        ]
    }


@router.get(
    "/deficit-demand",
    response_model=DeficitDemand,
    summary="Demand for support: teachers with deficits per municipality and subject",
    description="What the resource map sets its methodists and resources against (coverage)." + SCOPE_NOTE,
)
async def deficit_demand(
    principal: CurrentPrincipal,
    session: DbSession,
    campaign_id: uuid.UUID | None = None,
    subject: Subject | None = None,
    year: int | None = Query(default=None, ge=2000, le=2100),
    municipality: str | None = Query(default=None, max_length=32),
) -> dict[str, Any]:
    ensure_analyst(principal)
    rows = await AnalyticsRepository(session).deficit_demand(
        principal, **_filters(campaign_id, subject, year, municipality, None)
    )
    return {"items": rows}


@router.get(
    "/kpi",
    response_model=Kpi,
    summary="Regional KPI: share of assessed teachers at basic level or higher (target 60%)",
    description="Each teacher counts once, with their latest result among the filtered campaigns." + SCOPE_NOTE,
)
async def assessment_kpi(
    principal: CurrentPrincipal,
    session: DbSession,
    campaign_id: uuid.UUID | None = None,
    subject: Subject | None = None,
    year: int | None = Query(default=None, ge=2000, le=2100),
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
) -> dict[str, Any]:
    ensure_analyst(principal)
    repo = AnalyticsRepository(session)
    assessed, ok = await repo.kpi(principal, **_filters(campaign_id, subject, year, municipality, organisation))
    registered = await repo.registered(
        principal, subject=subject.value if subject else None, municipality=municipality, organisation=organisation
    )
    share = round(ok * 100 / assessed, 1) if assessed else 0.0
    return {
        "assessed": assessed,
        "basic_or_higher": ok,
        "share_basic_or_higher": share,
        "target": KPI_TARGET,
        "meets_target": assessed > 0 and share >= KPI_TARGET,
        "registered_teachers": registered,
        "share_assessed": round(assessed * 100 / registered, 1) if registered else 0.0,
    }
