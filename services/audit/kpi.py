"""The region's KPIs computed from counts the other services report (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.audit.clients import RouteStats, TeacherLevels
from services.audit.engagement import ENGAGED_FROM


@dataclass(frozen=True)
class Engagement:
    """Municipal services engaged in monitoring (engagement.py) in the campaign used."""

    municipalities: int
    engaged: int
    campaign_id: str | None
    campaign_code: str | None


@dataclass(frozen=True)
class Kpi:
    code: str
    label: str
    kind: str  # "share" (value is a percent) or "count"
    source: str
    status: str  # "ok" or "unavailable"
    value: float | None = None
    numerator: int | None = None
    denominator: int | None = None
    target: float | None = None
    meets_target: bool | None = None
    detail: str | None = None


def percent(numerator: int, denominator: int) -> float | None:
    return round(100.0 * numerator / denominator, 1) if denominator > 0 else None


def _share(
    code: str,
    label: str,
    source: str,
    numerator: int | None,
    denominator: int | None,
    *,
    missing: str | None,
    target: float | None = None,
) -> Kpi:
    if numerator is None or denominator is None:
        return Kpi(code, label, "share", source, "unavailable", target=target, detail=missing)
    value = percent(numerator, denominator)
    meets = None if target is None or value is None else value >= target
    return Kpi(code, label, "share", source, "ok", value, numerator, denominator, target, meets)


def compute_kpis(
    levels: TeacherLevels | None,
    routes: RouteStats | None,
    engagement: Engagement | None,
    *,
    basic_target: float,
    unavailable: dict[str, str] | None = None,
    mentored_young: frozenset[str] | None = None,
) -> list[Kpi]:
    """Seven KPIs; a KPI whose source did not answer is `unavailable` (with why) rather than failing all.
    `mentored_young`: the young teachers (levels.young_teacher_ids) whose route has a mentor."""
    why = unavailable or {}
    miss_a = why.get("assessment", "Аналитика сервиса оценки не ответила")
    miss_r = why.get("routes", "Статистика сервиса маршрутов не ответила")
    miss_m = why.get("monitoring", "Справочник муниципалитетов не ответил")
    both = miss_a if levels is None else miss_r
    out = [
        _share(
            "teachers_assessed",
            "Доля педагогов, прошедших оценку",
            "assessment",
            levels.teachers_assessed if levels else None,
            levels.teachers_total if levels else None,
            missing=miss_a,
        ),
        _share(
            "basic_or_higher",
            "Доля педагогов с базовым уровнем и выше (от прошедших оценку)",
            "assessment",
            levels.basic_or_higher if levels else None,
            levels.teachers_assessed if levels else None,
            missing=miss_a,
            target=basic_target,
        ),
        _share(
            "teachers_with_route",
            "Доля педагогов с ИОМ",
            "routes+assessment",
            routes.teachers_with_route if routes and levels else None,
            levels.teachers_total if routes and levels else None,
            missing=both,
        ),
    ]
    if routes is None:
        out.append(Kpi("routes_created", "Создано ИОМ за период", "count", "routes", "unavailable", detail=miss_r))
    else:
        out.append(
            Kpi(
                "routes_created",
                "Создано ИОМ за период",
                "count",
                "routes",
                "ok",
                float(routes.routes_created),
                numerator=routes.routes_created,
            )
        )
    out.append(
        _share(
            "completed_matching_courses",
            "Доля педагогов с ИОМ, завершивших курсы по своим дефицитам",
            "routes",
            routes.teachers_completed_matching_courses if routes else None,
            routes.teachers_with_route if routes else None,
            missing=miss_r,
        )
    )
    out.append(
        _share(
            "municipalities_engaged",
            f"Доля муниципальных служб, вовлечённых в мониторинг ({ENGAGED_FROM}% и выше)",
            "audit+assessment",
            engagement.engaged if engagement else None,
            engagement.municipalities if engagement else None,
            missing=miss_m,
        )
    )
    out.append(young_with_mentor(levels, mentored_young, missing=miss_a if levels is None else why.get("mentors")))
    return out


def young_with_mentor(levels: TeacherLevels | None, mentored: frozenset[str] | None, *, missing: str | None) -> Kpi:
    """Share of young teachers (under 35 by the registry's year of birth) whose route has a mentor."""
    young = levels.young_teacher_ids if levels else None
    kpi = _share(
        "young_with_mentor",
        "Доля молодых педагогов (до 35 лет) с наставником",
        "assessment+routes",
        len(young & mentored) if young is not None and mentored is not None else None,
        len(young) if young is not None and mentored is not None else None,
        missing=missing or "Сервис маршрутов не ответил",
    )
    if kpi.status == "ok" and levels is not None and levels.birth_year_known == 0:
        return replace(kpi, detail="Год рождения не указан ни у одного педагога в реестре")
    return kpi
