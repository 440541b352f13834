"""Who reaches whom: the one rule behind matching, assignment and coverage, and its SQL twin."""

from __future__ import annotations

import itertools

import asyncpg
import httpx
import pytest

from services.resources import assignment, matching
from services.resources.coverage import MentorSupply, coverage
from services.resources.reach import (
    Reach,
    mentor_reach,
    neighbour_map,
    resource_available_in,
)
from services.resources.repository import MATCH_CANDIDATES_SQL
from tests.resources.helpers import MUN_A, MUN_B, REGION, add_resource, as_regional

MODES = ("in_person", "online", "mixed")


@pytest.mark.no_db
class TestMentorReach:
    def test_local_then_neighbouring_then_remote(self) -> None:
        nb = frozenset({"b"})
        assert mentor_reach("a", "in_person", "a", nb) == Reach.same_municipality
        assert mentor_reach("b", "in_person", "a", nb) == Reach.neighbouring
        assert mentor_reach("b", "mixed", "a", nb) == Reach.neighbouring
        assert mentor_reach("c", "online", "a", nb) == Reach.online
        assert mentor_reach("c", "mixed", "a", nb) == Reach.online
        assert mentor_reach("c", "in_person", "a", nb) is None

    def test_matching_assignment_and_coverage_agree_with_the_rule(self) -> None:
        neighbours = neighbour_map([("a", "b")])
        for mun, mode in itertools.product(("a", "b", "c"), MODES):
            reach = mentor_reach(mun, mode, "a", neighbours.get("a", frozenset()))
            offer = matching.MentorOffer("m", "t", "mentor", mun, frozenset({"math"}), frozenset(), 4, mode, 1)
            query = matching.MatchQuery(("M1",), 1, "a", subject="math", neighbours=neighbours["a"])
            assert matching.mentor_fits(offer, query) == (reach is not None)
            mentee = assignment.Mentee("x", "math", "a", 1)
            slots = assignment.MentorSlots("m", "t", mun, frozenset({"math"}), frozenset(), mode, 1)
            assert assignment.tier_of(mentee, slots, neighbours) == reach
            cells = coverage(["a"], None, [MentorSupply(mun, frozenset({"math"}), mode, 1)], [], neighbours)["cells"]
            a = next(c for c in cells if c["municipality"] == "a")
            counted = a["methodists"] + a["neighbour_methodists"] + a["online_methodists"]
            assert (counted > 0) == (reach is not None)


@pytest.mark.no_db
class TestResourceAvailability:
    def test_held_there_region_wide_or_online(self) -> None:
        assert resource_available_in(frozenset({"a"}), "in_person", "a")
        assert resource_available_in(frozenset(), "in_person", "a")
        assert resource_available_in(frozenset({"b"}), "online", "a")
        assert not resource_available_in(frozenset({"b"}), "mixed", "a")
        assert not resource_available_in(frozenset({"b"}), "in_person", "a")


class TestResourceAvailabilityInSql:
    async def test_sql_filters_answer_like_the_rule(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        made = {}
        for held, mode in itertools.product(([], [MUN_A], [MUN_B]), MODES):
            row = await add_resource(api, title=f"{mode} {held}", mode=mode, municipalities=held)
            made[row["id"]] = (frozenset(held), mode)
        for mun in (MUN_A, MUN_B, "mo-elsewhere"):
            expected = {i for i, (held, mode) in made.items() if resource_available_in(held, mode, mun)}
            r = await api.get("/api/v1/resources", params={"municipality": mun}, headers=as_regional())
            assert r.status_code == 200, r.text
            assert {x["id"] for x in r.json()["items"]} == expected
            rows = await db.fetch(MATCH_CANDIDATES_SQL, REGION, ["M3"], 1, mun, None, None, None, [])
            assert {str(x["id"]) for x in rows} == expected
