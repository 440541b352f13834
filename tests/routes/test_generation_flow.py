"""Routes are generated from results arriving in the assessment service, with no one asking."""

from __future__ import annotations

import httpx

from tests.region import as_regional
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
        import asyncio

        await asyncio.sleep(1.5)
        routes = (await api.get("/api/v1/routes", headers=as_regional())).json()["items"]
        assert len(routes) == 1
