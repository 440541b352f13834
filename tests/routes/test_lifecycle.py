"""The route lifecycle of the regional regulation: every step, by the right role, with If-Match."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from kit.auth import Role
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
    as_teacher,
)
from tests.routes.flow import results_for, route_of, wait_for_routes

# The tutor is a teacher of the route's school, by id (t-a1-2 for t-a1-1's routes).
TUTOR_EXT = "t-a1-2"
EVIDENCE = [{"title": "Сценарий урока с приемами оценивания", "url": "https://school.example/f/1"}]


async def a_route(api: httpx.AsyncClient) -> tuple[Region, dict[str, Any]]:
    intake = await results_for(api, {"t-a1-1": {"M2", "M3"}})
    [summary] = await wait_for_routes(api, 1)
    return intake.region, summary


def actors(region: Region) -> dict[str, dict[str, str]]:
    return {
        "regional": as_regional(),
        "methodologist": as_methodologist(MUN_A),
        "school": as_school(ORG_A1, MUN_A),
        "teacher": as_teacher(region, "t-a1-1"),
    }


async def act(
    api: httpx.AsyncClient,
    route_id: str,
    headers: dict[str, str],
    action: str,
    etag: str | None = "current",
    **body: Any,
) -> httpx.Response:
    h = dict(headers)
    if etag == "current":
        etag = (await route_of(api, route_id)).headers["etag"]
    if etag is not None:
        h["If-Match"] = etag
    return await api.post(f"/api/v1/routes/{route_id}/transitions", json={"action": action, **body}, headers=h)


STEPS: list[tuple[str, str, dict[str, Any], str]] = [
    ("recommend", "regional", {}, "recommended"),
    ("send_to_municipality", "regional", {}, "sent_to_municipality"),
    ("agree_with_school", "methodologist", {}, "agreed_with_school"),
    ("approve", "school", {}, "approved"),
    ("start", "teacher", {}, "in_progress"),
    (
        "complete",
        "teacher",
        {"evidence": EVIDENCE},
        "completed",
    ),
]


async def walk_to(api: httpx.AsyncClient, region: Region, route_id: str, status: str) -> None:
    who = actors(region)
    for action, role, body, target in STEPS:
        if action == "approve":
            body = {"tutor": {"teacher_id": region.id(TUTOR_EXT)}}
        r = await act(api, route_id, who[role], action, **body)
        assert r.status_code == 200, (action, r.text)
        if target == status:
            return


class TestWholeCycle:
    async def test_route_goes_through_every_step_to_the_archive(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        rid = summary["id"]
        await walk_to(api, region, rid, "completed")
        audit_id = str(uuid.uuid4())
        body = {"audit_id": audit_id, "total": 17, "completed_at": datetime.now(UTC).isoformat()}
        r = await api.post(f"/api/v1/routes/{rid}/audited", json=body, headers=auth(Role.service, region=REGION))
        assert r.status_code == 200 and r.json()["status"] == "audited"
        again = await api.post(f"/api/v1/routes/{rid}/audited", json=body, headers=auth(Role.service, region=REGION))
        assert again.status_code == 200  # idempotent per audit
        # The reflection follows the audit (regulation step 10), and the archive requires it.
        etag = (await route_of(api, rid)).headers["etag"]
        reflection = {"text": "Освоила приемы формирующего оценивания"}
        r = await api.put(
            f"/api/v1/routes/{rid}/reflection",
            json=reflection,
            headers={**as_teacher(region, "t-a1-1"), "If-Match": etag},
        )
        assert r.status_code == 200, r.text
        r = await act(api, rid, as_methodologist(MUN_A), "archive")
        assert r.status_code == 200 and r.json()["status"] == "archived"
        history = (await api.get(f"/api/v1/routes/{rid}/history", headers=as_regional())).json()
        assert [h["comment"] for h in history if h["action"] == "audited"] == ["аудит маршрута: 17 из 20 баллов"]
        assert [h["action"] for h in history] == [
            "generated",
            "recommend",
            "send_to_municipality",
            "agree_with_school",
            "approve",
            "start",
            "complete",
            "audited",
            "reflection",
            "archive",
        ]
        assert history[4]["actor_role"] == "school_admin"

    async def test_completion_keeps_reflection_and_evidence(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        await walk_to(api, region, summary["id"], "completed")
        route = (await route_of(api, summary["id"])).json()
        assert route["content"]["sections"]["reflection"]["products"] == EVIDENCE
        assert route["completed_at"] is not None


class TestRefusals:
    @pytest.mark.parametrize(
        ("step", "role"),
        [
            ("recommend", "teacher"),
            ("recommend", "methodologist"),
            ("send_to_municipality", "school"),
            ("agree_with_school", "regional"),
            ("agree_with_school", "teacher"),
            ("approve", "methodologist"),
            ("start", "methodologist"),
            ("complete", "school"),
        ],
    )
    async def test_wrong_role_is_403_and_nothing_changes(self, api: httpx.AsyncClient, step: str, role: str) -> None:
        region, summary = await a_route(api)
        rid = summary["id"]
        idx = [s[0] for s in STEPS].index(step)
        if idx:
            await walk_to(api, region, rid, STEPS[idx - 1][3])
        before = (await route_of(api, rid)).json()
        body = STEPS[idx][2]
        r = await act(api, rid, actors(region)[role], step, **body)
        assert r.status_code == 403, r.text
        after = (await route_of(api, rid)).json()
        assert (after["status"], after["version"]) == (before["status"], before["version"])

    async def test_step_from_the_wrong_state_is_409(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        r = await act(api, summary["id"], as_regional(), "send_to_municipality")
        assert r.status_code == 409 and r.json()["code"] == "transition-not-allowed"

    async def test_out_of_scope_actors_get_404(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        rid = summary["id"]
        await walk_to(api, region, rid, "sent_to_municipality")
        assert (await act(api, rid, as_methodologist(MUN_B), "agree_with_school", etag='"3"')).status_code == 404
        await walk_to_next(api, region, rid)
        assert (
            await act(
                api, rid, as_school(ORG_A2, MUN_A), "approve", etag='"4"', tutor={"teacher_id": region.id(TUTOR_EXT)}
            )
        ).status_code == 404

    async def test_other_teacher_cannot_start_my_route(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        await walk_to(api, region, summary["id"], "approved")
        r = await act(api, summary["id"], as_teacher(region, "t-a1-2"), "start", etag='"5"')
        assert r.status_code == 404

    async def test_approval_needs_a_tutor(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        await walk_to(api, region, summary["id"], "agreed_with_school")
        r = await act(api, summary["id"], as_school(ORG_A1, MUN_A), "approve")
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "tutor"]

    async def test_completion_needs_evidence(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        await walk_to(api, region, summary["id"], "in_progress")
        r = await act(api, summary["id"], as_teacher(region, "t-a1-1"), "complete")
        assert r.status_code == 422
        assert {e["loc"][-1] for e in r.json()["errors"]} == {"evidence"}

    async def test_only_the_audit_service_marks_audited(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        await walk_to(api, region, summary["id"], "completed")
        body = {"audit_id": str(uuid.uuid4()), "total": 12, "completed_at": datetime.now(UTC).isoformat()}
        r = await api.post(f"/api/v1/routes/{summary['id']}/audited", json=body, headers=as_methodologist(MUN_A))
        assert r.status_code == 403

    async def test_audited_before_completion_is_409(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        body = {"audit_id": str(uuid.uuid4()), "total": 12, "completed_at": datetime.now(UTC).isoformat()}
        r = await api.post(
            f"/api/v1/routes/{summary['id']}/audited", json=body, headers=auth(Role.service, region=REGION)
        )
        assert r.status_code == 409


async def walk_to_next(api: httpx.AsyncClient, region: Region, rid: str) -> None:
    r = await act(api, rid, as_methodologist(MUN_A), "agree_with_school")
    assert r.status_code == 200, r.text


class TestReturns:
    @pytest.mark.parametrize(
        ("reached", "role", "back_to"),
        [
            ("recommended", "regional", "draft"),
            ("sent_to_municipality", "methodologist", "recommended"),
            ("agreed_with_school", "school", "sent_to_municipality"),
        ],
    )
    async def test_each_step_can_return_with_a_comment(
        self, api: httpx.AsyncClient, reached: str, role: str, back_to: str
    ) -> None:
        region, summary = await a_route(api)
        await walk_to(api, region, summary["id"], reached)
        r = await act(api, summary["id"], actors(region)[role], "return_for_correction", comment="Уточнить сроки")
        assert r.status_code == 200 and r.json()["status"] == back_to
        history = (await api.get(f"/api/v1/routes/{summary['id']}/history", headers=as_regional())).json()
        assert history[-1]["comment"] == "Уточнить сроки"

    async def test_a_return_without_comment_is_422(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        await walk_to(api, region, summary["id"], "recommended")
        r = await act(api, summary["id"], as_regional(), "return_for_correction")
        assert r.status_code == 422


class TestConcurrency:
    async def test_missing_if_match_is_428(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        r = await act(api, summary["id"], as_regional(), "recommend", etag=None)
        assert r.status_code == 428

    async def test_stale_if_match_is_412(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        r = await act(api, summary["id"], as_regional(), "recommend", etag='"99"')
        assert r.status_code == 412

    async def test_two_approvals_with_one_etag_one_wins_one_412(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        rid = summary["id"]
        await walk_to(api, region, rid, "agreed_with_school")
        etag = (await route_of(api, rid)).headers["etag"]
        school = as_school(ORG_A1, MUN_A)
        results = await asyncio.gather(
            act(api, rid, school, "approve", etag=etag, tutor={"teacher_id": region.id(TUTOR_EXT)}),
            act(api, rid, school, "approve", etag=etag, tutor={"teacher_id": region.id(TUTOR_EXT)}),
        )
        assert sorted(r.status_code for r in results) == [200, 412]
        history = (await api.get(f"/api/v1/routes/{rid}/history", headers=as_regional())).json()
        assert [h["action"] for h in history].count("approve") == 1


class TestEdits:
    async def test_teacher_writes_the_professional_request(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        me = as_teacher(region, "t-a1-1")
        etag = (await route_of(api, summary["id"], me)).headers["etag"]
        r = await api.put(
            f"/api/v1/routes/{summary['id']}/request",
            json={"text": "Хочу научиться формирующему оцениванию", "interests": ["оценивание"]},
            headers={**me, "If-Match": etag},
        )
        assert r.status_code == 200, r.text
        assert r.json()["content"]["sections"]["professional_request"]["text"].startswith("Хочу")

    async def test_changing_generated_fields_needs_a_reason_and_is_recorded(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        route = (await route_of(api, summary["id"])).json()
        task = route["content"]["sections"]["goals"][0]["tasks"][0]
        h = {**as_regional(), "If-Match": f'"{route["version"]}"'}
        url = f"/api/v1/routes/{summary['id']}/tasks/{task['id']}"
        assert (
            await api.patch(url, json={"formulation": "Изучить приемы взаимооценивания"}, headers=h)
        ).status_code == 422
        r = await api.patch(
            url, json={"formulation": "Изучить приемы взаимооценивания", "reason": "уточнено с ОО"}, headers=h
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["overrides"][-1]["reason"] == "уточнено с ОО"
        assert body["content"]["sections"]["goals"][0]["tasks"][0]["formulation"] == "Изучить приемы взаимооценивания"

    async def test_corrections_while_in_progress_are_versioned(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        await walk_to(api, region, summary["id"], "in_progress")
        route = (await route_of(api, summary["id"])).json()
        task = route["content"]["sections"]["goals"][0]["tasks"][1]
        r = await api.patch(
            f"/api/v1/routes/{summary['id']}/tasks/{task['id']}",
            json={"ends_on": route["period_end"], "reason": "стажировка перенесена"},
            headers={**as_school(ORG_A1, MUN_A), "If-Match": f'"{route["version"]}"'},
        )
        assert r.status_code == 200, r.text
        assert r.json()["content_version"] == route["content_version"] + 1
        versions = (await api.get(f"/api/v1/routes/{summary['id']}/versions", headers=as_regional())).json()
        assert [v["content_version"] for v in versions][-2:] == [route["content_version"], route["content_version"] + 1]

    async def test_self_check_people_scores_complete_the_total(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        route = (await route_of(api, summary["id"])).json()
        assert route["self_check"]["total"] is None
        auto = {c["number"] for c in route["self_check"]["criteria"] if c["auto"]}
        assert auto == {1, 4, 6, 8, 9}
        r = await api.put(
            f"/api/v1/routes/{summary['id']}/self-check",
            json={"scores": {"2": 2, "3": 2, "5": 1, "7": 2, "10": 1}},
            headers={**as_methodologist(MUN_A), "If-Match": f'"{route["version"]}"'},
        )
        assert r.status_code == 200, r.text
        assert r.json()["self_check"]["total"] == route["self_check"]["auto_total"] + 8

    async def test_the_history_says_the_scores_in_words(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        route = (await route_of(api, summary["id"])).json()
        r = await api.put(
            f"/api/v1/routes/{summary['id']}/self-check",
            json={"scores": {"3": 1, "2": 2, "5": 0}},
            headers={**as_methodologist(MUN_A), "If-Match": f'"{route["version"]}"'},
        )
        assert r.status_code == 200, r.text
        history = (await api.get(f"/api/v1/routes/{summary['id']}/history", headers=as_regional())).json()
        said = "самопроверка: критерий 2 — 2 балла, критерий 3 — 1 балл, критерий 5 — 0 баллов"
        assert history[-1]["comment"] == said

    async def test_machine_criteria_cannot_be_overwritten(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        route = (await route_of(api, summary["id"])).json()
        r = await api.put(
            f"/api/v1/routes/{summary['id']}/self-check",
            json={"scores": {"1": 2}},
            headers={**as_regional(), "If-Match": f'"{route["version"]}"'},
        )
        assert r.status_code == 422


class TestHistory:
    async def test_history_cannot_be_rewritten(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        _, summary = await a_route(api)
        with pytest.raises(asyncpg.PostgresError):
            await db.execute(
                "UPDATE routes.route_events SET comment = 'forged' WHERE route_id = $1", uuid.UUID(summary["id"])
            )
        with pytest.raises(asyncpg.PostgresError):
            await db.execute("DELETE FROM routes.route_events WHERE route_id = $1", uuid.UUID(summary["id"]))


class TestReading:
    async def test_teacher_sees_own_routes_in_the_cabinet(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        mine = (await api.get("/api/v1/routes/mine", headers=as_teacher(region, "t-a1-1"))).json()["items"]
        assert [r["id"] for r in mine] == [summary["id"]]
        other = (await api.get("/api/v1/routes/mine", headers=as_teacher(region, "t-a1-2"))).json()["items"]
        assert other == []

    @pytest.mark.parametrize("suffix", ["", "/print", "/history", "/versions"])
    async def test_every_read_by_id_is_scoped(self, api: httpx.AsyncClient, suffix: str) -> None:
        region, summary = await a_route(api)
        url = f"/api/v1/routes/{summary['id']}{suffix}"
        for h in (
            as_methodologist(MUN_B),
            as_school(ORG_B1, MUN_B),
            as_school(ORG_A2, MUN_A),
            as_teacher(region, "t-a1-2"),
            auth(Role.regional_specialist, region="r-other"),
        ):
            assert (await api.get(url, headers=h)).status_code == 404
        for h in (as_methodologist(MUN_A), as_school(ORG_A1, MUN_A), as_teacher(region, "t-a1-1"), as_regional()):
            assert (await api.get(url, headers=h)).status_code == 200

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("post", "/transitions", {"action": "recommend"}),
            ("put", "/request", {"text": "x"}),
            ("post", "/recommendations", {"text": "Курс по оцениванию"}),
            ("put", "/self-check", {"scores": {"2": 1}}),
            ("patch", "/tasks/M2-L", {"done": True}),
        ],
    )
    async def test_every_write_by_id_is_scoped(
        self, api: httpx.AsyncClient, method: str, suffix: str, body: dict
    ) -> None:
        _, summary = await a_route(api)
        url = f"/api/v1/routes/{summary['id']}{suffix}"
        r = await api.request(method.upper(), url, json=body, headers={**as_methodologist(MUN_B), "If-Match": '"1"'})
        assert r.status_code == 404
        assert (await route_of(api, summary["id"])).json()["version"] == 1

    async def test_lists_filter_by_status_group_and_overdue(self, api: httpx.AsyncClient) -> None:
        await results_for(api, {"t-a1-1": {"M2", "M3"}, "t-a1-2": {"M1"}, "t-b1-1": {"M4"}})
        await wait_for_routes(api, 3)
        r = await api.get("/api/v1/routes", params={"status": "draft"}, headers=as_methodologist(MUN_A))
        assert len(r.json()["items"]) == 2
        r = await api.get("/api/v1/routes", params={"overdue": True}, headers=as_regional())
        assert r.json()["items"] == []
        r = await api.get("/api/v1/routes", params={"organisation": ORG_A1, "limit": 1}, headers=as_regional())
        page = r.json()
        assert len(page["items"]) == 1 and page["next_cursor"]
        r2 = await api.get(
            "/api/v1/routes",
            params={"organisation": ORG_A1, "limit": 1, "cursor": page["next_cursor"]},
            headers=as_regional(),
        )
        assert r2.json()["items"][0]["id"] != page["items"][0]["id"]

    async def test_printable_route_is_russian_html(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        r = await api.get(f"/api/v1/routes/{summary['id']}/print", headers=as_regional())
        assert r.headers["content-type"].startswith("text/html")
        assert "Индивидуальный образовательный маршрут" in r.text and "Самопроверка" in r.text
