"""Chosen forms reserve seats (issue 14, point 2), through the gateway on real processes.

Choosing a form for a task makes the routes service reserve a seat of that resource in the resources service
for the route and its teacher (with its own token); a full resource answers 409 with alternatives and nothing
is reserved or stored; another choice releases the old seat; archiving releases every seat. The route's
reservations are listed by `GET /reservations?route_id=`, only to callers who see the route (404 otherwise).
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx

from kit.auth import Role
from tests.harness import auth
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_A2, ORG_B1, REGION, as_methodologist, as_school, service_headers
from tests.resources.helpers import add_resource
from tests.routes.factory import insert_route

RESERVATIONS = "/api/v1/reservations"


def teacher_of(row: dict[str, Any]) -> dict[str, str]:
    return auth(
        Role.teacher,
        region=REGION,
        municipality=row["municipality"],
        organisation=row["organisation"],
        teacher_id=str(row["teacher_id"]),
    )


async def route_offering(db: asyncpg.Connection, resources: list[dict[str, Any]], **over: Any) -> dict[str, Any]:
    """A running route whose first task offers these resources of the resource map as its forms."""
    row = await insert_route(db, **over)
    content = row["content"]
    task = content["sections"]["goals"][0]["tasks"][0]
    task["forms"] = [
        {**(task["forms"][0] if task["forms"] else {}), "resource_id": r["id"], "title": r["title"], "kind": r["kind"]}
        for r in resources
    ]
    task["chosen_resource_id"] = None
    await db.execute(
        "UPDATE routes.routes SET content = $1::jsonb WHERE id = $2", json.dumps(content, ensure_ascii=False), row["id"]
    )
    return {**row, "content": content, "task_id": task["id"]}


async def choose(
    api: httpx.AsyncClient, row: dict[str, Any], resource_id: str | None, headers: dict[str, str] | None = None
) -> httpx.Response:
    h = headers or teacher_of(row)
    got = await api.get(f"/api/v1/routes/{row['id']}", headers=h)
    if got.status_code != 200:
        return got
    return await api.patch(
        f"/api/v1/routes/{row['id']}/tasks/{row['task_id']}",
        json={"chosen_resource_id": resource_id},
        headers={**h, "If-Match": got.headers["etag"]},
    )


async def listed(api: httpx.AsyncClient, row: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return await api.get(RESERVATIONS, params={"route_id": str(row["id"])}, headers=headers or teacher_of(row))


def active(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return sorted(i["resource_id"] for i in r.json()["items"] if i["status"] == "active")


async def seats_taken(db: asyncpg.Connection, resource: dict[str, Any]) -> int:
    return int(await db.fetchval("SELECT reserved FROM resources.resources WHERE id = $1::uuid", resource["id"]))


class TestChoosingReserves:
    async def test_choosing_a_form_reserves_a_seat_listed_for_the_route(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        course = await add_resource(api, capacity=3)
        row = await route_offering(db, [course])
        r = await choose(api, row, course["id"])
        assert r.status_code == 200, r.text
        assert active(await listed(api, row)) == [course["id"]]
        [item] = (await listed(api, row, as_school(ORG_A1, MUN_A))).json()["items"]
        assert (item["route_id"], item["teacher_id"], item["organisation"]) == (
            str(row["id"]),
            str(row["teacher_id"]),
            ORG_A1,
        )
        assert item["origin"] == "route"
        assert await seats_taken(db, course) == 1
        # The same choice again reserves nothing more.
        again = await choose(api, row, course["id"])
        assert again.status_code == 200, again.text
        assert await seats_taken(db, course) == 1

    async def test_full_resource_answers_409_with_alternatives_and_nothing_is_reserved(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        full = await add_resource(api, capacity=1, title="Курс без мест")
        spare = await add_resource(api, capacity=5, title="Курс со свободными местами")
        elsewhere = await add_resource(api, capacity=5, title="Другой курс по той же компетенции")
        other = await route_offering(db, [full])
        assert (await choose(api, other, full["id"])).status_code == 200  # takes the only seat
        row = await route_offering(db, [full, spare])
        r = await choose(api, row, full["id"])
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["code"] == "capacity-exhausted"
        assert "мест" in problem["detail"]
        offered = {a["resource_id"]: a["offered"] for a in problem["alternatives"]}
        assert offered[spare["id"]] is True and offered[elsewhere["id"]] is False
        assert full["id"] not in offered
        assert problem["alternatives"][0]["resource_id"] == spare["id"]  # choosable now comes first
        assert active(await listed(api, row)) == []
        assert await seats_taken(db, full) == 1
        stored = await db.fetchval("SELECT content FROM routes.routes WHERE id = $1", row["id"])
        task = json.loads(stored)["sections"]["goals"][0]["tasks"][0]
        assert task["chosen_resource_id"] is None

    async def test_another_choice_releases_the_old_seat(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        first = await add_resource(api, capacity=2)
        second = await add_resource(api, capacity=2, kind="event", title="Семинар по оцениванию")
        row = await route_offering(db, [first, second])
        assert (await choose(api, row, first["id"])).status_code == 200
        r = await choose(api, row, second["id"])
        assert r.status_code == 200, r.text
        assert active(await listed(api, row)) == [second["id"]]
        assert (await seats_taken(db, first), await seats_taken(db, second)) == (0, 1)
        # Choosing nothing releases the seat too.
        assert (await choose(api, row, None)).status_code == 200
        assert active(await listed(api, row)) == []
        assert await seats_taken(db, second) == 0

    async def test_removing_the_task_releases_its_seat(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        course = await add_resource(api, capacity=2)
        row = await route_offering(db, [course])
        assert (await choose(api, row, course["id"])).status_code == 200
        h = teacher_of(row)
        etag = (await api.get(f"/api/v1/routes/{row['id']}", headers=h)).headers["etag"]
        r = await api.delete(f"/api/v1/routes/{row['id']}/tasks/{row['task_id']}", headers={**h, "If-Match": etag})
        assert r.status_code == 200, r.text
        assert active(await listed(api, row)) == []
        assert await seats_taken(db, course) == 0

    async def test_archiving_releases_every_seat(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        course = await add_resource(api, capacity=2)
        row = await route_offering(db, [course])
        assert (await choose(api, row, course["id"])).status_code == 200
        content = json.loads(await db.fetchval("SELECT content FROM routes.routes WHERE id = $1", row["id"]))
        content["sections"]["reflection"] = {
            "text": "Освоила приёмы формирующего оценивания",
            "products": [{"title": "Сценарий урока", "url": "https://school.example/f/1"}],
        }
        await db.execute(
            "UPDATE routes.routes SET status = 'audited', content = $1::jsonb WHERE id = $2",
            json.dumps(content, ensure_ascii=False),
            row["id"],
        )
        h = as_methodologist(MUN_A)
        etag = (await api.get(f"/api/v1/routes/{row['id']}", headers=h)).headers["etag"]
        r = await api.post(
            f"/api/v1/routes/{row['id']}/transitions", json={"action": "archive"}, headers={**h, "If-Match": etag}
        )
        assert r.status_code == 200 and r.json()["status"] == "archived", r.text
        assert active(await listed(api, row)) == []
        assert await seats_taken(db, course) == 0


class TestOnlyWhatTheCallerHolds:
    async def test_a_route_out_of_scope_cannot_be_listed(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        course = await add_resource(api, capacity=3)
        row = await route_offering(db, [course])
        assert (await choose(api, row, course["id"])).status_code == 200
        stranger = await insert_route(db)  # another teacher of the same school
        for headers in (
            teacher_of(stranger),
            as_school(ORG_A2, MUN_A),
            as_school(ORG_B1, MUN_B),
            as_methodologist(MUN_B),
            auth(Role.regional_specialist, region="r-other"),
        ):
            r = await listed(api, row, headers)
            assert r.status_code == 404 and r.json()["code"] == "route-not-found", r.text
        for headers in (as_school(ORG_A1, MUN_A), as_methodologist(MUN_A), service_headers()):
            assert active(await listed(api, row, headers)) == [course["id"]]

    async def test_nobody_chooses_for_a_route_they_do_not_hold(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        course = await add_resource(api, capacity=3)
        row = await route_offering(db, [course])
        other_teacher = teacher_of(await insert_route(db))
        for headers in (other_teacher, as_school(ORG_B1, MUN_B)):
            r = await choose(api, row, course["id"], headers)
            assert r.status_code == 404, r.text
        assert await seats_taken(db, course) == 0
        assert active(await listed(api, row)) == []
