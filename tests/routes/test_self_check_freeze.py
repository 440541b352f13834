"""The self-check is frozen at completion (issue 12, point 6): through the gateway, against real PostgreSQL.

A teacher could change their self-check after completion, during the audit and after archive, and so set
the score an audit closes on. From completion on the route shows, and the audit reads, the self-check as
it stood then, and a change of it is refused."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx

from tests.audit.support import complete, completed_routes, review
from tests.region import MUN_A, Region, as_methodologist, as_regional, as_teacher

AT_COMPLETION = {2: 2, 3: 1, 5: 2, 7: 2, 10: 1}
LATER = {"2": 0, "3": 0, "5": 0, "7": 0, "10": 0}


def teacher_of(region: Region, route: dict[str, Any]) -> dict[str, str]:
    ext = next(k for k, t in region.teachers.items() if str(t["id"]) == str(route["teacher_id"]))
    return as_teacher(region, ext)


async def rescore(api: httpx.AsyncClient, route_id: str, headers: dict[str, str]) -> httpx.Response:
    got = await api.get(f"/api/v1/routes/{route_id}", headers=as_regional())
    return await api.put(
        f"/api/v1/routes/{route_id}/self-check",
        json={"scores": LATER},
        headers={**headers, "If-Match": got.headers["etag"]},
    )


async def wait_for_status(api: httpx.AsyncClient, route_id: str, status: str, within: float = 20.0) -> None:
    """Poll the route until the audit's delivery has moved it to `status`."""
    deadline = asyncio.get_running_loop().time() + within
    seen = None
    while asyncio.get_running_loop().time() < deadline:
        seen = (await api.get(f"/api/v1/routes/{route_id}", headers=as_regional())).json()["status"]
        if seen == status:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the route stayed '{seen}'")


def people_scores(route: dict[str, Any]) -> dict[int, int | None]:
    return {c["number"]: c["score"] for c in route["self_check"]["criteria"] if not c["auto"]}


class TestSelfCheckFrozenAtCompletion:
    async def test_the_teacher_cannot_rescore_a_completed_route(self, api: httpx.AsyncClient) -> None:
        region, routes = await completed_routes(api, {"t-a1-1": 2}, AT_COMPLETION)
        route = routes["t-a1-1"]
        r = await rescore(api, route["id"], teacher_of(region, route))
        assert r.status_code == 409, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "self-check-frozen"
        again = (await api.get(f"/api/v1/routes/{route['id']}", headers=as_regional())).json()
        assert again["version"] == route["version"]
        assert again["self_check"] == route["self_check"]
        assert people_scores(again) == AT_COMPLETION

    async def test_the_self_check_stays_frozen_when_audited_and_archived(self, api: httpx.AsyncClient) -> None:
        region, routes = await completed_routes(api, {"t-a1-1": 2}, AT_COMPLETION)
        route, teacher, h = routes["t-a1-1"], teacher_of(region, routes["t-a1-1"]), as_methodologist(MUN_A)
        audit = (await api.post("/api/v1/audits", json={"route_id": route["id"]}, headers=h)).json()
        await review(api, audit["id"], [2] * 10, h)
        assert (await complete(api, audit["id"], h)).status_code == 200
        await wait_for_status(api, route["id"], "audited")
        r = await rescore(api, route["id"], teacher)
        assert r.status_code == 409 and r.json()["code"] == "self-check-frozen", r.text
        # The reflection follows the audit (regulation step 10); the archive requires it.
        got = await api.get(f"/api/v1/routes/{route['id']}", headers=as_regional())
        reflected = await api.put(
            f"/api/v1/routes/{route['id']}/reflection",
            json={"text": "Освоила приемы формирующего оценивания"},
            headers={**teacher, "If-Match": got.headers["etag"]},
        )
        assert reflected.status_code == 200, reflected.text
        got = await api.get(f"/api/v1/routes/{route['id']}", headers=as_regional())
        archived = await api.post(
            f"/api/v1/routes/{route['id']}/transitions",
            json={"action": "archive"},
            headers={**as_regional(), "If-Match": got.headers["etag"]},
        )
        assert archived.status_code == 200 and archived.json()["status"] == "archived", archived.text
        r = await rescore(api, route["id"], teacher)
        assert r.status_code == 409 and r.json()["code"] == "self-check-frozen", r.text
        final = (await api.get(f"/api/v1/routes/{route['id']}", headers=as_regional())).json()
        assert people_scores(final) == AT_COMPLETION


class TestAuditReadsTheSelfCheckAtCompletion:
    async def test_the_audit_starts_from_the_self_check_taken_at_completion(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        _, routes = await completed_routes(api, {"t-a1-1": 2}, AT_COMPLETION)
        route = routes["t-a1-1"]
        # The live scores change behind the API's back (as a write before this fix could): the audit
        # must not see it.
        await db.execute(
            "UPDATE routes.routes SET self_check_manual = $1::jsonb WHERE id = $2",
            json.dumps(LATER),
            route["id"],
        )
        r = await api.post("/api/v1/audits", json={"route_id": route["id"]}, headers=as_regional())
        assert r.status_code == 201, r.text
        audit = r.json()
        expected = {c["number"]: c["score"] for c in route["self_check"]["criteria"]}
        assert {p["number"]: p["self_score"] for p in audit["prefill"]} == expected
        assert audit["self_check_total"] == route["self_check"]["total"]
        shown = (await api.get(f"/api/v1/routes/{route['id']}", headers=as_regional())).json()
        assert shown["self_check"] == route["self_check"]
