"""The low points of issue 12, each through the gateway against real PostgreSQL: duplicate keys are 409
problems that log no key values; every versioned edit needs If-Match; links are http(s) only and the routes
service's request bodies are typed; the teacher registry is no existence oracle."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from services.audit.vocab import ChecklistElement, Direction
from tests.audit.support import register_municipalities
from tests.harness import Stack
from tests.region import (
    MUN_A,
    MUN_B,
    ORG_A1,
    ORG_B1,
    as_methodologist,
    as_regional,
    seed_region,
    teacher_row,
)
from tests.resources.helpers import add_mentor, add_resource, resource
from tests.routes.flow import results_for, wait_for_routes

ELEMENTS = [e.value for e in ChecklistElement]
BAD_LINKS = ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "file:///etc/passwd", "https://"]


def comparable(r: httpx.Response) -> tuple[int, dict[str, Any]]:
    """A problem as a caller compares answers: everything but the request's own id and path."""
    body = {k: v for k, v in r.json().items() if k not in ("request_id", "instance")}
    return r.status_code, body


class TestDuplicateKeys:
    async def test_registering_one_teacher_at_once_is_one_201_and_409s(
        self, api: httpx.AsyncClient, live: Stack
    ) -> None:
        await seed_region(api, [])
        for attempt in range(3):
            ext = f"race-secret-{attempt}-7731"
            body = teacher_row(ext, "Одновременная Анна Тестовна", MUN_A, ORG_A1)
            answers = await asyncio.gather(
                *(api.post("/api/v1/teachers", json=body, headers=as_regional()) for _ in range(12))
            )
            statuses = sorted(r.status_code for r in answers)
            assert statuses == [201] + [409] * 11, [r.text for r in answers if r.status_code != 201]
            assert all(
                r.headers["content-type"] == "application/problem+json" for r in answers[1:] if r.status_code == 409
            )
        assert "race-secret-" not in live.logs()


class TestIfMatchRequired:
    async def test_teacher_edit_without_if_match_is_428(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        url = f"/api/v1/teachers/{region.id('t-a1-1')}"
        r = await api.patch(url, json={"experience_years": 11}, headers=as_regional())
        assert r.status_code == 428 and r.json()["code"] == "if-match-required", r.text
        stale = await api.patch(url, json={"experience_years": 11}, headers={**as_regional(), "If-Match": '"9"'})
        assert stale.status_code == 412
        assert (await api.get(url, headers=as_regional())).json()["version"] == 1

    async def test_resource_edit_without_if_match_is_428(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api)
        url = f"/api/v1/resources/{res['id']}"
        r = await api.patch(url, json={"hours": 10}, headers=as_regional())
        assert r.status_code == 428 and r.json()["code"] == "if-match-required", r.text
        ok = await api.patch(url, json={"hours": 10}, headers={**as_regional(), "If-Match": '"1"'})
        assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
        stale = await api.patch(url, json={"hours": 12}, headers={**as_regional(), "If-Match": '"1"'})
        assert stale.status_code == 412

    async def test_mentor_edit_without_if_match_is_428(self, api: httpx.AsyncClient) -> None:
        m = await add_mentor(api, capacity=2)
        url = f"/api/v1/mentors/{m['id']}"
        r = await api.patch(url, json={"capacity": 3}, headers=as_regional())
        assert r.status_code == 428 and r.json()["code"] == "if-match-required", r.text
        stale = await api.patch(url, json={"capacity": 3}, headers={**as_regional(), "If-Match": '"9"'})
        assert stale.status_code == 412
        ok = await api.patch(url, json={"capacity": 3}, headers={**as_regional(), "If-Match": '"1"'})
        assert ok.status_code == 200 and ok.json()["capacity"] == 3

    async def test_checklist_rewrite_without_if_match_is_428(self, api: httpx.AsyncClient) -> None:
        await register_municipalities(api)
        url = f"/api/v1/checklists/municipalities/{MUN_A}"
        body = {
            "documents": [],
            "directions": [{"direction": d.value, **dict.fromkeys(ELEMENTS, True)} for d in Direction],
        }
        first = await api.put(url, json=body, headers=as_regional())
        assert first.status_code == 200, first.text
        r = await api.put(url, json=body, headers=as_regional())
        assert r.status_code == 428 and r.json()["code"] == "if-match-required", r.text
        ok = await api.put(url, json=body, headers={**as_regional(), "If-Match": first.headers["etag"]})
        assert ok.status_code == 200 and ok.json()["version"] == 2


class TestLinks:
    @pytest.mark.parametrize("link", BAD_LINKS)
    async def test_a_resource_link_must_be_http(self, api: httpx.AsyncClient, link: str) -> None:
        r = await api.post("/api/v1/resources", json=resource(url=link), headers=as_regional())
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"][-1] == "url" and link not in str(r.json()["errors"])

    async def test_a_resource_link_change_must_be_http(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api, url="https://cnppm.example/courses/1")
        assert res["url"] == "https://cnppm.example/courses/1"
        r = await api.patch(
            f"/api/v1/resources/{res['id']}",
            json={"url": "javascript:alert(1)"},
            headers={**as_regional(), "If-Match": '"1"'},
        )
        assert r.status_code == 422, r.text

    async def test_evidence_links_and_route_bodies_are_typed(self, api: httpx.AsyncClient) -> None:
        await results_for(api, {"t-a1-1": {"MA2"}})
        [route] = await wait_for_routes(api, 1)
        url = f"/api/v1/routes/{route['id']}/transitions"
        h = {**as_regional(), "If-Match": f'"{route["version"]}"'}
        for body in (
            {"action": "complete", "evidence": [{"title": "x", "url": BAD_LINKS[0]}]},
            {"action": "complete", "evidence": [{"title": "x", "extra": "y"}]},
            {"action": "approve", "tutor": {"name": "Петрова Н. В.", "role": "admin"}},
        ):
            r = await api.post(url, json=body, headers=h)
            assert r.status_code == 422, (body, r.text)
        task = route_task_id(await api.get(f"/api/v1/routes/{route['id']}", headers=as_regional()))
        r = await api.patch(
            f"/api/v1/routes/{route['id']}/tasks/{task}",
            json={"evidence": [{"title": "конспект", "url": "data:text/html,x"}]},
            headers=h,
        )
        assert r.status_code == 422, r.text


def route_task_id(r: httpx.Response) -> str:
    goals = r.json()["content"]["sections"]["goals"]
    return str(next(t["id"] for g in goals for t in g["tasks"]))


class TestNoExistenceOracle:
    async def test_registering_answers_alike_for_elsewhere_and_out_of_scope(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [teacher_row("t-elsewhere", "Соседняя Учительница Тестовна", MUN_B, ORG_B1)])
        h = as_methodologist(MUN_A)
        elsewhere = await api.post(
            "/api/v1/teachers", json=teacher_row("t-elsewhere", "Кто-то Другой Тестович", MUN_A, ORG_A1), headers=h
        )
        out_of_scope = await api.post(
            "/api/v1/teachers", json=teacher_row("t-nobody", "Кто-то Другой Тестович", MUN_B, ORG_B1), headers=h
        )
        assert comparable(elsewhere) == comparable(out_of_scope)
        assert elsewhere.status_code == 403

    async def test_bulk_answers_alike_for_elsewhere_and_out_of_scope(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [teacher_row("t-elsewhere", "Соседняя Учительница Тестовна", MUN_B, ORG_B1)])
        h = as_methodologist(MUN_A)
        elsewhere = await api.post(
            "/api/v1/teachers/bulk",
            json={"teachers": [teacher_row("t-elsewhere", "Кто-то Другой Тестович", MUN_A, ORG_A1)]},
            headers=h,
        )
        out_of_scope = await api.post(
            "/api/v1/teachers/bulk",
            json={"teachers": [teacher_row("t-nobody", "Кто-то Другой Тестович", MUN_B, ORG_B1)]},
            headers=h,
        )
        assert comparable(elsewhere) == comparable(out_of_scope)
        assert elsewhere.status_code == 422
