"""Regulation steps 7 and 10 (issue 14, point 3): the tutor is a registered teacher of the school, chosen by
id at approval and checked in the assessment registry; the tutor reads the route and records control-point
results, another teacher cannot; the reflection is written after the audit and the archive requires it; the
finished route keeps its products (links and files' metadata, never a file's body)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from kit.auth import Role
from tests.harness import auth
from tests.region import MUN_A, ORG_A1, REGION, Region, as_methodologist, as_school, as_teacher, seed_region
from tests.routes.factory import insert_route
from tests.routes.flow import route_of

FILE = {
    "name": "самоанализ.pdf",
    "size": 48213,
    "media_type": "application/pdf",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}
PRODUCTS = [
    {"title": "Сценарий урока", "url": "https://school.example/f/1"},
    {"title": "Карта самоанализа", "file": FILE},
]
REFLECTION = {"text": "Освоила приемы формирующего оценивания и применяю их на уроках"}


async def a_route(api: httpx.AsyncClient, db: asyncpg.Connection, status: str) -> tuple[Region, str]:
    region = await seed_region(api)
    row = await insert_route(db, teacher_id=region.teachers["t-a1-1"]["id"], status=status)
    return region, str(row["id"])


async def send(
    api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: Any = None
) -> httpx.Response:
    rid = path.split("/")[4]
    etag = (await route_of(api, rid)).headers["etag"]
    return await api.request(method, path, json=body, headers={**headers, "If-Match": etag})


async def act(api: httpx.AsyncClient, rid: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await send(api, "POST", f"/api/v1/routes/{rid}/transitions", headers, body)


async def approved(api: httpx.AsyncClient, db: asyncpg.Connection) -> tuple[Region, str]:
    region, rid = await a_route(api, db, "agreed_with_school")
    tutor = {"teacher_id": region.id("t-a1-2")}
    r = await act(api, rid, as_school(ORG_A1, MUN_A), action="approve", tutor=tutor)
    assert r.status_code == 200, r.text
    return region, rid


class TestTutorByIdAtApproval:
    async def test_tutor_is_a_teacher_of_the_school(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region, rid = await approved(api, db)
        route = (await route_of(api, rid)).json()
        assert route["tutor"]["teacher_id"] == region.id("t-a1-2")
        assert route["tutor"]["name"] == "Ёлкин Пётр Сергеевич"

    @pytest.mark.parametrize(
        ("who", "code"),
        [("t-a2-1", "tutor-other-school"), ("t-a1-1", "tutor-is-the-teacher"), (None, "tutor-not-found")],
    )
    async def test_tutor_is_checked_in_the_registry(
        self, api: httpx.AsyncClient, db: asyncpg.Connection, who: str | None, code: str
    ) -> None:
        region, rid = await a_route(api, db, "agreed_with_school")
        tutor = {"teacher_id": region.id(who) if who else str(uuid.uuid4())}
        r = await act(api, rid, as_school(ORG_A1, MUN_A), action="approve", tutor=tutor)
        assert r.status_code == 422, r.text
        [error] = r.json()["errors"]
        assert error["loc"] == ["body", "tutor", "teacher_id"] and error["code"] == code
        assert (await route_of(api, rid)).json()["status"] == "agreed_with_school"

    async def test_a_name_instead_of_an_id_is_refused(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        _, rid = await a_route(api, db, "agreed_with_school")
        r = await act(api, rid, as_school(ORG_A1, MUN_A), action="approve", tutor={"name": "Петрова Н. В."})
        assert r.status_code == 422


class TestTutorWorks:
    async def test_tutor_reads_and_records_a_control_point(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        region, rid = await approved(api, db)
        tutor = as_teacher(region, "t-a1-2")
        r = await api.get(f"/api/v1/routes/{rid}", headers=tutor)
        assert r.status_code == 200, r.text
        assert r.json()["allowed_actions"] == []
        assert (await api.get(f"/api/v1/routes/{rid}/history", headers=tutor)).status_code == 200
        point = r.json()["content"]["control_points"][0]
        body = {
            "task_id": point["task_id"],
            "date": point["date"],
            "accepted": True,
            "comment": "Подборка представлена",
        }
        r = await send(api, "POST", f"/api/v1/routes/{rid}/control-points", tutor, body)
        assert r.status_code == 200, r.text
        recorded = r.json()["content"]["control_points"][0]["result"]
        assert recorded["accepted"] is True and recorded["comment"] == "Подборка представлена"
        history = (await api.get(f"/api/v1/routes/{rid}/history", headers=tutor)).json()
        assert history[-1]["action"] == f"control_point:{point['task_id']}"
        assert history[-1]["comment"].startswith(f"контрольная точка {point['date']}: результат принят")

    async def test_others_cannot_record_or_read(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region, rid = await approved(api, db)
        point = (await route_of(api, rid)).json()["content"]["control_points"][0]
        body = {"task_id": point["task_id"], "date": point["date"], "accepted": False}
        other = as_teacher(region, "t-a2-1")
        assert (await api.get(f"/api/v1/routes/{rid}", headers=other)).status_code == 404
        r = await send(api, "POST", f"/api/v1/routes/{rid}/control-points", other, body)
        assert r.status_code == 404
        r = await send(api, "POST", f"/api/v1/routes/{rid}/control-points", as_teacher(region, "t-a1-1"), body)
        assert r.status_code == 403
        r = await send(api, "POST", f"/api/v1/routes/{rid}/control-points", as_methodologist(MUN_A), body)
        assert r.status_code == 403
        r = await send(api, "POST", f"/api/v1/routes/{rid}/control-points", as_school(ORG_A1, MUN_A), body)
        assert r.status_code == 200, r.text
        missing = {**body, "date": "2001-01-01"}
        r = await send(api, "POST", f"/api/v1/routes/{rid}/control-points", as_school(ORG_A1, MUN_A), missing)
        assert r.status_code == 404 and r.json()["code"] == "control-point-not-found"

    async def test_tutor_does_not_edit_or_move_the_route(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region, rid = await approved(api, db)
        tutor = as_teacher(region, "t-a1-2")
        assert (await act(api, rid, tutor, action="start")).status_code == 404
        r = await send(api, "PATCH", f"/api/v1/routes/{rid}/tasks/M2-L", tutor, {"done": True})
        assert r.status_code == 404
        r = await send(api, "POST", f"/api/v1/routes/{rid}/goals", tutor, {"problem": "Повышение качества уроков"})
        assert r.status_code == 404


class TestReflectionAfterTheAudit:
    async def test_products_at_completion_reflection_after_audit_archive_needs_it(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        region, rid = await a_route(api, db, "in_progress")
        teacher = as_teacher(region, "t-a1-1")
        r = await act(api, rid, teacher, action="complete", reflection="Освоила приемы оценивания")
        assert r.status_code == 422  # the reflection is not part of completion any more
        r = await act(api, rid, teacher, action="complete")
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "evidence"]
        r = await act(api, rid, teacher, action="complete", evidence=PRODUCTS)
        assert r.status_code == 200, r.text
        reflection = r.json()["content"]["sections"]["reflection"]
        assert reflection["products"] == PRODUCTS and reflection["text"] == ""
        r = await send(api, "PUT", f"/api/v1/routes/{rid}/reflection", teacher, REFLECTION)
        assert r.status_code == 409 and r.json()["code"] == "reflection-before-audit"
        body = {"audit_id": str(uuid.uuid4()), "total": 17, "completed_at": datetime.now(UTC).isoformat()}
        r = await api.post(f"/api/v1/routes/{rid}/audited", json=body, headers=auth(Role.service, region=REGION))
        assert r.status_code == 200, r.text
        r = await act(api, rid, as_methodologist(MUN_A), action="archive")
        assert r.status_code == 409 and r.json()["code"] == "reflection-missing"
        r = await send(api, "PUT", f"/api/v1/routes/{rid}/reflection", as_school(ORG_A1, MUN_A), REFLECTION)
        assert r.status_code == 403
        r = await send(api, "PUT", f"/api/v1/routes/{rid}/reflection", teacher, REFLECTION)
        assert r.status_code == 200, r.text
        r = await act(api, rid, as_methodologist(MUN_A), action="archive")
        assert r.status_code == 200, r.text
        stored = r.json()["content"]["sections"]["reflection"]
        assert stored == {"text": REFLECTION["text"], "products": PRODUCTS}
        history = [h["action"] for h in (await api.get(f"/api/v1/routes/{rid}/history", headers=teacher)).json()]
        assert history == ["complete", "audited", "reflection", "archive"]

    async def test_a_file_product_needs_its_checksum(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region, rid = await a_route(api, db, "in_progress")
        bad = [{"title": "Карта", "file": {**FILE, "sha256": "не хэш"}}]
        r = await act(api, rid, as_teacher(region, "t-a1-1"), action="complete", evidence=bad)
        assert r.status_code == 422
