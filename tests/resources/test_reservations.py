"""Reservations through the gateway: idempotent by route + target, never oversold under concurrency."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.region import as_methodologist
from tests.resources.helpers import MUN_A, MUN_B, add_mentor, add_resource, as_regional, new_id, teacher_headers

URL = "/api/v1/reservations"


async def reserved_seats(db: asyncpg.Connection, resource_id: str) -> int:
    return int(await db.fetchval("SELECT reserved FROM resources.resources WHERE id = $1::uuid", resource_id))


class TestReserveSeat:
    async def test_reserve_then_repeat_answers_same_reservation(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        res = await add_resource(api, capacity=3)
        body = {"route_id": new_id(), "teacher_id": new_id(), "resource_id": res["id"], "municipality": MUN_A}
        first = await api.post(URL, json=body, headers=as_regional())
        assert first.status_code == 201, first.text
        again = await api.post(URL, json=body, headers=as_regional())
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        assert await reserved_seats(db, res["id"]) == 1

    async def test_concurrent_reservations_never_oversell(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api, capacity=5)
        bodies = [{"route_id": new_id(), "teacher_id": new_id(), "resource_id": res["id"]} for _ in range(25)]
        answers = await asyncio.gather(*(api.post(URL, json=b, headers=as_regional()) for b in bodies))
        codes = sorted(a.status_code for a in answers)
        assert codes.count(201) == 5 and codes.count(409) == 20, codes
        assert all(a.json()["code"] == "capacity-exhausted" for a in answers if a.status_code == 409)
        assert await reserved_seats(db, res["id"]) == 5
        active = await db.fetchval(
            "SELECT count(*) FROM resources.reservations WHERE resource_id = $1::uuid AND status = 'active'", res["id"]
        )
        assert active == 5

    async def test_concurrent_duplicates_of_one_route_take_one_seat(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        res = await add_resource(api, capacity=5)
        body = {"route_id": new_id(), "teacher_id": new_id(), "resource_id": res["id"]}
        answers = await asyncio.gather(*(api.post(URL, json=body, headers=as_regional()) for _ in range(8)))
        assert {a.status_code for a in answers} <= {200, 201}
        assert len({a.json()["id"] for a in answers}) == 1
        assert await reserved_seats(db, res["id"]) == 1

    async def test_archived_resource_cannot_be_reserved(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api)
        await api.post(f"/api/v1/resources/{res['id']}/archive", headers={**as_regional(), "If-Match": '"1"'})
        r = await api.post(
            URL, json={"route_id": new_id(), "teacher_id": new_id(), "resource_id": res["id"]}, headers=as_regional()
        )
        assert r.status_code == 409 and r.json()["code"] == "resource-archived"

    async def test_unknown_resource_is_404(self, api: httpx.AsyncClient) -> None:
        r = await api.post(
            URL, json={"route_id": new_id(), "teacher_id": new_id(), "resource_id": new_id()}, headers=as_regional()
        )
        assert r.status_code == 404

    async def test_exactly_one_target(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, json={"route_id": new_id(), "teacher_id": new_id()}, headers=as_regional())
        assert r.status_code == 422


class TestRelease:
    async def test_release_gives_the_seat_back_once(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api, capacity=1)
        body = {"route_id": new_id(), "teacher_id": new_id(), "resource_id": res["id"]}
        made = (await api.post(URL, json=body, headers=as_regional())).json()
        first = await api.delete(f"{URL}/{made['id']}", headers=as_regional())
        assert first.status_code == 200 and first.json()["status"] == "released"
        again = await api.delete(f"{URL}/{made['id']}", headers=as_regional())
        assert again.status_code == 200 and again.json()["status"] == "released"
        assert await reserved_seats(db, res["id"]) == 0
        other = {"route_id": new_id(), "teacher_id": new_id(), "resource_id": res["id"]}
        assert (await api.post(URL, json=other, headers=as_regional())).status_code == 201

    async def test_release_by_route_and_target(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api, capacity=2)
        route = new_id()
        await api.post(
            URL, json={"route_id": route, "teacher_id": new_id(), "resource_id": res["id"]}, headers=as_regional()
        )
        r = await api.post(f"{URL}/release", json={"route_id": route, "resource_id": res["id"]}, headers=as_regional())
        assert r.status_code == 200 and r.json()["status"] == "released"
        assert await reserved_seats(db, res["id"]) == 0
        missing = await api.post(
            f"{URL}/release", json={"route_id": new_id(), "resource_id": res["id"]}, headers=as_regional()
        )
        assert missing.status_code == 404

    async def test_concurrent_releases_give_back_one_seat(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api, capacity=3)
        made = []
        for _ in range(2):
            body = {"route_id": new_id(), "teacher_id": new_id(), "resource_id": res["id"]}
            made.append((await api.post(URL, json=body, headers=as_regional())).json())
        await asyncio.gather(*(api.delete(f"{URL}/{made[0]['id']}", headers=as_regional()) for _ in range(6)))
        assert await reserved_seats(db, res["id"]) == 1


class TestMentorSlots:
    async def test_mentor_slots_never_oversold(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        m = await add_mentor(api, capacity=3)
        bodies = [
            {"route_id": new_id(), "teacher_id": new_id(), "mentor_id": m["id"], "subject": "mathematics"}
            for _ in range(12)
        ]
        answers = await asyncio.gather(*(api.post(URL, json=b, headers=as_regional()) for b in bodies))
        assert sorted(a.status_code for a in answers).count(201) == 3
        load = await db.fetchval("SELECT load FROM resources.mentors WHERE id = $1::uuid", m["id"])
        assert load == 3
        got = (await api.get(f"/api/v1/mentors/{m['id']}", headers=as_regional())).json()
        assert got["load"] == 3 and got["free"] == 0

    async def test_teacher_cannot_be_own_mentor(self, api: httpx.AsyncClient) -> None:
        m = await add_mentor(api)
        r = await api.post(
            URL, json={"route_id": new_id(), "teacher_id": m["teacher_id"], "mentor_id": m["id"]}, headers=as_regional()
        )
        assert r.status_code == 409 and r.json()["code"] == "self-mentoring"

    async def test_subject_must_match(self, api: httpx.AsyncClient) -> None:
        m = await add_mentor(api)
        r = await api.post(
            URL,
            json={"route_id": new_id(), "teacher_id": new_id(), "mentor_id": m["id"], "subject": "history"},
            headers=as_regional(),
        )
        assert r.status_code == 409


class TestReservationScope:
    async def test_teacher_reserves_only_for_themself(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api)
        me = new_id()
        ok = await api.post(
            URL, json={"route_id": new_id(), "teacher_id": me, "resource_id": res["id"]}, headers=teacher_headers(me)
        )
        assert ok.status_code == 201 and ok.json()["municipality"] == MUN_A
        other = await api.post(
            URL,
            json={"route_id": new_id(), "teacher_id": new_id(), "resource_id": res["id"]},
            headers=teacher_headers(me),
        )
        assert other.status_code == 403

    async def test_methodologist_sees_own_municipality_only(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api)
        in_a = (
            await api.post(
                URL,
                json={"route_id": new_id(), "teacher_id": new_id(), "resource_id": res["id"], "municipality": MUN_A},
                headers=as_regional(),
            )
        ).json()
        in_b = (
            await api.post(
                URL,
                json={"route_id": new_id(), "teacher_id": new_id(), "resource_id": res["id"], "municipality": MUN_B},
                headers=as_regional(),
            )
        ).json()
        listed = (await api.get(URL, headers=as_methodologist(MUN_A))).json()["items"]
        assert [x["id"] for x in listed] == [in_a["id"]]
        assert (await api.get(f"{URL}/{in_b['id']}", headers=as_methodologist(MUN_A))).status_code == 404
        assert (await api.delete(f"{URL}/{in_b['id']}", headers=as_methodologist(MUN_A))).status_code == 404

    async def test_list_pages_by_route(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api)
        route = new_id()
        for _ in range(3):
            other = await add_resource(api)
            await api.post(
                URL, json={"route_id": route, "teacher_id": new_id(), "resource_id": other["id"]}, headers=as_regional()
            )
        await api.post(
            URL, json={"route_id": new_id(), "teacher_id": new_id(), "resource_id": res["id"]}, headers=as_regional()
        )
        page = (await api.get(URL, params={"route_id": route, "limit": 2}, headers=as_regional())).json()
        rest = (
            await api.get(
                URL, params={"route_id": route, "limit": 2, "cursor": page["next_cursor"]}, headers=as_regional()
            )
        ).json()
        assert len(page["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
