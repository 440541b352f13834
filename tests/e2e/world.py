"""A test region with one real object of every kind the API has an id for, made through the gateway.

Teachers, a framework, an assessment campaign with results, generated routes, one route walked to
`audited` through its audit, a monitoring campaign with scores, a checklist and a recorded monthly
export. The fuzzer gets these ids so it reaches past the 404s; the authorization matrix attacks them.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.assessment.intake_support import MATH, csv_text, load_framework, row, scores_with, upload
from tests.harness import Stack
from tests.region import (
    DEFAULT_TEACHERS,
    MUN_A,
    MUN_B,
    ORG_A1,
    REGION,
    Region,
    as_methodologist,
    as_regional,
    as_school,
    as_teacher,
    seed_region,
    service_headers,
    teacher_row,
)

# Weak competencies that put a mathematics result in support group 2 (one full review audits it).
WEAK_GROUP_2 = {"MA2", "MA3", "M3"}
# The walked route's tutor: a teacher of its school registered for it (never one of the matrix's attackers,
# who would then rightly read the route), chosen by id at approval.
TUTOR_EXT = "tutor-a1"
EVIDENCE = [{"title": "Сценарий урока", "url": "https://school.example/f/1"}]
STEP_MAX = {
    "goals": 21,
    "indicators": 10,
    "methods": 3,
    "monitoring": 15,
    "analysis": 15,
    "recommendations": 9,
    "measures": 21,
    "decisions": 3,
    "effectiveness": 3,
}
DIRECTIONS = (
    "deficits",
    "subject_competencies",
    "individual_routes",
    "retraining",
    "digital_environment",
    "methodological_active",
    "scientific_support",
    "young_teachers",
    "association_networks",
    "association_analysis",
    "staffing_needs",
    "staff_potential",
)


@dataclass
class World:
    region: Region
    teacher_ext: str  # the teacher whose route is walked to the end
    ids: dict[str, str] = field(default_factory=dict)  # path parameter name -> a real value

    @property
    def teacher(self) -> dict[str, Any]:
        return self.region.teachers[self.teacher_ext]


async def wait_for_routes(api: httpx.AsyncClient, expected: int, within: float = 30.0) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + within
    items: list[dict[str, Any]] = []
    while asyncio.get_running_loop().time() < deadline:
        r = await api.get("/api/v1/routes", params={"limit": 500}, headers=as_regional())
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        if len(items) >= expected:
            return items
        await asyncio.sleep(0.2)
    raise AssertionError(f"expected {expected} routes, found {len(items)}")


async def wait_until(
    api: httpx.AsyncClient, path: str, headers: dict[str, str], check: Any, within: float = 20.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    body: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        r = await api.get(path, headers=headers)
        if r.status_code == 200:
            body = r.json()
            if check(body):
                return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not reached for {path}: {body}")


async def move(api: httpx.AsyncClient, route_id: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    got = await api.get(f"/api/v1/routes/{route_id}", headers=as_regional())
    assert got.status_code == 200, got.text
    r = await api.post(
        f"/api/v1/routes/{route_id}/transitions", json=body, headers={**headers, "If-Match": got.headers["etag"]}
    )
    assert r.status_code == 200, (body, r.text)
    out: dict[str, Any] = r.json()
    return out


def monitoring_row(mun: str, fill: float) -> dict[str, Any]:
    pts = {s: round(m * fill * 2) / 2 for s, m in STEP_MAX.items()}
    return {"municipality": mun, "municipality_name": f"Округ {mun}", **pts, "total": sum(pts.values())}


def run_export(live: Stack, month: str, out: Path) -> None:
    """Record the month's export files the way the monthly CronJob does."""
    subprocess.run(
        [sys.executable, "-m", "services.routes", "export", "--month", month, "--out", str(out), "--quiet"],
        env=live.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


async def build_world(api: httpx.AsyncClient, live: Stack, export_dir: Path | None = None) -> World:
    """Make every kind of object in the test region; `export_dir` also records a monthly export."""
    region = await seed_region(
        api, [*DEFAULT_TEACHERS, teacher_row(TUTOR_EXT, "Тьюторова Нина Викторовна", MUN_A, ORG_A1)]
    )
    await load_framework(api)
    body = {
        "name": "ФИОКО: математика",
        "source": "fioko_subject",
        "subject": "mathematics",
        "assessed_on": datetime.now(UTC).date().isoformat(),
        "framework_code": "default",
        "instrument": MATH,
    }
    r = await api.post("/api/v1/campaigns", json=body, headers=as_regional())
    assert r.status_code == 201, r.text
    campaign = r.json()
    scored = {"t-a1-1": WEAK_GROUP_2, "t-a1-2": {"M1"}, "t-b1-1": {"M4"}}
    r = await upload(api, campaign["id"], csv_text([row(ext, scores_with(w)) for ext, w in scored.items()]))
    assert r.status_code in (200, 201), r.text
    routes = await wait_for_routes(api, len(scored))
    world = World(region, "t-a1-1")
    t = world.teacher
    route = next(x for x in routes if str(x["teacher_id"]) == str(t["id"]))
    rid = str(route["id"])
    results = (await api.get("/api/v1/results", params={"campaign_id": campaign["id"]}, headers=as_regional())).json()
    full = (await api.get(f"/api/v1/routes/{rid}", headers=as_regional())).json()
    task_id = full["content"]["sections"]["goals"][0]["tasks"][0]["id"]
    goal_id = full["content"]["sections"]["goals"][0]["id"]

    teacher = as_teacher(region, world.teacher_ext)
    await move(api, rid, as_regional(), action="recommend")
    await move(api, rid, as_regional(), action="send_to_municipality")
    await move(api, rid, as_methodologist(t["municipality"]), action="agree_with_school")
    await move(
        api,
        rid,
        as_school(t["organisation"], t["municipality"]),
        action="approve",
        tutor={"teacher_id": region.id(TUTOR_EXT)},
    )
    await move(api, rid, teacher, action="start")
    await move(api, rid, teacher, action="complete", evidence=EVIDENCE)
    auditor = as_methodologist(t["municipality"])
    r = await api.post("/api/v1/audits", json={"route_id": rid}, headers=auditor)
    assert r.status_code == 201, r.text
    audit = r.json()
    scores = {"criteria": [{"number": n, "score": 2} for n in range(1, 11)]}
    r = await api.put(f"/api/v1/audits/{audit['id']}/reviews/mine", json=scores, headers=auditor)
    assert r.status_code == 200, r.text
    r = await api.post(f"/api/v1/audits/{audit['id']}/complete", headers={**auditor, "If-Match": r.headers["etag"]})
    assert r.status_code == 200, r.text
    await wait_until(api, f"/api/v1/routes/{rid}", as_regional(), lambda b: b["status"] == "audited")

    r = await api.post(
        "/api/v1/monitoring/campaigns",
        headers=as_regional(),
        json={"code": "mon-e2e", "title": "Мониторинг", "held_on": datetime.now(UTC).date().isoformat()},
    )
    assert r.status_code == 201, r.text
    monitoring = r.json()
    r = await api.post(
        f"/api/v1/monitoring/campaigns/{monitoring['id']}/scores",
        content=json.dumps({"rows": [monitoring_row(MUN_A, 0.7), monitoring_row(MUN_B, 0.2)]}),
        headers={**as_regional(), "Content-Type": "application/json", "Idempotency-Key": "world-mon"},
    )
    assert r.status_code in (200, 201), r.text
    checklist = {
        "documents": [{"type": "plan", "name": "План", "date": "2026-01-15"}],
        "directions": [
            {
                "direction": d,
                "goals_and_tasks": True,
                "quantitative_indicators": True,
                "qualitative_indicators": False,
                "collection_methods": False,
            }
            for d in DIRECTIONS
        ],
    }
    r = await api.put(f"/api/v1/checklists/municipalities/{MUN_A}", json=checklist, headers=as_regional())
    assert r.status_code == 200, r.text

    resource = {
        "kind": "course",
        "title": "Формирующее оценивание на уроках математики",
        "learning_type": "formal",
        "mode": "online",
        "subjects": ["mathematics"],
        "competencies": ["M3"],
        "levels": [1, 2],
        "capacity": 30,
        "hours": 72,
        "provider": "ЦНППМ",
        "municipalities": [],
    }
    r = await api.post("/api/v1/resources", json=resource, headers=as_regional())
    assert r.status_code == 201, r.text
    resource_id = str(r.json()["id"])
    mentor_teacher = region.teachers["t-a1-2"]
    mentor = {
        "teacher_id": str(mentor_teacher["id"]),
        "municipality": MUN_A,
        "subjects": ["mathematics"],
        "level": 4,
        "mode": "mixed",
        "capacity": 3,
        "role": "methodist",
        "competencies": ["M3"],
    }
    r = await api.post("/api/v1/mentors", json=mentor, headers=as_regional())
    assert r.status_code == 201, r.text
    mentor_id = str(r.json()["id"])
    # The walked teacher as a candidate of the methodological active (imported), for {member_id}.
    r = await api.post(
        "/api/v1/active/import",
        content=json.dumps(
            {"rows": [{"teacher_external_id": world.teacher_ext, "subjects": "математика", "status": "кандидат"}]}
        ),
        headers={**as_regional(), "Content-Type": "application/json", "Idempotency-Key": "world-active"},
    )
    assert r.status_code == 200, r.text
    r = await api.get("/api/v1/active/members", params={"status": "candidate"}, headers=as_regional())
    member = next(m for m in r.json()["items"] if str(m["teacher_id"]) == str(t["id"]))
    member_id = str(member["id"])
    # ... included by an order, given an expert duty ({assignment_id}, another school's works) and enrolled in the
    # map's course ({enrolment_id}).
    batch = [{"id": member_id, "version": member["version"]}]
    inclusion = {"order": {"number": "w-1", "date": "2026-09-01"}, "members": batch}
    r = await api.post("/api/v1/active/orders", json=inclusion, headers=as_regional())
    assert r.status_code == 200, r.text
    duty = {
        "member_id": member_id,
        "duty": "extended_answers",
        "subject": "mathematics",
        "starts_on": "2026-05-20",
        "ends_on": "2026-06-10",
        "load": 50,
        "schools": ["oo-b1"],
    }
    r = await api.post("/api/v1/active/duties", json=duty, headers=as_regional())
    assert r.status_code == 201, r.text
    assignment_id = str(r.json()["id"])
    enrolment = {"member_id": member_id, "resource_id": resource_id, "enrolled_on": "2026-09-15"}
    r = await api.post("/api/v1/active/enrolments", json=enrolment, headers=as_regional())
    assert r.status_code == 201, r.text
    enrolment_id = str(r.json()["id"])
    reservation = {
        "route_id": rid,
        "teacher_id": str(t["id"]),
        "resource_id": resource_id,
        "municipality": t["municipality"],
        "organisation": t["organisation"],
    }
    r = await api.post("/api/v1/reservations", json=reservation, headers=as_regional())
    assert r.status_code in (200, 201), r.text
    reservation_id = str(r.json()["id"])

    # A school's webhook subscription, for {webhook_id} (its receiver's name never resolves: nothing is sent).
    r = await api.post(
        "/api/v1/webhooks",
        json={"url": "https://receiver.invalid/iom", "events": ["route.status_changed"]},
        headers=as_school(t["organisation"], t["municipality"]),
    )
    assert r.status_code == 201, r.text
    webhook_id = str(r.json()["id"])

    world.ids.update(
        {
            "webhook_id": webhook_id,
            "resource_id": resource_id,
            "mentor_id": mentor_id,
            "member_id": member_id,
            "assignment_id": assignment_id,
            "enrolment_id": enrolment_id,
            "mentor_teacher_id": str(mentor_teacher["id"]),
            "reservation_id": reservation_id,
            "teacher_id": str(t["id"]),
            "external_id": world.teacher_ext,
            "code": "default",
            "version": "1",
            "campaign_id": str(campaign["id"]),
            "result_id": str(next(x for x in results["items"] if str(x["teacher_id"]) == str(t["id"]))["id"]),
            "route_id": rid,
            "task_id": str(task_id),
            "goal_id": str(goal_id),
            "audit_id": str(audit["id"]),
            "monitoring_campaign_id": str(monitoring["id"]),
            "municipality": MUN_A,
        }
    )
    if export_dir is not None:
        month = datetime.now(UTC).strftime("%Y-%m")
        await asyncio.to_thread(run_export, live, month, export_dir)
        r = await api.get(
            "/api/v1/exports", params={"month": month, "municipality": MUN_A, "format": "csv"}, headers=as_regional()
        )
        assert r.status_code == 200 and r.json()["items"], r.text
        world.ids["export_id"] = str(r.json()["items"][0]["id"])
    return world


def region_headers() -> dict[str, str]:
    return as_regional()


def service_token_headers() -> dict[str, str]:
    return service_headers()


__all__ = ["REGION", "World", "build_world", "region_headers", "service_token_headers"]
