"""Scoped analytics of results: level distributions, year-over-year dynamics, top deficits, demand, the KPI."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.assessment.repositories.analytics import AnalyticsRepository
from services.assessment.repositories.frameworks import FrameworkRepository
from services.assessment.scoring import (
    KPI_FROM_GROUP,
    KPI_TARGET_PERCENT,
    LEVEL_GROUP,
    Level,
    percent_shares,
    trend,
    young_born_after,
)


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


async def level_distribution(
    session: AsyncSession, principal: Principal, group_by: str, filters: dict[str, Any]
) -> dict[str, Any]:
    rows = await AnalyticsRepository(session).level_counts(principal, group_by, **filters)
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


def _share_points(years: list[int], count_of: Any, percent_of: Any) -> list[Any]:
    """One point per year with its count, percent, delta against the previous year and trend marker."""
    points, prev = [], None
    for y in years:
        pct = percent_of(y)
        points.append(
            {
                "year": y,
                "count": count_of(y),
                "percent": pct,
                "delta": None if prev is None else round(pct - prev, 1),
                "marker": trend(prev, pct),
            }
        )
        prev = pct
    return points


def subject_dynamics(subject: str, counts: dict[int, dict[int, int]]) -> dict[str, Any]:
    """The dynamics of one subject from teacher counts per year and group."""
    years = sorted(counts)
    shares = {y: percent_shares([counts[y].get(LEVEL_GROUP[lv], 0) for lv in Level]) for y in years}
    groups = []
    for k, lv in enumerate(Level):
        g = LEVEL_GROUP[lv]
        points = _share_points(years, lambda y, g=g: counts[y].get(g, 0), lambda y, k=k: shares[y][k])
        groups.append({"group": g, "level": lv, "years": points})

    def basic_count(y: int) -> int:
        return sum(n for g, n in counts[y].items() if g >= KPI_FROM_GROUP)

    def basic_percent(y: int) -> float:
        n = sum(counts[y].values())
        return round(basic_count(y) * 100 / n, 1) if n else 0.0

    return {
        "subject": subject,
        "assessed_by_year": {str(y): sum(counts[y].values()) for y in years},
        "groups": groups,
        "basic_or_higher": _share_points(years, basic_count, basic_percent),
    }


async def level_dynamics(session: AsyncSession, principal: Principal, filters: dict[str, Any]) -> dict[str, Any]:
    rows = await AnalyticsRepository(session).yearly_groups(principal, **filters)
    counts: dict[str, dict[int, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        counts[r["subject"]][int(r["year"])][int(r["grp"])] = int(r["n"])
    return {"subjects": [subject_dynamics(subj, counts[subj]) for subj in sorted(counts)]}


async def top_deficits(
    session: AsyncSession, principal: Principal, filters: dict[str, Any], limit: int
) -> dict[str, Any]:
    rows, assessed, fw_ids = await AnalyticsRepository(session).deficit_counts(principal, **filters)
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


async def deficit_demand(session: AsyncSession, principal: Principal, filters: dict[str, Any]) -> dict[str, Any]:
    rows = await AnalyticsRepository(session).deficit_demand(principal, **filters)
    return {"items": rows}


async def assessment_kpi(
    session: AsyncSession, principal: Principal, filters: dict[str, Any], *, young_ids: bool = False
) -> dict[str, Any]:
    """The KPI of levels, the teachers registered and the young ones (by year of birth; their ids when asked, for
    the KPI "young teachers with a mentor" that the audit service joins with the routes' mentors)."""
    repo = AnalyticsRepository(session)
    assessed, ok = await repo.kpi(principal, **filters)
    registered = await repo.registered(
        principal,
        subject=filters["subject"],
        municipality=filters["municipality"],
        organisation=filters["organisation"],
    )
    share = round(ok * 100 / assessed, 1) if assessed else 0.0
    known, young = await repo.young(
        principal,
        young_born_after(date.today().year),
        subject=filters["subject"],
        municipality=filters["municipality"],
        organisation=filters["organisation"],
    )
    return {
        "young_teachers": len(young),
        "birth_year_known": known,
        "young_teacher_ids": young if young_ids else None,
        "assessed": assessed,
        "basic_or_higher": ok,
        "share_basic_or_higher": share,
        "target": KPI_TARGET_PERCENT,
        "meets_target": assessed > 0 and share >= KPI_TARGET_PERCENT,
        "registered_teachers": registered,
        "share_assessed": round(assessed * 100 / registered, 1) if registered else 0.0,
    }
