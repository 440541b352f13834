"""Routes are generated from results arriving in the assessment service, with no one asking."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from kit.app import service_database_url
from kit.client import GatewayClient
from kit.db import make_engine, make_sessionmaker
from kit.settings import CommonSettings
from services.routes.clients import ResourceMapClient
from services.routes.config import RoutesSettings
from services.routes.feed import FeedConsumer
from tests.harness import Stack
from tests.region import MUN_A, as_methodologist, as_regional, as_teacher
from tests.routes.factory import insert_route
from tests.routes.flow import results_for, route_of, wait_for_routes


class TestAutomaticGeneration:
    async def test_uploaded_results_produce_one_draft_route_per_teacher(self, api: httpx.AsyncClient) -> None:
        intake = await results_for(api, {"t-a1-1": {"M2", "M3"}, "t-b1-1": {"M1"}})
        routes = await wait_for_routes(api, 2)
        assert {r["teacher_id"] for r in routes} == {intake.region.id("t-a1-1"), intake.region.id("t-b1-1")}
        assert {r["status"] for r in routes} == {"draft"}

    async def test_route_tasks_follow_the_deficits_with_reasons(self, api: httpx.AsyncClient) -> None:
        intake = await results_for(api, {"t-a1-1": {"M2", "M3"}})
        [summary] = await wait_for_routes(api, 1)
        route = (await route_of(api, summary["id"])).json()
        goals = route["content"]["sections"]["goals"]
        assert {g["competency"] for g in goals} >= {"M2", "M3"}
        for g in goals:
            assert [t["kind"] for t in g["tasks"]] == ["learning", "practice_change"]
            assert g["tasks"][0]["reason"]["deficit"] == g["competency"]
        assert (
            route["content"]["sections"]["personal_profile"]["full_name"]
            == intake.region.teachers["t-a1-1"]["full_name"]
        )

    async def test_resending_the_same_results_does_not_duplicate_routes(self, api: httpx.AsyncClient) -> None:
        intake = await results_for(api, {"t-a1-1": {"M2"}})
        await wait_for_routes(api, 1)
        await results_for(api, {"t-a1-1": {"M2"}}, intake)
        await results_for(api, {"t-a1-1": {"M2", "M4"}}, intake)
        await asyncio.sleep(1.5)
        routes = (await api.get("/api/v1/routes", headers=as_regional())).json()["items"]
        assert len(routes) == 1


class TestCatchUp:
    async def test_routes_service_down_during_upload_catches_up_without_loss_or_duplicates(
        self, api: httpx.AsyncClient, live: Stack
    ) -> None:
        live.stop("routes")
        try:
            intake = await results_for(api, {"t-a1-1": {"M2"}, "t-a1-2": {"M3"}, "t-b1-1": {"M1", "M4"}})
            await results_for(api, {"t-a2-1": {"M2"}}, intake)
        finally:
            live.start("routes")
        routes = await wait_for_routes(api, 4)
        await asyncio.sleep(1.0)  # give a duplicate every chance to appear
        routes = (await api.get("/api/v1/routes", headers=as_regional())).json()["items"]
        assert len(routes) == 4
        assert len({r["teacher_id"] for r in routes}) == 4


class TestOnRequest:
    async def test_generation_for_one_teacher_on_request(self, api: httpx.AsyncClient, live: Stack) -> None:
        live.stop("routes")
        try:
            intake = await results_for(api, {"t-a1-1": {"M2"}, "t-b1-1": {"M3"}})
        finally:
            live.start("routes")
        r = await api.post(
            "/api/v1/routes/generate", json={"teacher_id": intake.region.id("t-a1-1")}, headers=as_regional()
        )
        assert r.status_code == 200, r.text
        assert r.json()["created"] + r.json()["unchanged"] == 1

    async def test_generation_for_a_campaign_is_idempotent(self, api: httpx.AsyncClient) -> None:
        intake = await results_for(api, {"t-a1-1": {"M2"}, "t-b1-1": {"M3"}})
        await wait_for_routes(api, 2)
        r = await api.post("/api/v1/routes/generate", json={"campaign_id": intake.campaign_id}, headers=as_regional())
        assert r.status_code == 200, r.text
        assert r.json() == {"considered": 2, "created": 0, "regenerated": 0, "unchanged": 2, "outdated": 0}

    async def test_methodologist_generates_only_within_the_municipality(self, api: httpx.AsyncClient) -> None:
        intake = await results_for(api, {"t-b1-1": {"M3"}})
        r = await api.post(
            "/api/v1/routes/generate", json={"teacher_id": intake.region.id("t-b1-1")}, headers=as_methodologist(MUN_A)
        )
        assert r.status_code == 404

    async def test_teacher_cannot_request_generation(self, api: httpx.AsyncClient) -> None:
        intake = await results_for(api, {"t-a1-1": {"M2"}})
        r = await api.post(
            "/api/v1/routes/generate",
            json={"teacher_id": intake.region.id("t-a1-1")},
            headers=as_teacher(intake.region, "t-a1-1"),
        )
        assert r.status_code == 403


class TestHistoryLoads:
    async def test_results_older_than_a_year_get_no_route(self, api: httpx.AsyncClient) -> None:
        from tests.assessment.intake_support import create_campaign, csv_text, row, scores_with, upload

        intake = await results_for(api, {"t-a1-1": {"M2"}})
        await wait_for_routes(api, 1)
        old = await create_campaign(api, name="ФИОКО 2024", assessed_on="2024-04-10")
        r = await upload(api, str(old["id"]), csv_text([row("t-b1-1", scores_with({"M3"}))]))
        assert r.status_code == 200, r.text
        r = await api.post("/api/v1/routes/generate", json={"campaign_id": str(old["id"])}, headers=as_regional())
        assert r.json()["outdated"] == 1 and r.json()["created"] == 0
        await asyncio.sleep(1.0)
        routes = (await api.get("/api/v1/routes", headers=as_regional())).json()["items"]
        assert [x["teacher_id"] for x in routes] == [intake.region.id("t-a1-1")]


class TestStats:
    async def test_stats_count_routes_in_scope(self, api: httpx.AsyncClient) -> None:
        await results_for(api, {"t-a1-1": {"M2"}, "t-a1-2": {"M3"}, "t-b1-1": {"M1"}})
        await wait_for_routes(api, 3)
        mine = (await api.get("/api/v1/routes/stats", headers=as_methodologist(MUN_A))).json()
        assert {k: v for k, v in mine.items() if k != "by_status_and_group"} == {
            "teachers_with_route": 2,
            "routes_created": 2,
            "routes_completed": 0,
            "teachers_completed_matching_courses": 0,
            "overdue_control_points": 0,
            "routes_with_overdue": 0,
            "tutors": [],
        }
        assert sum(c["routes"] for c in mine["by_status_and_group"]) == 2
        region = (await api.get("/api/v1/routes/stats", headers=as_regional())).json()
        assert region["routes_created"] == 3

    async def test_outcomes_page_through_every_route(self, api: httpx.AsyncClient) -> None:
        await results_for(api, {"t-a1-1": {"M2"}, "t-a1-2": {"M3"}, "t-b1-1": {"M1"}})
        await wait_for_routes(api, 3)
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await api.get("/api/v1/routes/outcomes", params=params, headers=as_regional())).json()
            seen += [o["route_id"] for o in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == 3

    async def test_outcomes_of_routes_with_a_mentor_only(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        mentored = [await insert_route(db, group=1) for _ in range(2)]
        alone = await insert_route(db, group=2)
        pages = {}
        for flag in ("true", "false"):
            params = {"mentored": flag}
            r = await api.get("/api/v1/routes/outcomes", params=params, headers=as_regional())
            assert r.status_code == 200, r.text
            pages[flag] = {o["route_id"] for o in r.json()["items"]}
        assert pages["true"] == {str(m["id"]) for m in mentored}
        assert pages["false"] == {str(alone["id"])}


class TestRegeneration:
    async def test_new_results_regenerate_a_draft_and_keep_manual_edits(self, api: httpx.AsyncClient) -> None:
        intake = await results_for(api, {"t-a1-1": {"M2"}})
        [summary] = await wait_for_routes(api, 1)
        route = (await api.get(f"/api/v1/routes/{summary['id']}", headers=as_regional())).json()
        task = next(t for g in route["content"]["sections"]["goals"] for t in g["tasks"] if t["id"] == "M2-L")
        r = await api.patch(
            f"/api/v1/routes/{summary['id']}/tasks/M2-L",
            json={"formulation": "Изучить приемы проблемного обучения на уроках", "reason": "по запросу педагога"},
            headers={**as_regional(), "If-Match": f'"{route["version"]}"'},
        )
        assert r.status_code == 200, r.text
        assert task["formulation"] != "Изучить приемы проблемного обучения на уроках"
        await results_for(api, {"t-a1-1": {"M2", "M3"}}, intake)  # corrected results: one more deficit
        for _ in range(100):
            route = (await api.get(f"/api/v1/routes/{summary['id']}", headers=as_regional())).json()
            if {g["competency"] for g in route["content"]["sections"]["goals"]} >= {"M2", "M3"}:
                break
            await asyncio.sleep(0.2)
        goals = {g["competency"]: g for g in route["content"]["sections"]["goals"]}
        assert {"M2", "M3"} <= set(goals)
        kept = next(t for t in goals["M2"]["tasks"] if t["id"] == "M2-L")
        assert kept["formulation"] == "Изучить приемы проблемного обучения на уроках"
        assert route["content_version"] == 2
        history = (await api.get(f"/api/v1/routes/{summary['id']}/history", headers=as_regional())).json()
        assert "regenerated" in [h["action"] for h in history]

    async def test_routes_under_review_are_not_regenerated(self, api: httpx.AsyncClient) -> None:
        intake = await results_for(api, {"t-a1-1": {"M2"}})
        [summary] = await wait_for_routes(api, 1)
        etag = (await api.get(f"/api/v1/routes/{summary['id']}", headers=as_regional())).headers["etag"]
        r = await api.post(
            f"/api/v1/routes/{summary['id']}/transitions",
            json={"action": "recommend"},
            headers={**as_regional(), "If-Match": etag},
        )
        assert r.status_code == 200
        await results_for(api, {"t-a1-1": {"M2", "M3"}}, intake)
        await asyncio.sleep(1.5)
        route = (await api.get(f"/api/v1/routes/{summary['id']}", headers=as_regional())).json()
        assert {g["competency"] for g in route["content"]["sections"]["goals"]} == {"M2"}
        assert route["content_version"] == 1


@contextlib.asynccontextmanager
async def feed_consumer(live: Stack, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FeedConsumer]:
    """A feed consumer in the test process, on the stack's database and gateway, as the service builds it."""
    for key, value in live.env.items():
        monkeypatch.setenv(key, value)
    common, settings = CommonSettings(), RoutesSettings()
    engine = make_engine(service_database_url(common, settings), pool_size=2)
    client = GatewayClient(common, caller="routes", timeout=60)
    try:
        yield FeedConsumer.of_service(make_sessionmaker(engine), client, ResourceMapClient(client), settings)
    finally:
        await client.aclose()
        await engine.dispose()


class TestReplan:
    async def test_a_draft_edited_while_its_page_was_planned_is_generated_again_from_the_edit(
        self, api: httpx.AsyncClient, live: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        intake = await results_for(api, {"t-a1-1": {"M2"}})
        [summary] = await wait_for_routes(api, 1)
        url = f"/api/v1/routes/{summary['id']}"
        # The routes service answers the API but consumes no feed: the consumer below is the only one.
        live.stop("routes")
        monkeypatch.setitem(live.env, "ROUTES_FEED_ENABLED", "false")
        live.start("routes")
        try:
            await results_for(api, {"t-a1-1": {"M2", "M3"}}, intake)  # corrected results: one more deficit
            async with feed_consumer(live, monkeypatch) as consumer:
                planned = await consumer.plan_ahead()
                assert planned is not None
                page = await planned
                assert page.plan is not None and page.plan.regenerations  # the draft, as it was read
                # A methodologist edits the draft after the page was planned, before it is written.
                etag = (await route_of(api, summary["id"])).headers["etag"]
                edit = {"formulation": "Изучить приемы проблемного обучения на уроках", "reason": "по запросу педагога"}
                r = await api.patch(f"{url}/tasks/M2-L", json=edit, headers={**as_regional(), "If-Match": etag})
                assert r.status_code == 200, r.text
                with caplog.at_level(logging.INFO, logger="routes.feed"):
                    _more, outcome = await consumer.step()
        finally:
            live.stop("routes")
            monkeypatch.setitem(live.env, "ROUTES_FEED_ENABLED", "true")
            live.start("routes")
        assert outcome is not None and outcome.regenerated == 1
        assert [getattr(rec, "replanned", None) for rec in caplog.records if rec.msg == "feed page processed"] == [True]
        route = (await route_of(api, summary["id"])).json()
        goals = {g["competency"]: g for g in route["content"]["sections"]["goals"]}
        assert {"M2", "M3"} <= set(goals)  # the new results are in
        assert next(t for t in goals["M2"]["tasks"] if t["id"] == "M2-L")["formulation"] == edit["formulation"]
        routes = (await api.get("/api/v1/routes", headers=as_regional())).json()["items"]
        assert [r["id"] for r in routes] == [summary["id"]]
