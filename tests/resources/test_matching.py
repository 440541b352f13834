"""Matching: explanations, filters and the mix of learning types (HTTP), and the pure matcher."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import httpx
import pytest

from services.resources import matching
from services.resources.catalogue_index import CatalogueIndex
from tests.resources.helpers import MUN_A, MUN_B, add_mentor, add_resource, as_regional, new_id, teacher_headers

URL = "/api/v1/matching"


def ask(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"deficits": ["M3"], "subject": "mathematics", "group": 1, "municipality": MUN_A}
    body.update(over)
    return body


async def titles(api: httpx.AsyncClient, **over: Any) -> list[str]:
    r = await api.post(URL, json=ask(**over), headers=as_regional())
    assert r.status_code == 200, r.text
    return [a["title"] for a in r.json()["deficits"][0]["alternatives"]]


class TestMatchingFilters:
    async def test_only_resources_available_in_the_municipality_or_online(self, api: httpx.AsyncClient) -> None:
        await add_resource(api, title="Очно в А", mode="in_person", municipalities=[MUN_A])
        await add_resource(api, title="Очно в Б", mode="in_person", municipalities=[MUN_B])
        await add_resource(api, title="Онлайн из Б", mode="online", municipalities=[MUN_B])
        await add_resource(api, title="Региональный очный", mode="in_person")
        assert set(await titles(api)) == {"Очно в А", "Онлайн из Б", "Региональный очный"}

    async def test_subject_level_period_and_capacity_filter(self, api: httpx.AsyncClient) -> None:
        await add_resource(api, title="По физике", subjects=["physics"])
        await add_resource(api, title="Для сильных", levels=[3, 4])
        await add_resource(api, title="Прошлой весной", starts_on="2026-02-01", ends_on="2026-03-01")
        await add_resource(api, title="Без мест", capacity=0)
        await add_resource(api, title="Подходит", levels=[1], starts_on="2026-09-01", ends_on="2026-12-01")
        got = await titles(api, period={"start": "2026-09-01", "end": "2027-01-31"})
        assert got == ["Подходит"]

    async def test_strict_preferences_filter_and_soft_ones_rank(self, api: httpx.AsyncClient) -> None:
        await add_resource(api, title="Очный курс", mode="in_person", hours=100)
        await add_resource(api, title="Онлайн курс", mode="online")
        soft = await titles(api, preferences={"modes": ["in_person"]})
        assert soft[0] == "Очный курс" and len(soft) == 2
        strict = await titles(api, preferences={"modes": ["online"], "strict": True})
        assert strict == ["Онлайн курс"]

    async def test_kinds_filter(self, api: httpx.AsyncClient) -> None:
        await add_resource(api, title="Курс")
        await add_resource(api, title="Сообщество", kind="community", learning_type="informal")
        assert await titles(api, preferences={"kinds": ["community"]}) == ["Сообщество"]

    async def test_own_peer_resource_is_not_offered_to_its_author(self, api: httpx.AsyncClient) -> None:
        me = new_id()
        await add_resource(
            api,
            headers=teacher_headers(me),
            title="Мой мастер-класс",
            kind="peer_resource",
            learning_type="informal",
            mode="in_person",
        )
        r = await api.post(URL, json=ask(), headers=teacher_headers(me))
        assert r.json()["deficits"][0]["gap"] is True
        other = await api.post(URL, json=ask(), headers=teacher_headers())
        assert [a["title"] for a in other.json()["deficits"][0]["alternatives"]] == ["Мой мастер-класс"]


class TestMatchingExplanations:
    async def test_each_item_explains_its_score_and_rank(self, api: httpx.AsyncClient) -> None:
        await add_resource(
            api, title="Курс про оценивание и технологии", competencies=["M3", "M2"], federal_registry=True, levels=[1]
        )
        await add_resource(api, title="Просто курс", competencies=["M3"])
        r = await api.post(URL, json=ask(deficits=["M3", "M2"]), headers=as_regional())
        first = r.json()["deficits"][0]
        assert first["competency"] == "M3"
        top, second = first["alternatives"]
        assert top["title"] == "Курс про оценивание и технологии" and top["covers"] == ["M3", "M2"]
        assert abs(sum(x["points"] for x in top["reasons"]) - top["score"]) < 1e-9
        codes = {x["code"] for x in top["reasons"]}
        assert {"covers-deficit", "covers-other-deficits", "federal-registry", "level-fit", "subject-match"} <= codes
        assert second["rank"] == 2 and "ниже места 1" in second["rank_note"]

    async def test_alternatives_mix_learning_types(self, api: httpx.AsyncClient) -> None:
        for i in range(4):
            await add_resource(api, title=f"Курс {i}", federal_registry=True)
        await add_resource(api, title="Клуб", kind="community", learning_type="informal")
        await add_resource(api, title="Семинар", kind="event", event_format="seminar", learning_type="non_formal")
        r = await api.post(URL, json=ask(alternatives=3), headers=as_regional())
        alts = r.json()["deficits"][0]["alternatives"]
        assert {a["learning_type"] for a in alts} == {"formal", "non_formal", "informal"}
        assert [a["chosen_for_mix"] for a in alts] == [False, True, True]
        assert r.json()["learning_type_mix"] == {"formal": 1, "non_formal": 1, "informal": 1}

    async def test_mentors_are_offered_by_place_and_level(self, api: httpx.AsyncClient) -> None:
        await add_mentor(api, municipality=MUN_A, level=4)
        await add_mentor(api, municipality=MUN_B, mode="in_person", level=4)
        online = await add_mentor(api, municipality=MUN_B, mode="online", level=3)
        await add_mentor(api, municipality=MUN_A, level=1)
        r = await api.post(URL, json=ask(mentor_alternatives=5), headers=as_regional())
        mentors = r.json()["deficits"][0]["mentors"]
        assert [m["municipalities"] for m in mentors] == [[MUN_A], [MUN_B]]
        assert mentors[1]["id"] == online["id"]
        await api.put(
            "/api/v1/resource-map/neighbours",
            json={"pairs": [{"municipality": MUN_A, "neighbour": MUN_B}]},
            headers=as_regional(),
        )
        r = await api.post(URL, json=ask(mentor_alternatives=5), headers=as_regional())
        assert len(r.json()["deficits"][0]["mentors"]) == 3

    async def test_a_deficit_nothing_serves_is_a_gap(self, api: httpx.AsyncClient) -> None:
        await add_resource(api)
        r = await api.post(URL, json=ask(deficits=["M3", "RUS.9"]), headers=as_regional())
        gaps = {d["competency"]: d["gap"] for d in r.json()["deficits"]}
        assert gaps == {"M3": False, "RUS.9": True}


class TestMatchingBatch:
    async def test_batch_answers_like_single_queries(self, api: httpx.AsyncClient) -> None:
        await add_resource(api, title="Курс A", competencies=["M3", "M1"], mode="in_person", municipalities=[MUN_A])
        await add_resource(api, title="Курс B", competencies=["M1"], learning_type="non_formal", kind="event")
        await add_resource(
            api, title="Курс C", competencies=["M3"], subjects=[], learning_type="informal", kind="community"
        )
        await add_mentor(api, competencies=["M1"])
        queries = [ask(deficits=["M3", "M1"]), ask(municipality=MUN_B, group=3), ask(subject="physics")]
        batch = await api.post(f"{URL}/batch", json={"queries": queries}, headers=as_regional())
        assert batch.status_code == 200, batch.text
        singles = [(await api.post(URL, json=q, headers=as_regional())).json() for q in queries]
        assert batch.json()["results"] == singles


# ---------------------------------------------------------------- the pure matcher


def random_catalogue(seed: int) -> tuple[list[matching.Offer], list[matching.MentorOffer], list[str]]:
    rnd = random.Random(seed)
    comps = ["M1", "M2", "M3", "M4", "S.1", "S.2", "P.1"]
    muns = ["a", "b", "c", "d"]
    offers = [
        matching.Offer(
            id=f"r{i:04d}",
            kind=rnd.choice(["course", "event", "community", "peer_resource"]),
            title="t",
            competencies=frozenset(rnd.sample(comps, rnd.randint(1, 3))),
            subjects=frozenset(rnd.sample(["mathematics", "physics"], rnd.randint(0, 2))),
            levels=frozenset(rnd.sample([1, 2, 3, 4], rnd.randint(0, 3))),
            learning_type=rnd.choice(["formal", "non_formal", "informal"]),
            mode=rnd.choice(["online", "in_person", "mixed"]),
            municipalities=frozenset(rnd.sample(muns, rnd.randint(0, 2))),
            starts_on=rnd.choice([None, date(2026, 1, 1), date(2026, 10, 1)]),
            ends_on=rnd.choice([None, date(2027, 6, 1)]),
            free=rnd.choice([None, 0, 3]),
            federal_registry=rnd.random() < 0.3,
            owner_teacher_id=rnd.choice([None, "t1", "t2"]),
        )
        for i in range(400)
    ]
    mentors = [
        matching.MentorOffer(
            id=f"m{i:04d}",
            teacher_id=f"t{i % 7}",
            role="mentor",
            municipality=rnd.choice(muns),
            subjects=frozenset(rnd.sample(["mathematics", "physics"], rnd.randint(1, 2))),
            competencies=frozenset(rnd.sample(comps, rnd.randint(0, 2))),
            level=rnd.randint(1, 4),
            mode=rnd.choice(["online", "in_person", "mixed"]),
            free=rnd.randint(0, 2),
        )
        for i in range(80)
    ]
    return offers, mentors, comps


@pytest.mark.no_db
class TestPureMatcher:
    def test_index_answers_exactly_like_the_full_scan(self) -> None:
        offers, mentors, comps = random_catalogue(7)
        index = CatalogueIndex(offers, mentors)
        rnd = random.Random(11)
        for _ in range(400):
            q = matching.MatchQuery(
                deficits=tuple(rnd.sample(comps, rnd.randint(1, 4))),
                group=rnd.randint(1, 4),
                municipality=rnd.choice(["a", "b", "c", "d"]),
                subject=rnd.choice(["mathematics", "physics", None]),
                period_start=rnd.choice([None, date(2026, 9, 1)]),
                period_end=rnd.choice([None, date(2027, 5, 1)]),
                modes=frozenset(rnd.sample(["online", "in_person"], rnd.randint(0, 1))),
                learning_types=frozenset(rnd.sample(["formal", "informal"], rnd.randint(0, 1))),
                strict=rnd.random() < 0.2,
                alternatives=rnd.randint(1, 5),
                mentor_alternatives=rnd.randint(0, 3),
                teacher_id=rnd.choice([None, "t1", "t3"]),
                neighbours=frozenset(rnd.sample(["a", "b", "c", "d"], 1)),
            )
            full = matching.match(q, offers, mentors)
            fast = index.match(q)
            assert _shape(fast) == _shape(full), q

    def test_score_is_the_sum_of_reasons(self) -> None:
        offers, mentors, _comps = random_catalogue(3)
        q = matching.MatchQuery(
            deficits=("M1", "M2", "S.1"),
            group=2,
            municipality="a",
            subject="mathematics",
            modes=frozenset({"online"}),
            alternatives=5,
            mentor_alternatives=5,
            neighbours=frozenset({"b"}),
        )
        result = matching.match(q, offers, mentors)
        items = [a for d in result.deficits for a in (*d.alternatives, *d.mentors)]
        assert items
        for a in items:
            assert sum(r.points for r in a.reasons) == a.score

    def test_weak_groups_lean_to_formal_strong_to_informal(self) -> None:
        formal = matching.Offer(
            "f", "course", "f", frozenset({"M1"}), frozenset(), frozenset(), "formal", "online", frozenset()
        )
        informal = matching.Offer(
            "i", "community", "i", frozenset({"M1"}), frozenset(), frozenset(), "informal", "online", frozenset()
        )
        weak = matching.match(matching.MatchQuery(("M1",), 1, "a", alternatives=1), [formal, informal])
        strong = matching.match(matching.MatchQuery(("M1",), 4, "a", alternatives=1), [formal, informal])
        assert weak.deficits[0].alternatives[0].item.id == "f"
        assert strong.deficits[0].alternatives[0].item.id == "i"


def _shape(r: matching.MatchResult) -> list[Any]:
    return [
        (
            d.competency,
            [(a.item.id, a.score, a.rank, a.chosen_for_mix) for a in d.alternatives],
            [(a.item.id, a.score, a.rank) for a in d.mentors],
        )
        for d in r.deficits
    ]
