"""The school workspace (issue 14, point 4), through the gateway on real processes.

The school deputy reads the existing endpoints within their school: `GET /routes/stats` (routes by status and
group, overdue control points, the tutors' load, the KPI counts) and `GET /kpi` (the school's KPIs, among them
the share of young teachers with a mentor from the registry's optional year of birth). Municipal and regional
callers still get theirs.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import asyncpg
import httpx

from kit.auth import Role
from services.routes.generation import MentorChoice
from tests.harness import auth
from tests.region import (
    MUN_A,
    MUN_B,
    ORG_A1,
    ORG_A2,
    ORG_B1,
    REGION,
    Region,
    as_methodologist,
    as_regional,
    as_school,
    seed_region,
    service_headers,
    teacher_row,
)
from tests.routes.factory import insert_route

STATS = "/api/v1/routes/stats"
KPI = "/api/v1/kpi"
THIS_YEAR = date.today().year
PAST, FUTURE = "2000-01-15", "2999-01-15"


def tutor(teacher_id: str, name: str) -> str:
    return json.dumps({"teacher_id": teacher_id, "name": name}, ensure_ascii=False)


async def with_points(db: asyncpg.Connection, row: dict[str, Any], *points: tuple[str, bool]) -> None:
    """Replace the route's control points: (date, result recorded) on its first task."""
    task_id = row["content"]["sections"]["goals"][0]["tasks"][0]["id"]
    content = dict(row["content"])
    content["control_points"] = [
        {"date": on, "task_id": task_id, "what": "Предъявление результата", "checked_by": "тьютор"}
        | ({"result": {"accepted": True}} if checked else {})
        for on, checked in points
    ]
    await db.execute(
        "UPDATE routes.routes SET content = $1::jsonb WHERE id = $2", json.dumps(content, ensure_ascii=False), row["id"]
    )


async def school_region(api: httpx.AsyncClient, db: asyncpg.Connection) -> Region:
    """Registry: A1 has a young teacher (born 5 years ago) with a mentored route, a young one without a route and
    an older one; A2 and B1 one young teacher each, mentored. Routes: A1 two running and one draft, A2 one
    running, B1 one running; two overdue control points in A1 (one route), one in B1."""
    young, old = THIS_YEAR - 25, THIS_YEAR - 50
    rows = [
        {**teacher_row("a1-young", "Молодцова Ирина Павловна", MUN_A, ORG_A1), "birth_year": young},
        {**teacher_row("a1-young-2", "Юнова Дарья Олеговна", MUN_A, ORG_A1), "birth_year": young},
        {**teacher_row("a1-old", "Старова Галина Ивановна", MUN_A, ORG_A1), "birth_year": old},
        {**teacher_row("a1-tutor", "Тьюторова Ольга Николаевна", MUN_A, ORG_A1)},
        {**teacher_row("a2-young", "Новикова Алла Юрьевна", MUN_A, ORG_A2), "birth_year": young},
        {**teacher_row("b1-young", "Белова Инна Сергеевна", MUN_B, ORG_B1), "birth_year": young},
    ]
    region = await seed_region(api, rows)
    mentor = MentorChoice("mentor-1", "Петрова Анна Сергеевна", "тот же округ")
    tutor_a1 = tutor(region.id("a1-tutor"), "Тьюторова Ольга Николаевна")

    def at(ext: str) -> dict[str, Any]:
        t = region.teachers[ext]
        return {"teacher_id": t["id"], "municipality": t["municipality"], "organisation": t["organisation"]}

    r1 = await insert_route(db, **at("a1-young"), group=1, mentor=mentor, tutor=tutor_a1)
    await with_points(db, r1, (PAST, False), (PAST, False), (PAST, True), (FUTURE, False))
    r2 = await insert_route(db, **at("a1-old"), group=2, mentor=None, tutor=tutor_a1)
    await with_points(db, r2, (FUTURE, False))
    await insert_route(db, **at("a1-young-2"), group=2, mentor=None, status="draft")
    r4 = await insert_route(db, **at("a2-young"), group=1, mentor=mentor, tutor=tutor(region.id("a2-young"), "x"))
    await with_points(db, r4, (FUTURE, False))
    r5 = await insert_route(db, **at("b1-young"), group=1, mentor=mentor)
    await with_points(db, r5, (PAST, False))
    return region


async def stats(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await api.get(STATS, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def kpis(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    r = await api.get(KPI, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["scope"], {k["code"]: k for k in r.json()["kpis"]}


class TestRouteStatsForTheSchool:
    async def test_school_deputy_sees_only_their_school(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region = await school_region(api, db)
        s = await stats(api, as_school(ORG_A1, MUN_A))
        assert s["teachers_with_route"] == 3
        by = {(c["status"], c["group"]): c["routes"] for c in s["by_status_and_group"]}
        assert by == {("in_progress", 1): 1, ("in_progress", 2): 1, ("draft", 2): 1}
        assert (s["overdue_control_points"], s["routes_with_overdue"]) == (2, 1)
        assert s["tutors"] == [
            {"tutor_id": region.id("a1-tutor"), "name": "Тьюторова Ольга Николаевна", "active_routes": 2}
        ]
        # Another school, asked by name, is still only what the deputy's scope holds: nothing.
        other = await stats(api, as_school(ORG_A1, MUN_A), organisation=ORG_A2)
        assert other["teachers_with_route"] == 0 and other["tutors"] == []

    async def test_municipal_and_regional_callers_get_theirs(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await school_region(api, db)
        mun = await stats(api, as_methodologist(MUN_A))
        assert mun["teachers_with_route"] == 4 and mun["overdue_control_points"] == 2
        assert sorted(t["active_routes"] for t in mun["tutors"]) == [1, 2]
        whole = await stats(api, as_regional())
        assert whole["teachers_with_route"] == 5 and whole["overdue_control_points"] == 3
        one = await stats(api, as_methodologist(MUN_A), organisation=ORG_A2)
        assert one["teachers_with_route"] == 1 and one["overdue_control_points"] == 0

    async def test_a_teacher_does_not_read_statistics(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region = await school_region(api, db)
        t = region.teachers["a1-young"]
        h = auth(Role.teacher, region=REGION, municipality=MUN_A, organisation=ORG_A1, teacher_id=str(t["id"]))
        r = await api.get(STATS, headers=h)
        assert r.status_code == 403 and r.json()["code"] == "role-forbidden"


class TestKpiForTheSchool:
    async def test_school_deputy_gets_their_school_kpis(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        await school_region(api, db)
        scope, k = await kpis(api, as_school(ORG_A1, MUN_A))
        assert (scope["municipality"], scope["organisation"]) == (MUN_A, ORG_A1)
        assert (k["teachers_with_route"]["numerator"], k["teachers_with_route"]["denominator"]) == (3, 4)
        young = k["young_with_mentor"]
        assert young["status"] == "ok", young
        assert (young["numerator"], young["denominator"], young["value"]) == (1, 2, 50.0)
        assert "Доля молодых педагогов" in young["label"]

    async def test_school_deputy_cannot_ask_for_another_school_or_municipality(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await school_region(api, db)
        for params in ({"organisation": ORG_A2}, {"municipality": MUN_B}, {"organisation": ORG_B1}):
            r = await api.get(KPI, params=params, headers=as_school(ORG_A1, MUN_A))
            assert r.status_code == 404, (params, r.text)

    async def test_municipal_and_regional_callers_get_theirs(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await school_region(api, db)
        scope, k = await kpis(api, as_methodologist(MUN_A))
        assert scope["municipality"] == MUN_A and scope["organisation"] is None
        assert (k["teachers_with_route"]["numerator"], k["teachers_with_route"]["denominator"]) == (4, 5)
        assert (k["young_with_mentor"]["numerator"], k["young_with_mentor"]["denominator"]) == (2, 3)
        _, whole = await kpis(api, as_regional())
        assert (whole["young_with_mentor"]["numerator"], whole["young_with_mentor"]["denominator"]) == (3, 4)
        _, school = await kpis(api, as_methodologist(MUN_A), organisation=ORG_A2)
        assert school["teachers_with_route"]["numerator"] == 1


class TestBirthYear:
    async def test_registry_keeps_an_optional_year_of_birth(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [])
        h = service_headers()
        body = {**teacher_row("by-1", "Годова Нина Петровна", MUN_A, ORG_A1), "birth_year": 1990}
        r = await api.post("/api/v1/teachers", json=body, headers=h)
        assert r.status_code == 201 and r.json()["birth_year"] == 1990, r.text
        tid, etag = r.json()["id"], r.headers["etag"]
        r = await api.patch(f"/api/v1/teachers/{tid}", json={"birth_year": 1991}, headers={**h, "If-Match": etag})
        assert r.status_code == 200 and r.json()["birth_year"] == 1991, r.text
        # A bulk row without a year keeps the stored one; a row with one changes it.
        bulk = {"teachers": [{**teacher_row("by-1", "Годова Нина Петровна", MUN_A, ORG_A1)}]}
        assert (await api.post("/api/v1/teachers/bulk", json=bulk, headers=h)).status_code == 200
        assert (await api.get(f"/api/v1/teachers/{tid}", headers=h)).json()["birth_year"] == 1991
        bulk["teachers"][0]["birth_year"] = 1992
        assert (await api.post("/api/v1/teachers/bulk", json=bulk, headers=h)).status_code == 200
        assert (await api.get(f"/api/v1/teachers/{tid}", headers=h)).json()["birth_year"] == 1992
        plain = await api.post("/api/v1/teachers", json=teacher_row("by-2", "Безгодова Анна", MUN_A, ORG_A1), headers=h)
        assert plain.status_code == 201 and plain.json()["birth_year"] is None

    async def test_a_year_in_the_future_is_refused(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [])
        body = {**teacher_row("by-3", "Будущева Анна Ильинична", MUN_A, ORG_A1), "birth_year": THIS_YEAR + 1}
        r = await api.post("/api/v1/teachers", json=body, headers=service_headers())
        assert r.status_code == 422, r.text
        assert any(e["loc"][-1] == "birth_year" for e in r.json()["errors"])
