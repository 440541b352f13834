"""Routes are supplied from the real resource map: concrete events per deficit, mentors for group 1."""

from __future__ import annotations

import httpx

from tests.region import MUN_A, as_regional, seed_region
from tests.resources.helpers import add_mentor, add_resource
from tests.routes.flow import results_for, route_of, wait_for_routes


async def route_for(api: httpx.AsyncClient, weak: set[str]) -> dict:
    await results_for(api, {"t-a1-1": weak})
    [summary] = await wait_for_routes(api, 1)
    return (await route_of(api, summary["id"])).json()


class TestForms:
    async def test_tasks_offer_concrete_events_from_the_catalogue_for_their_deficit(
        self, api: httpx.AsyncClient
    ) -> None:
        course = await add_resource(
            api,
            title="Курс: формирующее оценивание",
            competencies=["M3"],
            starts_on="2026-12-01",
            ends_on="2027-01-20",
            learning_type="formal",
        )
        club = await add_resource(
            api,
            kind="community",
            title="Клуб учителей математики",
            competencies=["M3"],
            learning_type="informal",
            mode="in_person",
            municipalities=[MUN_A],
        )
        await add_resource(api, title="Курс по другой компетенции", competencies=["M1"])
        route = await route_for(api, {"M3"})
        goal = next(g for g in route["content"]["sections"]["goals"] if g["competency"] == "M3")
        offered = {f["resource_id"] for t in goal["tasks"] for f in t["forms"]}
        assert {course["id"], club["id"]} <= offered
        for t in goal["tasks"]:
            for f in t["forms"]:
                assert f"«{goal['competency_name']}»" in f["reason"] and "M3" not in f["reason"]

    async def test_forms_make_the_machine_criterion_on_concreteness_pass(self, api: httpx.AsyncClient) -> None:
        await add_resource(
            api,
            title="Вебинар: оценивание",
            kind="event",
            event_format="webinar",
            competencies=["M3"],
            learning_type="non_formal",
            starts_on="2026-12-10",
            ends_on="2026-12-10",
        )
        await add_resource(
            api,
            kind="community",
            title="Методическое объединение",
            competencies=["M3"],
            learning_type="informal",
            mode="online",
        )
        route = await route_for(api, {"M3"})
        crit6 = next(c for c in route["self_check"]["criteria"] if c["number"] == 6)
        assert crit6["score"] == 2, crit6


class TestMentors:
    async def test_group_one_route_gets_a_mentor_from_the_region(self, api: httpx.AsyncClient) -> None:
        mentor = await add_mentor(
            api, municipality=MUN_A, subjects=["mathematics"], competencies=["M2", "M3"], capacity=3
        )
        route = await route_for(api, {"M1", "M2", "M3", "M4", "MA1", "MA2", "MA3", "MA4"})
        assert route["group"] == 1
        assert route["content"]["mentoring"]["mentor_id"] == mentor["id"]
        assert route["mentor_id"] == mentor["id"]

    async def test_the_route_and_the_export_name_the_mentor(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        teacher = region.teachers["t-a1-2"]  # a colleague of the same municipality is the methodist
        await add_mentor(
            api,
            teacher_id=region.id("t-a1-2"),
            municipality=MUN_A,
            subjects=["mathematics"],
            competencies=["M2", "M3"],
            capacity=3,
        )
        route = await route_for(api, {"M1", "M2", "M3", "M4", "MA1", "MA2", "MA3", "MA4"})
        mentoring = route["content"]["mentoring"]
        assert mentoring["label"] == teacher["full_name"] and "тот же муниципалитет" in mentoring["reason"]
        month = route["period_start"][:7]
        r = await api.get(
            "/api/v1/exports/monthly",
            params={"month": month, "municipality": MUN_A, "format": "json"},
            headers=as_regional(),
        )
        assert [row["mentor"] for row in r.json()] == [teacher["full_name"]]

    async def test_without_mentors_the_route_says_why(self, api: httpx.AsyncClient) -> None:
        route = await route_for(api, {"M1", "M2", "M3", "M4", "MA1", "MA2", "MA3", "MA4"})
        assert route["group"] == 1
        mentoring = route["content"]["mentoring"]
        assert mentoring["mentor_id"] is None and mentoring["reason"]
        texts = [r["text"] for r in route["content"]["sections"]["recommendations"]]
        assert any("Наставник не назначен" in t for t in texts)

    async def test_regional_list_shows_the_routes(self, api: httpx.AsyncClient) -> None:
        await route_for(api, {"M2"})
        assert len((await api.get("/api/v1/routes", headers=as_regional())).json()["items"]) == 1


class TestMatchingContract:
    async def test_a_deficits_alternatives_do_not_depend_on_the_order_of_the_deficits(
        self, api: httpx.AsyncClient
    ) -> None:
        # Route generation asks once for teachers whose deficits differ only in order (weakest first).
        await add_resource(api, title="Курс: оценивание", competencies=["M3"], learning_type="formal")
        await add_resource(api, title="Курс: технологии", competencies=["M2"], learning_type="formal")
        await add_resource(
            api,
            kind="community",
            title="Клуб: оценивание и технологии",
            competencies=["M2", "M3"],
            learning_type="informal",
            municipalities=[MUN_A],
        )
        await add_mentor(api, municipality=MUN_A, subjects=["mathematics"], competencies=["M2", "M3"])
        query = {
            "subject": "mathematics",
            "group": 1,
            "municipality": MUN_A,
            "period": {"start": "2026-12-01", "end": "2027-05-31"},
        }
        r = await api.post(
            "/api/v1/matching/batch",
            json={"queries": [{**query, "deficits": ["M2", "M3"]}, {**query, "deficits": ["M3", "M2"]}]},
            headers=as_regional(),
        )
        assert r.status_code == 200, r.text
        first, second = ({d["competency"]: d for d in res["deficits"]} for res in r.json()["results"])
        assert set(first) == set(second) == {"M2", "M3"}
        for code in ("M2", "M3"):
            assert first[code]["alternatives"], code
            for key in ("alternatives", "mentors"):
                mine = [(a["id"], a["score"], a["reasons"]) for a in first[code][key]]
                assert mine == [(a["id"], a["score"], a["reasons"]) for a in second[code][key]], (code, key)
