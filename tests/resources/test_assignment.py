"""Region-wide mentor assignment: capacity, closeness, weakest first, reasons; the flow beats greedy."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from services.resources.assignment import Mentee, MentorSlots, assign, greedy_assign
from services.resources.reach import neighbour_map
from tests.resources.helpers import MUN_A, MUN_B, a_route, add_mentor, as_regional, new_id, teacher_headers

URL = "/api/v1/mentors/assignments"
MUN_C = "mo-c"


def mentee(mun: str = MUN_A, group: int = 1, subject: str = "mathematics", **over: object) -> dict[str, object]:
    return {"teacher_id": new_id(), "subject": subject, "municipality": mun, "group": group, **over}


async def crafted(api: httpx.AsyncClient) -> dict[str, dict[str, object]]:
    r = await api.put(
        "/api/v1/resource-map/neighbours",
        json={"pairs": [{"municipality": MUN_B, "neighbour": MUN_A}]},
        headers=as_regional(),
    )
    assert r.status_code == 200 and r.json()["pairs"] == [{"municipality": MUN_A, "neighbour": MUN_B}]
    return {
        "local": await add_mentor(api, municipality=MUN_A, capacity=1),
        "neighbour": await add_mentor(api, municipality=MUN_B, capacity=1),
        "far_physics": await add_mentor(api, municipality=MUN_C, subjects=["physics"], capacity=5),
    }


class TestAssignmentPlan:
    async def test_capacity_closeness_weakest_first_and_reasons(self, api: httpx.AsyncClient) -> None:
        m = await crafted(api)
        weak1, weak2, basic = mentee(group=1), mentee(group=1), mentee(group=2)
        history, physics = mentee(subject="history"), mentee(subject="physics")
        r = await api.post(URL, json={"mentees": [basic, weak1, weak2, history, physics]}, headers=as_regional())
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["applied"] is False and out["served"] == 2
        served = {a["teacher_id"]: a for a in out["assignments"]}
        assert set(served) == {weak1["teacher_id"], weak2["teacher_id"]}
        assert sorted((a["mentor_id"], a["tier"]) for a in served.values()) == sorted(
            [(m["local"]["id"], "same_municipality"), (m["neighbour"]["id"], "neighbouring")]
        )
        reasons = {u["teacher_id"]: u["reason"] for u in out["unserved"]}
        assert reasons == {
            basic["teacher_id"]: "capacity-exhausted",
            history["teacher_id"]: "no-mentor-for-subject",
            physics["teacher_id"]: "no-reachable-mentor",
        }
        assert out["summary"]["unserved_by_reason"] == {
            "capacity-exhausted": 1,
            "no-mentor-for-subject": 1,
            "no-reachable-mentor": 1,
        }

    async def test_online_mentors_serve_anywhere(self, api: httpx.AsyncClient) -> None:
        await add_mentor(api, municipality=MUN_C, mode="online", capacity=2)
        r = await api.post(URL, json={"mentees": [mentee(MUN_A), mentee(MUN_B), mentee(MUN_B)]}, headers=as_regional())
        assert r.json()["served"] == 2 and {a["tier"] for a in r.json()["assignments"]} == {"online"}

    async def test_only_regional_staff_assign(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, json={"mentees": [mentee()]}, headers=teacher_headers())
        assert r.status_code == 403

    async def test_repeated_mentee_is_rejected(self, api: httpx.AsyncClient) -> None:
        one = mentee()
        r = await api.post(URL, json={"mentees": [one, one]}, headers=as_regional())
        assert r.status_code == 422


class TestAssignmentApply:
    async def test_apply_stores_slots_once_and_respects_capacity(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        m = await crafted(api)
        mentees = [mentee(group=1), mentee(group=1), mentee(group=2)]
        assert (await api.post(URL, json={"mentees": mentees, "apply": True}, headers=as_regional())).status_code == 400
        h = {**as_regional(), "Idempotency-Key": new_id()}
        first = await api.post(URL, json={"mentees": mentees, "apply": True}, headers=h)
        assert first.status_code == 200, first.text
        assert first.json()["applied"] is True and all(a["reservation_id"] for a in first.json()["assignments"])
        replay = await api.post(URL, json={"mentees": mentees, "apply": True}, headers=h)
        assert replay.json() == first.json()
        loads = await db.fetch("SELECT id::text, load, capacity FROM resources.mentors")
        assert {r["id"]: r["load"] for r in loads}[m["local"]["id"]] == 1
        assert all(r["load"] <= r["capacity"] for r in loads)
        assert await db.fetchval("SELECT count(*) FROM resources.reservations WHERE origin = 'assignment'") == 2
        again = await api.post(URL, json={"mentees": mentees[:1]}, headers=as_regional())
        assert again.json()["unserved"][0]["reason"] == "already-mentored"

    async def test_route_takes_over_an_assigned_slot(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        m = await crafted(api)
        one = mentee()
        h = {**as_regional(), "Idempotency-Key": new_id()}
        got = (await api.post(URL, json={"mentees": [one], "apply": True}, headers=h)).json()
        route = await a_route(db, teacher_id=uuid.UUID(str(one["teacher_id"])))
        r = await api.post("/api/v1/reservations", json={**route, "mentor_id": m["local"]["id"]}, headers=as_regional())
        assert r.status_code == 200 and r.json()["id"] == got["assignments"][0]["reservation_id"]
        assert r.json()["route_id"] == route["route_id"]
        assert await db.fetchval("SELECT load FROM resources.mentors WHERE id = $1::uuid", m["local"]["id"]) == 1


# ---------------------------------------------------------------- the pure algorithm


@pytest.mark.no_db
class TestFlowAgainstGreedy:
    def test_flow_serves_whom_greedy_strands(self) -> None:
        # Greedy gives the only online slot to a mentee who also had a neighbouring mentor.
        mentors = [
            MentorSlots("m1-online", "x1", "c", frozenset({"math"}), frozenset(), "online", 1),
            MentorSlots("m2-neighbour", "x2", "b", frozenset({"math"}), frozenset(), "in_person", 1),
        ]
        mentees = [Mentee("t1", "math", "a", 1), Mentee("t2", "math", "d", 1)]
        nb = neighbour_map([("a", "b")])
        assert greedy_assign(mentees, mentors, nb).served == 1
        flow = assign(mentees, mentors, nb)
        assert flow.served == 2
        assert {(a.mentee.teacher_id, a.mentor_id) for a in flow.assignments} == {
            ("t1", "m2-neighbour"),
            ("t2", "m1-online"),
        }

    def test_weakest_group_wins_a_contested_slot(self) -> None:
        mentors = [MentorSlots("m", "x", "a", frozenset({"math"}), frozenset(), "in_person", 1)]
        mentees = [Mentee("strong", "math", "a", 3), Mentee("weak", "math", "a", 1)]
        result = assign(mentees, mentors)
        assert [a.mentee.teacher_id for a in result.assignments] == ["weak"]
        assert result.unserved[0].reason == "capacity-exhausted"

    def test_never_self_and_prefers_covering_strengths(self) -> None:
        mentors = [
            MentorSlots("m1", "t1", "a", frozenset({"math"}), frozenset({"M1"}), "in_person", 1),
            MentorSlots("m2", "x", "a", frozenset({"math"}), frozenset({"M2"}), "in_person", 1),
        ]
        mentees = [Mentee("t2", "math", "a", 1, frozenset({"M2"})), Mentee("t3", "math", "a", 1, frozenset({"M1"}))]
        got = {a.mentee.teacher_id: a.mentor_id for a in assign(mentees, mentors).assignments}
        assert got == {"t2": "m2", "t3": "m1"}
        alone = assign([Mentee("t1", "math", "a", 1)], mentors[:1])
        assert alone.served == 0

    def test_random_instances_flow_never_serves_fewer_than_greedy(self) -> None:
        import random

        rnd = random.Random(5)
        muns = [f"m{i}" for i in range(8)]
        nb = neighbour_map((muns[i], muns[i + 1]) for i in range(7))
        for _ in range(20):
            mentors = [
                MentorSlots(
                    f"k{i:03d}",
                    f"x{i}",
                    rnd.choice(muns),
                    frozenset(rnd.sample(["s1", "s2"], 1)),
                    frozenset(),
                    rnd.choice(["online", "in_person"]),
                    rnd.randint(0, 2),
                )
                for i in range(15)
            ]
            mentees = [
                Mentee(f"t{i}", rnd.choice(["s1", "s2"]), rnd.choice(muns), rnd.randint(1, 4)) for i in range(40)
            ]
            flow, greedy = assign(mentees, mentors, nb), greedy_assign(mentees, mentors, nb)
            assert flow.served >= greedy.served
            used: dict[str, int] = {}
            for a in flow.assignments:
                used[a.mentor_id] = used.get(a.mentor_id, 0) + 1
            assert all(used[m.id] <= m.free for m in mentors if m.id in used)
