"""The picture a region reports of its methodological active (issue 15 point 5): members by subject and by
municipality (every municipality of the directory, zeros included), the municipalities without members, growth
per subject over every year on record, the need (teachers in support groups 1-2 of the latest results against
the members there), the latest monitoring of the municipalities without members, training and expert work.

The directory, the assessment results and the monitoring are read through the gateway; one that cannot be read
makes only its part unavailable (said in Russian), never the whole summary.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.resources import active_summary as rules
from services.resources.active_vocab import DUTY_LABELS_RU, STATUS_LABELS_RU, ActiveStatus
from services.resources.active_work_repository import ActiveWorkRepository
from services.resources.clients import MonitoringPicture, SummarySources, Unavailable
from services.resources.service.active import today
from services.resources.service.regions import write_region

DIRECTORY_DOWN = "Справочник муниципалитетов сейчас недоступен: показаны только муниципалитеты, где есть члены актива"
ASSESSMENT_DOWN = "Результаты оценки сейчас недоступны: потребность не рассчитана"
NO_RESULTS = "В регионе нет результатов оценки: потребность не рассчитана"
MONITORING_DOWN = "Результаты мониторинга сейчас недоступны"
NO_MONITORING = "В регионе нет кампаний мониторинга муниципалитетов"
NO_MUNICIPALITIES = "Муниципалитеты без членов актива не известны: справочник муниципалитетов недоступен"


async def read_names(sources: SummarySources, region: str) -> tuple[dict[str, str], dict[str, Any]]:
    try:
        return await sources.municipalities(region), {"available": True, "note": None}
    except Unavailable:
        return {}, {"available": False, "note": DIRECTORY_DOWN}


async def need_part(
    sources: SummarySources, region: str, members: list[rules.Member], names: dict[str, str]
) -> dict[str, Any]:
    try:
        counts = await sources.group_counts(region)
    except Unavailable:
        return {"available": False, "note": ASSESSMENT_DOWN}
    note = None if counts else NO_RESULTS
    return {"available": True, "note": note, **rules.need(counts, members, names)}


def monitoring_rows(picture: MonitoringPicture, missing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in missing:
        score = picture.scores.get(m["municipality"])
        out.append(
            {
                **m,
                "total": score.total if score else None,
                "total_percent": score.total_percent if score else None,
                "band": score.band if score else None,
                "band_label": picture.band_labels.get(score.band) if score else None,
            }
        )
    return out


async def monitoring_part(sources: SummarySources, region: str, missing: list[dict[str, Any]] | None) -> dict[str, Any]:
    if missing is None:
        return {"available": False, "note": NO_MUNICIPALITIES}
    try:
        picture = await sources.monitoring(region)
    except Unavailable:
        return {"available": False, "note": MONITORING_DOWN}
    if picture is None:
        return {"available": True, "note": NO_MONITORING}
    return {"available": True, "campaign": picture.campaign.model_dump(), "items": monitoring_rows(picture, missing)}


async def training_part(repo: ActiveWorkRepository, region: str, year: int) -> dict[str, Any]:
    rows = {r["status"]: r for r in await repo.training_counts(region, year)}
    by_status = [
        {
            "status": s.value,
            "label": STATUS_LABELS_RU[s.value],
            "enrolled": int(rows.get(s.value, {}).get("enrolled", 0)),
            "completed": int(rows.get(s.value, {}).get("completed", 0)),
        }
        for s in (ActiveStatus.member, ActiveStatus.candidate, ActiveStatus.left)
    ]
    return {
        "enrolled": sum(r["enrolled"] for r in by_status),
        "completed": sum(r["completed"] for r in by_status),
        "by_status": by_status,
    }


async def summary(
    session: AsyncSession, principal: Principal, sources: SummarySources, year: int | None
) -> dict[str, Any]:
    region = write_region(principal)
    now: date = today()
    year = year or now.year
    repo = ActiveWorkRepository(session)
    everyone = await repo.members_with_history(region)
    members = [m for m in everyone if rules.member_in(m.events, year)]
    names, directory = await read_names(sources, region)
    by_municipality = rules.by_municipality(members, names)
    missing = rules.without_active(by_municipality) if directory["available"] else None
    years = rules.years_on_record(everyone, now)
    duties = [
        {**r, "label": DUTY_LABELS_RU[r["duty"]], "load": int(r["load"] or 0)}
        for r in await repo.duty_totals(region, year)
    ]
    return {
        "region": region,
        "year": year,
        "members": len(members),
        "by_subject": rules.by_subject(members),
        "by_municipality": by_municipality,
        "without_active": missing,
        "directory": directory,
        "years": years,
        "growth": rules.growth(everyone, years),
        "need": await need_part(sources, region, members, names),
        "monitoring": await monitoring_part(sources, region, missing),
        "training": await training_part(repo, region, year),
        "expert_work": sorted(duties, key=lambda d: d["label"]),
    }
