"""Teacher profile, results and analytics through the gateway, scoped by role."""

from __future__ import annotations

import httpx

from tests.assessment.intake_support import (
    Intake,
    create_campaign,
    csv_text,
    full_marks,
    row,
    scores_with,
    setup_intake,
    upload,
)
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_A2, ORG_B1, as_methodologist, as_regional, as_school, as_teacher

# Levels by share of 57 points: full marks = high; only the methodological items (28) = 49.1 % basic;
# nothing but M1..M2 (14) = 24.6 % low; everything but MA1..MA2 (42 of 57 = 73.7 %) = elevated.
HIGH = full_marks()
BASIC = scores_with({"MA1", "MA2", "MA3", "MA4"})
LOW = scores_with({"MA1", "MA2", "MA3", "MA4", "M3", "M4"})
ELEVATED = scores_with({"MA1", "MA2"})


async def two_years(api: httpx.AsyncClient) -> tuple[Intake, str]:
    """2026 campaign (from setup) and a 2025 one; returns the intake and the 2025 campaign id."""
    it = await setup_intake(api)
    old = await create_campaign(api, name="ФИОКО 2025: математика", assessed_on="2025-04-10")
    await upload(
        api, old["id"], csv_text([row("t-a1-1", LOW), row("t-a1-2", LOW), row("t-a2-1", BASIC), row("t-b1-1", HIGH)])
    )
    await upload(
        api,
        it.campaign_id,
        csv_text([row("t-a1-1", BASIC), row("t-a1-2", LOW), row("t-a2-1", HIGH), row("t-b1-1", ELEVATED)]),
    )
    return it, str(old["id"])


class TestProfile:
    async def test_teacher_sees_results_over_time_and_change(self, api: httpx.AsyncClient) -> None:
        it, old = await two_years(api)
        r = await api.get(f"/api/v1/teachers/{it.region.id('t-a1-1')}/profile", headers=as_teacher(it.region, "t-a1-1"))
        assert r.status_code == 200, r.text
        p = r.json()
        assert [x["campaign"]["id"] for x in p["results"]] == [old, it.campaign_id]
        assert [x["level"] for x in p["results"]] == ["low", "basic"]
        assert p["results"][0]["change"] is None
        [cur] = p["current"]
        assert (cur["subject"], cur["level"], cur["group"]) == ("mathematics", "basic", 2)
        change = cur["change"]
        assert (change["direction"], change["group_delta"], change["previous_level"]) == ("up", 1, "low")
        assert change["closed_deficits"] == ["M3", "M4"] and change["new_deficits"] == []
        assert {d["competency"] for d in cur["deficits"]} == {"MA1", "MA2", "MA3", "MA4"}
        assert {s["competency"] for s in cur["strengths"]} == {"M1", "M2", "M3", "M4"}

    async def test_teacher_cannot_read_a_colleagues_profile(self, api: httpx.AsyncClient) -> None:
        it, _ = await two_years(api)
        r = await api.get(f"/api/v1/teachers/{it.region.id('t-a1-2')}/profile", headers=as_teacher(it.region, "t-a1-1"))
        assert r.status_code == 404

    async def test_school_and_municipality_scope(self, api: httpx.AsyncClient) -> None:
        it, _ = await two_years(api)
        path = f"/api/v1/teachers/{it.region.id('t-a2-1')}/profile"
        assert (await api.get(path, headers=as_school(ORG_A1, MUN_A))).status_code == 404
        assert (await api.get(path, headers=as_school(ORG_A2, MUN_A))).status_code == 200
        assert (await api.get(path, headers=as_methodologist(MUN_B))).status_code == 404
        assert (await api.get(path, headers=as_methodologist(MUN_A))).status_code == 200


class TestResults:
    async def test_methodologist_lists_only_own_municipality(self, api: httpx.AsyncClient) -> None:
        it, _ = await two_years(api)
        r = await api.get("/api/v1/results", params={"campaign_id": it.campaign_id}, headers=as_methodologist(MUN_A))
        assert {x["external_id"] for x in r.json()["items"]} == {"t-a1-1", "t-a1-2", "t-a2-1"}
        other = (
            await api.get("/api/v1/results", params={"municipality": MUN_B}, headers=as_methodologist(MUN_A))
        ).json()
        assert other["items"] == []

    async def test_result_out_of_scope_is_404(self, api: httpx.AsyncClient) -> None:
        it, _ = await two_years(api)
        r = await api.get(
            "/api/v1/results", params={"municipality": MUN_B, "campaign_id": it.campaign_id}, headers=as_regional()
        )
        rid = r.json()["items"][0]["id"]
        assert (await api.get(f"/api/v1/results/{rid}", headers=as_methodologist(MUN_A))).status_code == 404
        got = await api.get(f"/api/v1/results/{rid}", headers=as_methodologist(MUN_B))
        assert got.status_code == 200 and got.headers["etag"] == '"1"'
        assert got.json()["change"]["direction"] == "down"

    async def test_keyset_pages(self, api: httpx.AsyncClient) -> None:
        await two_years(api)
        seen, cursor = [], None
        while True:
            params: dict[str, object] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await api.get("/api/v1/results", params=params, headers=as_regional())).json()
            seen += [x["id"] for x in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == 8


class TestAnalytics:
    async def test_levels_per_municipality_add_up(self, api: httpx.AsyncClient) -> None:
        it, _ = await two_years(api)
        r = await api.get(
            "/api/v1/assessment/analytics/levels",
            params={"group_by": "municipality", "campaign_id": it.campaign_id},
            headers=as_regional(),
        )
        assert r.status_code == 200, r.text
        rows = {x["key"]: x for x in r.json()["rows"]}
        a = {lv["level"]: (lv["count"], lv["percent"]) for lv in rows[MUN_A]["levels"]}
        assert a == {"low": (1, 33.4), "basic": (1, 33.3), "elevated": (0, 0.0), "high": (1, 33.3)}
        assert rows[MUN_A]["label"] == "Округ А" and rows[MUN_A]["total"] == 3
        for x in [*rows.values(), r.json()["overall"]]:
            assert round(sum(lv["percent"] for lv in x["levels"]), 1) == 100.0
            assert sum(lv["count"] for lv in x["levels"]) == x["total"]
        assert r.json()["overall"]["total"] == 4

    async def test_latest_result_per_teacher_by_subject(self, api: httpx.AsyncClient) -> None:
        await two_years(api)
        r = await api.get("/api/v1/assessment/analytics/levels", headers=as_regional())
        [math] = r.json()["rows"]
        assert math["key"] == "mathematics" and math["total"] == 4
        by_campaign = await api.get(
            "/api/v1/assessment/analytics/levels", params={"group_by": "campaign"}, headers=as_regional()
        )
        assert sorted(x["total"] for x in by_campaign.json()["rows"]) == [4, 4]

    async def test_methodologist_sees_only_own_municipality(self, api: httpx.AsyncClient) -> None:
        await two_years(api)
        r = await api.get(
            "/api/v1/assessment/analytics/levels", params={"group_by": "municipality"}, headers=as_methodologist(MUN_B)
        )
        assert [x["key"] for x in r.json()["rows"]] == [MUN_B]
        kpi = (await api.get("/api/v1/assessment/analytics/kpi", headers=as_methodologist(MUN_B))).json()
        assert (kpi["assessed"], kpi["registered_teachers"]) == (1, 2)

    async def test_teacher_gets_403(self, api: httpx.AsyncClient) -> None:
        it, _ = await two_years(api)
        r = await api.get("/api/v1/assessment/analytics/kpi", headers=as_teacher(it.region, "t-a1-1"))
        assert r.status_code == 403

    async def test_dynamics_markers(self, api: httpx.AsyncClient) -> None:
        await two_years(api)
        r = await api.get("/api/v1/assessment/analytics/dynamics", headers=as_regional())
        assert r.status_code == 200, r.text
        [math] = r.json()["subjects"]
        assert math["assessed_by_year"] == {"2025": 4, "2026": 4}
        low = next(g for g in math["groups"] if g["level"] == "low")["years"]
        assert [(y["year"], y["count"], y["percent"], y["marker"]) for y in low] == [
            (2025, 2, 50.0, None),
            (2026, 1, 25.0, "down"),
        ]
        assert low[1]["delta"] == -25.0
        elevated = next(g for g in math["groups"] if g["level"] == "elevated")["years"]
        assert elevated[1]["marker"] == "up"
        basic_plus = math["basic_or_higher"]
        assert [(y["percent"], y["marker"]) for y in basic_plus] == [(50.0, None), (75.0, "up")]

    async def test_top_deficits(self, api: httpx.AsyncClient) -> None:
        it, _ = await two_years(api)
        r = await api.get(
            "/api/v1/assessment/analytics/deficits",
            params={"campaign_id": it.campaign_id, "limit": 3},
            headers=as_regional(),
        )
        [math] = r.json()["subjects"]
        assert math["assessed"] == 4
        top = [(d["competency"], d["count"], d["percent"]) for d in math["top"]]
        # MA1 and MA2 are deficits of all but t-a2-1; MA3 and MA4 of t-a1-1 and t-a1-2.
        assert top == [("MA1", 3, 75.0), ("MA2", 3, 75.0), ("MA3", 2, 50.0)]
        assert math["top"][0]["name"].startswith("Числа")

    async def test_kpi_share_basic_or_higher(self, api: httpx.AsyncClient) -> None:
        await two_years(api)
        kpi = (await api.get("/api/v1/assessment/analytics/kpi", headers=as_regional())).json()
        assert kpi == {
            "assessed": 4,
            "basic_or_higher": 3,
            "share_basic_or_higher": 75.0,
            "target": 60.0,
            "meets_target": True,
            "registered_teachers": 5,
            "share_assessed": 80.0,
            "young_teachers": 0,
            "birth_year_known": 0,
            "young_teacher_ids": None,
        }
        old = (await api.get("/api/v1/assessment/analytics/kpi", params={"year": 2025}, headers=as_regional())).json()
        assert (old["share_basic_or_higher"], old["meets_target"]) == (50.0, False)
        school = (
            await api.get("/api/v1/assessment/analytics/kpi", params={"organisation": ORG_B1}, headers=as_regional())
        ).json()
        assert school["assessed"] == 1
