"""KPIs and effectiveness of measures through the gateway, against numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.assessment.intake_support import create_campaign as create_assessment_campaign
from tests.assessment.intake_support import csv_text, row, scores_with, setup_intake, upload
from tests.audit.support import (
    WEAK_FOR_GROUP,
    complete_route,
    create_campaign,
    row_with_total_percent,
    upload_scores,
    wait_for_routes,
)
from tests.harness import Stack
from tests.region import MUN_A, MUN_B, Region, as_methodologist, as_regional


async def assess(api: httpx.AsyncClient, campaign_id: str, groups: dict[str, int] | dict[str, set[str]]) -> None:
    rows = [row(ext, scores_with(WEAK_FOR_GROUP[g] if isinstance(g, int) else g)) for ext, g in groups.items()]
    r = await upload(api, campaign_id, csv_text(rows))
    assert r.status_code in (200, 201), r.text


async def kpis(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, dict[str, Any]]:
    r = await api.get("/api/v1/kpi", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return {k["code"]: k for k in r.json()["kpis"]}


async def region_with_routes(api: httpx.AsyncClient) -> Region:
    """5 teachers (3 in A, 2 in B); 3 assessed: A low, A elevated, B basic; one route completed in A."""
    intake = await setup_intake(api)
    await assess(api, intake.campaign_id, {"t-a1-1": 1, "t-a1-2": 3, "t-b1-1": 2})
    routes = await wait_for_routes(api, 3)
    first = next(r for r in routes if str(r["teacher_id"]) == intake.region.id("t-a1-1"))
    await complete_route(api, intake.region, first)
    campaign = await create_campaign(api, "m-2026", "2026-03-01")
    await upload_scores(api, campaign["id"], [row_with_total_percent(MUN_A, 50), row_with_total_percent(MUN_B, 29)])
    return intake.region


class TestKpi:
    async def test_region_kpis_match_hand_counts(self, api: httpx.AsyncClient) -> None:
        await region_with_routes(api)
        k = await kpis(api, as_regional())
        assert (k["teachers_assessed"]["numerator"], k["teachers_assessed"]["denominator"]) == (3, 5)
        assert k["teachers_assessed"]["value"] == 60.0
        assert (k["basic_or_higher"]["numerator"], k["basic_or_higher"]["value"]) == (2, 66.7)
        assert k["basic_or_higher"]["target"] == 60.0 and k["basic_or_higher"]["meets_target"] is True
        assert (k["teachers_with_route"]["numerator"], k["teachers_with_route"]["value"]) == (3, 60.0)
        assert k["routes_created"]["value"] == 3
        assert (k["completed_matching_courses"]["numerator"], k["completed_matching_courses"]["denominator"]) == (0, 3)
        assert (k["municipalities_engaged"]["numerator"], k["municipalities_engaged"]["denominator"]) == (1, 2)
        assert all(x["status"] == "ok" for x in k.values())

    async def test_municipal_methodologist_gets_own_municipality(self, api: httpx.AsyncClient) -> None:
        await region_with_routes(api)
        h = as_methodologist(MUN_A)
        r = await api.get("/api/v1/kpi", headers=h)
        assert r.json()["scope"]["municipality"] == MUN_A and r.json()["monitoring_campaign"] == "m-2026"
        k = {x["code"]: x for x in r.json()["kpis"]}
        assert (k["teachers_assessed"]["numerator"], k["teachers_assessed"]["denominator"]) == (2, 3)
        assert (k["basic_or_higher"]["numerator"], k["basic_or_higher"]["denominator"]) == (1, 2)
        assert k["basic_or_higher"]["meets_target"] is False
        assert k["routes_created"]["value"] == 2
        assert (k["municipalities_engaged"]["numerator"], k["municipalities_engaged"]["denominator"]) == (1, 1)
        other = await api.get("/api/v1/kpi", params={"municipality": MUN_B}, headers=h)
        assert other.status_code == 404

    async def test_period_outside_routes_and_campaigns(self, api: httpx.AsyncClient) -> None:
        await region_with_routes(api)
        k = await kpis(api, as_regional(), date_from="2025-01-01", date_to="2025-12-31")
        # No assessment campaign in 2025, no route created then, no monitoring campaign before.
        assert k["teachers_assessed"]["numerator"] == 0 and k["routes_created"]["value"] == 0
        assert k["municipalities_engaged"]["numerator"] == 0
        bad = await api.get(
            "/api/v1/kpi", params={"date_from": "2026-02-01", "date_to": "2026-01-01"}, headers=as_regional()
        )
        assert bad.status_code == 422

    async def test_routes_down_leaves_other_kpis(self, api: httpx.AsyncClient, live: Stack) -> None:
        await region_with_routes(api)
        live.stop("routes")
        try:
            k = await kpis(api, as_regional())
        finally:
            live.start("routes")
        assert k["teachers_assessed"]["status"] == "ok" and k["municipalities_engaged"]["status"] == "ok"
        assert k["routes_created"]["status"] == "unavailable"
        assert k["teachers_with_route"]["detail"] == "Сервис маршрутов временно недоступен"


class TestEffectiveness:
    async def test_route_cohort_against_teachers_without_a_completed_route(self, api: httpx.AsyncClient) -> None:
        intake = await setup_intake(api)
        before = {"t-a1-1": 1, "t-a1-2": 2, "t-b1-1": 1, "t-b2-1": 2}
        await assess(api, intake.campaign_id, before)
        routes = await wait_for_routes(api, 4)
        for ext in ("t-a1-1", "t-a1-2"):
            route = next(r for r in routes if str(r["teacher_id"]) == intake.region.id(ext))
            await complete_route(api, intake.region, route)
        later = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        second = await create_assessment_campaign(api, name="ФИОКО: повторная оценка", assessed_on=later)
        # t-a1-1: 5 deficits -> 2 (level 1 -> 3); t-a1-2: 3 -> 0 (2 -> 4); with routes.
        # t-b1-1: 5 -> 5 (1 -> 1); t-b2-1: 3 deficits, none closed, 5 new (2 -> 1); no completed route.
        await assess(api, second["id"], {"t-a1-1": 3, "t-a1-2": 4, "t-b1-1": 1, "t-b2-1": 1})
        r = await api.get("/api/v1/effectiveness", headers=as_regional())
        assert r.status_code == 200, r.text
        got = r.json()
        w, wo = got["with_route"], got["without_route"]
        assert (w["teachers"], w["deficits_before"], w["deficits_closed"]) == (2, 8, 6)
        assert (w["improved"], w["same"], w["declined"], w["mean_level_change"]) == (2, 0, 0, 2.0)
        assert w["closed_share"] == 75.0 and w["improved_share"] == 100.0 and w["reliable"] is True
        assert (wo["teachers"], wo["deficits_before"], wo["deficits_closed"]) == (2, 8, 0)
        assert (wo["improved"], wo["same"], wo["declined"], wo["mean_level_change"]) == (0, 1, 1, -0.5)
        assert got["difference"] == {"closed_share_pp": 75.0, "improved_share_pp": 100.0}
        by_mun = {b["key"]: b for b in got["by_municipality"]}
        assert by_mun[MUN_A]["with_route"]["teachers"] == 2 and by_mun[MUN_B]["without_route"]["teachers"] == 2
        by_group = {b["key"]: b for b in got["by_group"]}
        assert by_group["1"]["with_route"]["teachers"] == 1 and by_group["1"]["with_route"]["reliable"] is False
        assert by_group["1"]["with_route"]["closed_share"] is None
        assert sum(b["with_route"]["teachers"] for b in got["by_mentor"]) == 2

        mine = (await api.get("/api/v1/effectiveness", headers=as_methodologist(MUN_B))).json()
        assert mine["with_route"]["teachers"] == 0 and mine["without_route"]["teachers"] == 2
