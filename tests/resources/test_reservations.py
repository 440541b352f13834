"""Reservations through the gateway: made for real routes only, in the caller's scope, capped per teacher,
idempotent by route + target, never oversold under concurrency."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from kit.auth import Role
from services.resources.config import ResourcesSettings
from tests.harness import Stack, auth
from tests.region import ORG_A1, ORG_A2, ORG_B1, REGION, as_methodologist, as_school, service_headers
from tests.resources.helpers import (
    MUN_A,
    MUN_B,
    a_route,
    add_mentor,
    add_resource,
    as_regional,
    new_id,
    teacher_headers,
)

URL = "/api/v1/reservations"
CAP = int(ResourcesSettings.model_fields["max_active_reservations_per_teacher"].default)


async def reserved_seats(db: asyncpg.Connection, resource_id: str) -> int:
    return int(await db.fetchval("SELECT reserved FROM resources.resources WHERE id = $1::uuid", resource_id))


async def active_reservations(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM resources.reservations WHERE status = 'active'"))


async def seat_for(db: asyncpg.Connection, resource: dict[str, Any], **over: Any) -> dict[str, str]:
    """A reservation body of a seat of `resource` for a new route."""
    return {**(await a_route(db, **over)), "resource_id": resource["id"]}


class TestReserveSeat:
    async def test_reserve_then_repeat_answers_same_reservation(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        res = await add_resource(api, capacity=3)
        body = {**(await seat_for(db, res)), "municipality": MUN_A}
        first = await api.post(URL, json=body, headers=as_regional())
        assert first.status_code == 201, first.text
        again = await api.post(URL, json=body, headers=as_regional())
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        assert await reserved_seats(db, res["id"]) == 1

    async def test_scope_comes_from_the_route(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api)
        body = await seat_for(db, res, municipality=MUN_B, organisation=ORG_B1)
        r = await api.post(URL, json=body, headers=as_regional())
        assert r.status_code == 201, r.text
        assert (r.json()["municipality"], r.json()["organisation"]) == (MUN_B, ORG_B1)

    async def test_concurrent_reservations_never_oversell(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api, capacity=5)
        bodies = [await seat_for(db, res) for _ in range(25)]
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
        body = await seat_for(db, res)
        answers = await asyncio.gather(*(api.post(URL, json=body, headers=as_regional()) for _ in range(8)))
        assert {a.status_code for a in answers} <= {200, 201}
        assert len({a.json()["id"] for a in answers}) == 1
        assert await reserved_seats(db, res["id"]) == 1

    async def test_archived_resource_cannot_be_reserved(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api)
        await api.post(f"/api/v1/resources/{res['id']}/archive", headers={**as_regional(), "If-Match": '"1"'})
        r = await api.post(URL, json=await seat_for(db, res), headers=as_regional())
        assert r.status_code == 409 and r.json()["code"] == "resource-archived"

    async def test_unknown_resource_is_404(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        r = await api.post(URL, json=await seat_for(db, {"id": new_id()}), headers=as_regional())
        assert r.status_code == 404 and r.json()["code"] == "resource-not-found"

    async def test_exactly_one_target(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, json={"route_id": new_id(), "teacher_id": new_id()}, headers=as_regional())
        assert r.status_code == 422


class TestTrustNothing:
    """Issue 12, point 3: route, teacher and scope are the routes service's, never the body's."""

    async def test_teacher_with_a_random_route_id_is_refused_and_takes_no_seat(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        res = await add_resource(api, capacity=5)
        me = new_id()
        r = await api.post(
            URL, json={"route_id": new_id(), "teacher_id": me, "resource_id": res["id"]}, headers=teacher_headers(me)
        )
        assert r.status_code == 403 and r.json()["code"] == "role-forbidden"
        assert await reserved_seats(db, res["id"]) == 0 and await active_reservations(db) == 0

    async def test_teacher_does_not_reserve_even_for_their_own_route(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        res = await add_resource(api)
        body = await seat_for(db, res)
        r = await api.post(URL, json=body, headers=teacher_headers(body["teacher_id"]))
        assert r.status_code == 403
        assert await reserved_seats(db, res["id"]) == 0

    async def test_random_route_id_is_404_and_takes_no_seat(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        res = await add_resource(api, capacity=5)
        m = await add_mentor(api, capacity=3)
        for target in ({"resource_id": res["id"]}, {"mentor_id": m["id"], "subject": "mathematics"}):
            body = {"route_id": new_id(), "teacher_id": new_id(), **target}
            for headers in (as_regional(), service_headers()):
                r = await api.post(URL, json=body, headers=headers)
                assert r.status_code == 404 and r.json()["code"] == "route-not-found", r.text
        assert await reserved_seats(db, res["id"]) == 0 and await active_reservations(db) == 0
        assert await db.fetchval("SELECT load FROM resources.mentors WHERE id = $1::uuid", m["id"]) == 0

    async def test_another_regions_route_is_404(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api)
        body = await seat_for(db, res, region="r-other")
        r = await api.post(URL, json=body, headers=as_regional())
        assert r.status_code == 404 and r.json()["code"] == "route-not-found"

    async def test_body_that_disagrees_with_the_route_is_refused(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        res = await add_resource(api)
        body = await seat_for(db, res)
        for wrong, field in (
            ({"teacher_id": new_id()}, "teacher_id"),
            ({"municipality": MUN_B}, "municipality"),
            ({"organisation": ORG_A2}, "organisation"),
        ):
            r = await api.post(URL, json={**body, **wrong}, headers=as_regional())
            assert r.status_code == 422, r.text
            assert [(e["loc"], e["code"]) for e in r.json()["errors"]] == [(["body", field], "route-mismatch")]
        assert await reserved_seats(db, res["id"]) == 0

    async def test_school_admin_cannot_reserve_for_a_teacher_of_another_school(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        res = await add_resource(api)
        theirs = await seat_for(db, res, organisation=ORG_A2)
        claimed = {**theirs, "organisation": ORG_A1, "municipality": MUN_A}  # the body lies about the school
        for body in (theirs, claimed):
            r = await api.post(URL, json=body, headers=as_school(ORG_A1, MUN_A))
            assert r.status_code == 404 and r.json()["code"] == "route-not-found", r.text
        assert await reserved_seats(db, res["id"]) == 0
        ours = await seat_for(db, res, organisation=ORG_A1)
        r = await api.post(URL, json=ours, headers=as_school(ORG_A1, MUN_A))
        assert r.status_code == 201 and r.json()["organisation"] == ORG_A1

    async def test_methodologist_reserves_in_own_municipality_only(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        res = await add_resource(api)
        in_b = await seat_for(db, res, municipality=MUN_B, organisation=ORG_B1)
        assert (await api.post(URL, json=in_b, headers=as_methodologist(MUN_A))).status_code == 404
        in_a = await seat_for(db, res)
        assert (await api.post(URL, json=in_a, headers=as_methodologist(MUN_A))).status_code == 201

    async def test_routes_service_reserves_for_its_route(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api)
        m = await add_mentor(api)
        route = await a_route(db)
        seat = await api.post(URL, json={**route, "resource_id": res["id"]}, headers=service_headers())
        assert seat.status_code == 201, seat.text
        slot = {**route, "mentor_id": m["id"], "subject": "mathematics"}
        assert (await api.post(URL, json=slot, headers=service_headers())).status_code == 201
        assert await reserved_seats(db, res["id"]) == 1

    async def test_routes_service_down_reserves_nothing(
        self, api: httpx.AsyncClient, db: asyncpg.Connection, live: Stack
    ) -> None:
        res = await add_resource(api)
        body = await seat_for(db, res)
        live.stop("routes")
        try:
            r = await api.post(URL, json=body, headers=as_regional())
        finally:
            live.start("routes")
        assert r.status_code == 503 and r.json()["code"] == "routes-unavailable"
        assert r.headers["content-type"].startswith("application/problem+json")
        assert await reserved_seats(db, res["id"]) == 0 and await active_reservations(db) == 0


class TestCap:
    async def test_a_teacher_holds_at_most_the_cap(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        resources = [await add_resource(api) for _ in range(CAP + 1)]
        route = await a_route(db)
        made = []
        for res in resources[:CAP]:
            r = await api.post(URL, json={**route, "resource_id": res["id"]}, headers=as_regional())
            assert r.status_code == 201, r.text
            made.append(r.json())
        over = await api.post(URL, json={**route, "resource_id": resources[CAP]["id"]}, headers=as_regional())
        assert over.status_code == 409 and over.json()["code"] == "reservation-limit"
        assert "предельное число" in over.json()["detail"]
        assert await reserved_seats(db, resources[CAP]["id"]) == 0
        # Repeating a held reservation is not a new one; releasing one makes room.
        again = await api.post(URL, json={**route, "resource_id": resources[0]["id"]}, headers=as_regional())
        assert again.status_code == 200
        assert (await api.delete(f"{URL}/{made[0]['id']}", headers=as_regional())).status_code == 200
        r = await api.post(URL, json={**route, "resource_id": resources[CAP]["id"]}, headers=as_regional())
        assert r.status_code == 201

    async def test_concurrent_reservations_stop_at_the_cap(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        resources = [await add_resource(api) for _ in range(CAP + 4)]
        route = await a_route(db)
        answers = await asyncio.gather(
            *(api.post(URL, json={**route, "resource_id": res["id"]}, headers=as_regional()) for res in resources)
        )
        refused = [a.json() for a in answers if a.status_code != 201]
        assert len(answers) - len(refused) == CAP, refused
        assert [p["code"] for p in refused] == ["reservation-limit"] * 4, refused
        assert await active_reservations(db) == CAP


class TestRelease:
    async def test_release_gives_the_seat_back_once(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api, capacity=1)
        made = (await api.post(URL, json=await seat_for(db, res), headers=as_regional())).json()
        first = await api.delete(f"{URL}/{made['id']}", headers=as_regional())
        assert first.status_code == 200 and first.json()["status"] == "released"
        again = await api.delete(f"{URL}/{made['id']}", headers=as_regional())
        assert again.status_code == 200 and again.json()["status"] == "released"
        assert await reserved_seats(db, res["id"]) == 0
        assert (await api.post(URL, json=await seat_for(db, res), headers=as_regional())).status_code == 201

    async def test_release_by_route_and_target(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api, capacity=2)
        body = await seat_for(db, res)
        await api.post(URL, json=body, headers=as_regional())
        r = await api.post(
            f"{URL}/release", json={"route_id": body["route_id"], "resource_id": res["id"]}, headers=as_regional()
        )
        assert r.status_code == 200 and r.json()["status"] == "released"
        assert await reserved_seats(db, res["id"]) == 0
        missing = await api.post(
            f"{URL}/release", json={"route_id": new_id(), "resource_id": res["id"]}, headers=as_regional()
        )
        assert missing.status_code == 404

    async def test_concurrent_releases_give_back_one_seat(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api, capacity=3)
        made = [(await api.post(URL, json=await seat_for(db, res), headers=as_regional())).json() for _ in range(2)]
        await asyncio.gather(*(api.delete(f"{URL}/{made[0]['id']}", headers=as_regional()) for _ in range(6)))
        assert await reserved_seats(db, res["id"]) == 1

    async def test_release_is_scoped_like_reserving(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api, capacity=2)
        body = await seat_for(db, res, organisation=ORG_A2)
        made = (await api.post(URL, json=body, headers=as_regional())).json()
        by_route = {"route_id": body["route_id"], "resource_id": res["id"]}
        other_school = as_school(ORG_A1, MUN_A)
        assert (await api.delete(f"{URL}/{made['id']}", headers=other_school)).status_code == 404
        assert (await api.post(f"{URL}/release", json=by_route, headers=other_school)).status_code == 404
        teacher = teacher_headers(body["teacher_id"], organisation=ORG_A2)
        assert (await api.delete(f"{URL}/{made['id']}", headers=teacher)).status_code == 403
        assert (await api.post(f"{URL}/release", json=by_route, headers=teacher)).status_code == 403
        assert (await api.delete(f"{URL}/{made['id']}", headers=as_methodologist(MUN_B))).status_code == 404
        assert await reserved_seats(db, res["id"]) == 1
        r = await api.post(f"{URL}/release", json=by_route, headers=as_school(ORG_A2, MUN_A))
        assert r.status_code == 200 and r.json()["status"] == "released"
        assert await reserved_seats(db, res["id"]) == 0


class TestMentorSlots:
    async def test_mentor_slots_never_oversold(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        m = await add_mentor(api, capacity=3)
        bodies = [{**(await a_route(db)), "mentor_id": m["id"], "subject": "mathematics"} for _ in range(12)]
        answers = await asyncio.gather(*(api.post(URL, json=b, headers=as_regional()) for b in bodies))
        assert sorted(a.status_code for a in answers).count(201) == 3
        load = await db.fetchval("SELECT load FROM resources.mentors WHERE id = $1::uuid", m["id"])
        assert load == 3
        got = (await api.get(f"/api/v1/mentors/{m['id']}", headers=as_regional())).json()
        assert got["load"] == 3 and got["free"] == 0

    async def test_teacher_cannot_be_own_mentor(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        m = await add_mentor(api)
        route = await a_route(db, teacher_id=uuid.UUID(m["teacher_id"]))
        r = await api.post(URL, json={**route, "mentor_id": m["id"]}, headers=as_regional())
        assert r.status_code == 409 and r.json()["code"] == "self-mentoring"

    async def test_subject_must_match(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        m = await add_mentor(api)
        r = await api.post(
            URL, json={**(await a_route(db)), "mentor_id": m["id"], "subject": "history"}, headers=as_regional()
        )
        assert r.status_code == 409


class TestReservationScope:
    async def test_methodologist_sees_own_municipality_only(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        res = await add_resource(api)
        in_a = (await api.post(URL, json=await seat_for(db, res), headers=as_regional())).json()
        body_b = await seat_for(db, res, municipality=MUN_B, organisation=ORG_B1)
        in_b = (await api.post(URL, json=body_b, headers=as_regional())).json()
        listed = (await api.get(URL, headers=as_methodologist(MUN_A))).json()["items"]
        assert [x["id"] for x in listed] == [in_a["id"]]
        assert (await api.get(f"{URL}/{in_b['id']}", headers=as_methodologist(MUN_A))).status_code == 404
        assert (await api.delete(f"{URL}/{in_b['id']}", headers=as_methodologist(MUN_A))).status_code == 404

    async def test_teacher_reads_own_reservations_only(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api)
        mine = await seat_for(db, res)
        made = (await api.post(URL, json=mine, headers=as_regional())).json()
        await api.post(URL, json=await seat_for(db, res), headers=as_regional())
        me = teacher_headers(mine["teacher_id"])
        assert [x["id"] for x in (await api.get(URL, headers=me)).json()["items"]] == [made["id"]]
        other = auth(Role.teacher, region=REGION, municipality=MUN_A, organisation=ORG_A1, teacher_id=new_id())
        assert (await api.get(f"{URL}/{made['id']}", headers=other)).status_code == 404

    async def test_list_pages_by_route(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api)
        route = await a_route(db)
        for _ in range(3):
            other = await add_resource(api)
            await api.post(URL, json={**route, "resource_id": other["id"]}, headers=as_regional())
        await api.post(URL, json=await seat_for(db, res), headers=as_regional())
        params: dict[str, str | int] = {"route_id": route["route_id"], "limit": 2}
        page = (await api.get(URL, params=params, headers=as_regional())).json()
        rest = (await api.get(URL, params={**params, "cursor": page["next_cursor"]}, headers=as_regional())).json()
        assert len(page["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
