"""Routes made directly in the database (admin connection), with content built by the real generator."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import asyncpg

from services.routes.content import next_control_on
from services.routes.generation import Alternative, CompetencyResult, MentorChoice, Snapshot, generate, period_key
from tests.region import MUN_A, ORG_A1, REGION

COMPETENCIES = {"M1": "Планирование", "M2": "Технологии", "M3": "Оценивание", "M4": "Совместное решение задач"}
START = date(2026, 11, 2)


def _alt(
    rid: str, kind: str, lt: str, start: date | None = None, end: date | None = None, hours: int | None = None
) -> Alternative:
    return Alternative(rid, kind, f"Мероприятие {rid}", lt, "online", start, end, hours, "ЦНППМ", "по компетенции", 1.0)


MATCHES = {
    "M2": [
        _alt("c1", "course", "formal", date(2026, 12, 1), date(2026, 12, 20), 36),
        _alt("w1", "webinar", "non_formal", date(2026, 12, 10), date(2026, 12, 10)),
        _alt("k1", "community", "informal"),
    ],
    "M3": [
        _alt("p1", "practicum", "non_formal", date(2027, 2, 1), date(2027, 2, 15)),
        _alt("s1", "self_study", "informal"),
    ],
}


def snapshot(
    *,
    group: int,
    deficits: tuple[str, ...],
    teacher_name: str,
    municipality: str,
    organisation: str,
    region: str,
    subject: str | None,
    assessed_on: date,
) -> Snapshot:
    comps = tuple(
        CompetencyResult(
            code=code,
            name=name,
            percent=30.0 if code in deficits else 85.0,
            status="deficit" if code in deficits else "strength",
            explanation={"threshold": "< 50%", "items": [{"item": f"{code}-1", "points": 1, "max": 4}]},
        )
        for code, name in COMPETENCIES.items()
    )
    return Snapshot(
        teacher_id=str(uuid.uuid4()),
        region=region,
        municipality=municipality,
        organisation=organisation,
        subject=subject,
        group=group,
        assessed_on=assessed_on,
        competencies=comps,
        full_name=teacher_name,
    )


async def insert_route(db: asyncpg.Connection, **overrides: Any) -> dict[str, Any]:
    """Insert one realistic route; `overrides` set any column (and `group`, `deficits`, `start`, `mentor`)."""
    group = int(overrides.pop("group", overrides.pop("grp", 2)))
    deficits = tuple(overrides.pop("deficits", ("M2", "M3")))
    start = overrides.pop("start", START)
    default_mentor = MentorChoice("mentor-1", "Петрова Анна Сергеевна", "тот же округ") if group == 1 else None
    mentor = overrides.pop("mentor", default_mentor)
    name = overrides.get("teacher_name", "Иванова Мария Петровна")
    municipality = overrides.get("municipality", MUN_A)
    organisation = overrides.get("organisation", ORG_A1)
    region = overrides.get("region", REGION)
    subject = overrides.get("subject", "mathematics")
    snap = snapshot(
        group=group,
        deficits=deficits,
        teacher_name=name,
        municipality=municipality,
        organisation=organisation,
        region=region,
        subject=subject,
        assessed_on=start,
    )
    content = generate(snap, MATCHES, mentor, start)
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "teacher_id": uuid.UUID(snap.teacher_id),
        "external_id": f"ext-{snap.teacher_id[:8]}",
        "teacher_name": name,
        "region": region,
        "municipality": municipality,
        "organisation": organisation,
        "subject": subject,
        "grp": group,
        "period_key": period_key(start),
        "period_start": date.fromisoformat(content["period"]["start"]),
        "period_end": date.fromisoformat(content["period"]["end"]),
        "status": "in_progress",
        "content": content,
        "mentor_id": mentor.mentor_id if mentor else None,
        "next_control_on": next_control_on(content),
        "self_check_manual": {},
    }
    row.update(overrides)
    names = list(row)
    values = [json.dumps(v, ensure_ascii=False) if n in ("content", "self_check_manual") else v for n, v in row.items()]
    params = ", ".join(
        f"${i}::jsonb" if n in ("content", "self_check_manual") else f"${i}" for i, n in enumerate(names, start=1)
    )
    await db.execute(f"INSERT INTO routes.routes ({', '.join(names)}) VALUES ({params})", *values)
    return row
