"""Authoring a route by the regulation (issue 14, point 1): the professional profile, goals and tasks written
by the teacher or by the school deputy for a teacher of the school, in a draft, after a return for correction
and while the route runs; each edit with If-Match, in the history, and kept when a draft is regenerated."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from services.routes.authoring import constructed_task, text_problem
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_B1, Region, as_methodologist, as_regional, as_school, as_teacher
from tests.region import seed_region as seed
from tests.routes.factory import insert_route
from tests.routes.flow import results_for, route_of, wait_for_routes

THIS_YEAR = datetime.now(UTC).year
GOAL = {"problem": "Изменение способа оценивания образовательных результатов обучающихся", "direction": "Оценивание"}
FREE_TASK = {
    "kind": "practice_change",
    "formulation": "Разработать и провести серию уроков с листами самооценивания",
    "result_form": "Сценарии уроков и листы самооценивания",
}


async def a_route(api: httpx.AsyncClient, db: asyncpg.Connection, status: str = "draft") -> tuple[Region, str]:
    region = await seed(api)
    row = await insert_route(db, teacher_id=region.teachers["t-a1-1"]["id"], status=status)
    return region, str(row["id"])


async def write(
    api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: Any = None, etag: str = "current"
) -> httpx.Response:
    rid = path.split("/")[4]
    h = dict(headers)
    if etag == "current":
        h["If-Match"] = (await route_of(api, rid)).headers["etag"]
    elif etag:
        h["If-Match"] = etag
    return await api.request(method, path, json=body, headers=h)


def goals_of(route: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["id"]: g for g in route["content"]["sections"]["goals"]}


class TestTeacherAuthorsADraft:
    async def test_teacher_writes_achievements_and_courses(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        region, rid = await a_route(api, db)
        body = {
            "achievements": ["Призёр муниципального конкурса «Учитель года»"],
            "courses": [{"title": "Формирующее оценивание", "hours": 36, "year": THIS_YEAR, "provider": "ЦНППМ"}],
        }
        teacher = as_teacher(region, "t-a1-1")
        r = await write(api, "PUT", f"/api/v1/routes/{rid}/professional-profile", teacher, body)
        assert r.status_code == 200, r.text
        profile = r.json()["content"]["sections"]["professional_profile"]
        assert profile["achievements"] == body["achievements"]
        assert profile["courses_last_3_years"] == body["courses"]
        old = {**body, "courses": [{**body["courses"][0], "year": THIS_YEAR - 3}]}
        r = await write(api, "PUT", f"/api/v1/routes/{rid}/professional-profile", teacher, old)
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "course-too-old"
        assert r.json()["errors"][0]["loc"] == ["body", "courses", 0, "year"]

    async def test_goal_and_constructor_task(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region, rid = await a_route(api, db)
        teacher = as_teacher(region, "t-a1-1")
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals", teacher, GOAL)
        assert r.status_code == 200, r.text
        [goal_id] = [g for g in goals_of(r.json()) if g.startswith("G-")]
        pick = {"kind": "learning", "constructor": {"row": 0, "formulation": 0, "result_form": 1}}
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals/{goal_id}/tasks", teacher, pick)
        assert r.status_code == 200, r.text
        route = r.json()
        [task] = goals_of(route)[goal_id]["tasks"]
        built = constructed_task("learning", 0, 0, 1, "Оценивание")
        assert (
            task["formulation"]
            == built["formulation"]
            == "Изучить приемы, методы и технологии по направлению «Оценивание»"
        )
        assert task["result_form"] == "Реферат, эссе или выступление на тему «Оценивание»"
        assert any(p["task_id"] == task["id"] for p in route["content"]["control_points"])
        bad = {"kind": "learning", "constructor": {"row": 0, "formulation": 5, "result_form": 0}}
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals/{goal_id}/tasks", teacher, bad)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "constructor", "formulation"]

    @pytest.mark.parametrize(
        ("formulation", "code"),
        [
            ("", "empty"),
            ("   ", "empty"),
            ("Изучить", "too-short"),
            ("а" * 1001, "too-long"),
            ("Освоить приемы … на уроках", "placeholder"),
            ("Изучить приемы, , методы оценивания", "empty-part"),
        ],
    )
    async def test_free_task_is_checked(
        self, api: httpx.AsyncClient, db: asyncpg.Connection, formulation: str, code: str
    ) -> None:
        region, rid = await a_route(api, db)
        goal = next(iter(goals_of((await route_of(api, rid)).json())))
        r = await write(
            api,
            "POST",
            f"/api/v1/routes/{rid}/goals/{goal}/tasks",
            as_teacher(region, "t-a1-1"),
            {**FREE_TASK, "formulation": formulation},
        )
        assert r.status_code == 422, r.text
        [error] = r.json()["errors"]
        assert error["loc"] == ["body", "formulation"] and error["code"] == code
        assert not re.search(r"[A-Za-z]", error["message"] + r.json()["detail"])

    async def test_free_task_edit_and_removal(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region, rid = await a_route(api, db)
        teacher = as_teacher(region, "t-a1-1")
        goal = "M3"
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals/{goal}/tasks", teacher, FREE_TASK)
        assert r.status_code == 200, r.text
        added = goals_of(r.json())[goal]["tasks"][-1]
        assert added["formulation"] == FREE_TASK["formulation"] and added["kind"] == "practice_change"
        r = await write(
            api,
            "PATCH",
            f"/api/v1/routes/{rid}/tasks/{added['id']}",
            teacher,
            {"formulation": "Провести три урока с листами самооценивания", "reason": "уточнено"},
        )
        assert r.status_code == 200, r.text
        r = await write(api, "DELETE", f"/api/v1/routes/{rid}/tasks/M3-L", teacher)
        assert r.status_code == 200, r.text
        tasks = [t["id"] for t in goals_of(r.json())[goal]["tasks"]]
        assert "M3-L" not in tasks and added["id"] in tasks
        assert all(p["task_id"] != "M3-L" for p in r.json()["content"]["control_points"])
        r = await write(api, "DELETE", f"/api/v1/routes/{rid}/goals/M2", teacher)
        assert r.status_code == 200 and "M2" not in goals_of(r.json())
        r = await write(api, "DELETE", f"/api/v1/routes/{rid}/goals/M2", teacher)
        assert r.status_code == 404 and r.json()["code"] == "goal-not-found"

    async def test_goal_from_a_deficit_changes_with_a_reason(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        region, rid = await a_route(api, db)
        teacher = as_teacher(region, "t-a1-1")
        problem = {"problem": "Создание условий для достижения метапредметных результатов обучающихся"}
        r = await write(api, "PATCH", f"/api/v1/routes/{rid}/goals/M2", teacher, problem)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "reason"]
        r = await write(api, "PATCH", f"/api/v1/routes/{rid}/goals/M2", teacher, {**problem, "reason": "по запросу"})
        assert r.status_code == 200 and goals_of(r.json())["M2"]["problem"] == problem["problem"]


class TestWhoAndWhen:
    async def test_school_deputy_authors_for_a_teacher_of_the_school(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        _, rid = await a_route(api, db)
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals", as_school(ORG_A1, MUN_A), GOAL)
        assert r.status_code == 200, r.text
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals", as_school(ORG_B1, MUN_B), GOAL, etag='"2"')
        assert r.status_code == 404
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals", as_methodologist(MUN_A), GOAL)
        assert r.status_code == 403

    async def test_another_teacher_gets_404(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region, rid = await a_route(api, db)
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals", as_teacher(region, "t-a1-2"), GOAL, etag='"1"')
        assert r.status_code == 404

    async def test_if_match_is_required_and_checked(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region, rid = await a_route(api, db)
        teacher = as_teacher(region, "t-a1-1")
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals", teacher, GOAL, etag="")
        assert r.status_code == 428
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals", teacher, GOAL, etag='"99"')
        assert r.status_code == 412
        assert len(goals_of((await route_of(api, rid)).json())) == 2

    async def test_under_review_only_after_a_return(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region, rid = await a_route(api, db, status="sent_to_municipality")
        teacher = as_teacher(region, "t-a1-1")
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals", teacher, GOAL)
        assert r.status_code == 409 and r.json()["code"] == "route-not-editable"
        back = {"action": "return_for_correction", "comment": "Уточнить задачи"}
        r = await write(api, "POST", f"/api/v1/routes/{rid}/transitions", as_methodologist(MUN_A), back)
        assert r.status_code == 200 and r.json()["status"] == "recommended"
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals", teacher, GOAL)
        assert r.status_code == 200, r.text

    async def test_running_route_correction_is_a_content_version(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        region, rid = await a_route(api, db, status="in_progress")
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals", as_teacher(region, "t-a1-1"), GOAL)
        assert r.status_code == 200 and r.json()["content_version"] == 2
        versions = (await api.get(f"/api/v1/routes/{rid}/versions", headers=as_regional())).json()
        assert [v["content_version"] for v in versions] == [1, 2]

    async def test_history_keeps_every_edit(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region, rid = await a_route(api, db)
        teacher = as_teacher(region, "t-a1-1")
        await write(api, "PUT", f"/api/v1/routes/{rid}/professional-profile", teacher, {"achievements": ["Грамота"]})
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals/M2/tasks", teacher, FREE_TASK)
        task_id = goals_of(r.json())["M2"]["tasks"][-1]["id"]
        await write(api, "DELETE", f"/api/v1/routes/{rid}/tasks/{task_id}", teacher)
        history = (await api.get(f"/api/v1/routes/{rid}/history", headers=as_regional())).json()
        assert [h["action"] for h in history] == ["profile", f"task_added:{task_id}", f"task_removed:{task_id}"]
        assert {h["actor_role"] for h in history} == {"teacher"}
        assert history[1]["comment"] == "задача добавлена"


class TestRegeneration:
    async def test_authored_changes_survive_regeneration(self, api: httpx.AsyncClient) -> None:
        intake = await results_for(api, {"t-a1-1": {"M2"}})
        [summary] = await wait_for_routes(api, 1)
        rid = summary["id"]
        teacher = as_teacher(intake.region, "t-a1-1")
        r = await write(
            api, "PUT", f"/api/v1/routes/{rid}/professional-profile", teacher, {"achievements": ["Грамота"]}
        )
        assert r.status_code == 200, r.text
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals", teacher, GOAL)
        [goal_id] = [g for g in goals_of(r.json()) if g.startswith("G-")]
        r = await write(api, "POST", f"/api/v1/routes/{rid}/goals/{goal_id}/tasks", teacher, FREE_TASK)
        assert r.status_code == 200, r.text
        r = await write(api, "DELETE", f"/api/v1/routes/{rid}/tasks/M2-P", teacher)
        assert r.status_code == 200, r.text
        await results_for(api, {"t-a1-1": {"M2", "M3"}}, intake)  # corrected results: one more deficit
        for _ in range(100):
            route = (await route_of(api, rid)).json()
            if "M3" in goals_of(route):
                break
            await asyncio.sleep(0.2)
        goals = goals_of(route)
        assert {"M2", "M3", goal_id} <= set(goals)
        assert [t["formulation"] for t in goals[goal_id]["tasks"]] == [FREE_TASK["formulation"]]
        assert [t["id"] for t in goals["M2"]["tasks"]] == ["M2-L"]
        assert route["content"]["sections"]["professional_profile"]["achievements"] == ["Грамота"]


class TestConstructor:
    async def test_constructor_in_russian_from_the_reference_data(self, api: httpx.AsyncClient) -> None:
        region = await seed(api)
        r = await api.get("/api/v1/routes/constructor", headers=as_teacher(region, "t-a1-1"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert [k["label"] for k in body["kinds"]] == ["Задача обучения", "Задача на изменение деятельности"]
        texts = [
            x
            for k in body["kinds"]
            for row in k["rows"]
            for x in [f["text"] for f in row["formulations"]] + [f["text"] for f in row["result_forms"]]
        ]
        assert "Изучить приемы, методы и технологии" in texts and "Методическая копилка" in texts
        assert not [t for t in texts if re.search(r"[A-Za-z{}]", t)]
        assert len(body["problem_statements"]) == 9
        assert body["problem_statements"][0].startswith("Потребность в разработке и реализации программы")


@pytest.mark.no_db
class TestTextRule:
    def test_a_written_task_passes(self) -> None:
        assert text_problem("Разработать и провести серию уроков с листами самооценивания") is None
