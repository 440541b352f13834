"""Route audit through the gateway: start from a completed route, group rules, completion, delivery, scope."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from tests.audit.support import (
    auditor,
    complete,
    completed_routes,
    insert_audit,
    review,
    route_id_for,
    setup_intake,
    wait_for_routes,
)
from tests.harness import Stack
from tests.region import (
    MUN_A,
    MUN_B,
    ORG_A1,
    ORG_A2,
    ORG_B1,
    as_methodologist,
    as_regional,
    as_school,
    as_teacher,
    seed_region,
)

SELF_CHECK = {2: 2, 3: 1, 5: 2, 7: 2, 10: 1}
ALL_TWO = [2] * 10


async def start(api: httpx.AsyncClient, route_id: str, headers: dict[str, str]) -> httpx.Response:
    return await api.post("/api/v1/audits", json={"route_id": route_id}, headers=headers)


async def wait_for(
    api: httpx.AsyncClient, path: str, headers: dict[str, str], check: Any, within: float = 15.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    body: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        r = await api.get(path, headers=headers)
        if r.status_code == 200:
            body = r.json()
            if check(body):
                return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not reached for {path}: {body}")


class TestStartAudit:
    async def test_starts_from_completed_route_prefilled_with_self_check(self, api: httpx.AsyncClient) -> None:
        _, routes = await completed_routes(api, {"t-a1-1": 2}, SELF_CHECK)
        route = routes["t-a1-1"]
        r = await start(api, route["id"], as_methodologist(MUN_A))
        assert r.status_code == 201, r.text
        audit = r.json()
        assert r.headers["etag"] == '"1"' and r.headers["location"] == f"/api/v1/audits/{audit['id']}"
        assert audit["group"] == 2 and audit["procedure"] == "full" and audit["status"] == "open"
        assert audit["municipality"] == MUN_A and audit["route_version"] == route["version"]
        expected = {c["number"]: c["score"] for c in route["self_check"]["criteria"]}
        assert {p["number"]: p["self_score"] for p in audit["prefill"]} == expected
        assert audit["self_check_total"] == route["self_check"]["total"]
        assert audit["prefill"][0]["auto"] is True and audit["prefill"][0]["label"].startswith("Соответствие")
        assert audit["requirement"] == {
            "met": False,
            "reviews_required": 1,
            "reviews_done": 0,
            "detail": "Нужна полная проверка по десяти критериям",
        }
        assert audit["delivery"]["status"] == "not_started"

    async def test_route_not_completed_is_409(self, api: httpx.AsyncClient) -> None:
        intake = await setup_intake(api)
        from tests.assessment.intake_support import csv_text, row, scores_with, upload

        r = await upload(api, intake.campaign_id, csv_text([row("t-a1-1", scores_with({"MA2"}))]))
        assert r.status_code in (200, 201), r.text
        route = (await wait_for_routes(api, 1))[0]
        r = await start(api, str(route["id"]), as_methodologist(MUN_A))
        assert r.status_code == 409 and r.json()["code"] == "route-not-completed"

    async def test_route_of_another_municipality_is_404(self, api: httpx.AsyncClient) -> None:
        _, routes = await completed_routes(api, {"t-a1-1": 2})
        r = await start(api, routes["t-a1-1"]["id"], as_methodologist(MUN_B))
        assert r.status_code == 404 and r.json()["code"] == "route-not-found"

    async def test_unknown_route_is_404(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [])
        r = await start(api, str(uuid.uuid4()), as_regional())
        assert r.status_code == 404

    async def test_second_audit_of_a_route_is_409_naming_the_first(self, api: httpx.AsyncClient) -> None:
        _, routes = await completed_routes(api, {"t-a1-1": 2})
        first = await start(api, routes["t-a1-1"]["id"], as_methodologist(MUN_A))
        again = await start(api, routes["t-a1-1"]["id"], as_regional())
        assert again.status_code == 409 and again.json()["audit_id"] == first.json()["id"]

    async def test_teacher_and_school_cannot_audit(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        for h in (as_teacher(region, "t-a1-1"), as_school(ORG_A1, MUN_A)):
            r = await start(api, str(uuid.uuid4()), h)
            assert r.status_code == 403

    async def test_extra_fields_are_refused(self, api: httpx.AsyncClient) -> None:
        r = await api.post(
            "/api/v1/audits", json={"route_id": str(uuid.uuid4()), "status": "completed"}, headers=as_regional()
        )
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "extra_forbidden"


class TestGroupRules:
    async def test_group_one_needs_two_auditors(self, api: httpx.AsyncClient) -> None:
        _, routes = await completed_routes(api, {"t-a1-1": 1})
        audit = (await start(api, routes["t-a1-1"]["id"], as_methodologist(MUN_A))).json()
        assert audit["procedure"] == "double"
        first, second = auditor(MUN_A, "aud-1", "Первый"), auditor(MUN_A, "aud-2", "Второй")
        assert (await review(api, audit["id"], [2, 2, 2, 2, 2, 2, 2, 2, 2, 0], first)).status_code == 200
        r = await complete(api, audit["id"], first)
        assert r.status_code == 409 and r.json()["code"] == "audit-incomplete"
        r = await review(api, audit["id"], [1, 2, 0, 2, 2, 2, 2, 2, 2, 2], second)
        assert r.json()["requirement"]["met"] is True
        done = await complete(api, audit["id"], second)
        assert done.status_code == 200, done.text
        body = done.json()
        assert [c["score"] for c in body["criteria"]] == [1, 2, 1, 2, 2, 2, 2, 2, 2, 1]
        assert body["total"] == 17 and body["disagreements"] == [1, 3, 10]

    async def test_group_one_with_a_named_second_check(self, api: httpx.AsyncClient) -> None:
        _, routes = await completed_routes(api, {"t-a1-1": 1})
        audit = (await start(api, routes["t-a1-1"]["id"], as_methodologist(MUN_A))).json()
        h = auditor(MUN_A, "aud-1")
        r = await review(
            api, audit["id"], ALL_TWO, h, second_check={"name": "Сидорова О. И.", "position": "методист ММС"}
        )
        assert r.json()["requirement"]["met"] is True
        assert r.json()["reviews"][0]["second_check"] == {"name": "Сидорова О. И.", "position": "методист ММС"}
        assert (await complete(api, audit["id"], h)).json()["total"] == 20

    async def test_same_auditor_twice_is_still_one_review(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        await seed_region(api, [])
        audit_id = await self._insert(db, 1)
        h = auditor(MUN_A, "aud-1")
        await review(api, audit_id, ALL_TWO, h)
        r = await review(api, audit_id, [1] * 10, h, comments={4: "нет практической пробы"})
        body = r.json()
        assert len(body["reviews"]) == 1 and body["reviews"][0]["total"] == 10
        assert body["reviews"][0]["criteria"][3]["comment"] == "нет практической пробы"
        assert body["requirement"]["met"] is False

    async def test_group_two_needs_one_review(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        await seed_region(api, [])
        audit_id = await self._insert(db, 2)
        h = as_methodologist(MUN_A)
        assert (await complete(api, audit_id, h)).status_code == 409
        await review(api, audit_id, [2, 1, 2, 1, 2, 1, 2, 1, 2, 1], h)
        assert (await complete(api, audit_id, h)).json()["total"] == 15

    async def test_sampled_out_high_group_is_closed_on_the_self_check(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await seed_region(api, [])
        audit_id = await self._insert(db, 4, sampled=False, self_check=[2, 2, 1, 2, 2, 0, 2, 2, 2, 1])
        h = as_methodologist(MUN_A)
        got = (await api.get(f"/api/v1/audits/{audit_id}", headers=h)).json()
        assert got["procedure"] == "self_check" and got["sampled"] is False and got["requirement"]["met"]
        done = (await complete(api, audit_id, h)).json()
        assert done["total"] == 16 and done["reviews"] == []

    async def test_sampled_in_high_group_gets_a_full_review(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await seed_region(api, [])
        audit_id = await self._insert(db, 3, sampled=True, self_check=[2] * 10)
        got = (await api.get(f"/api/v1/audits/{audit_id}", headers=as_regional())).json()
        assert got["procedure"] == "full" and got["sampled"] is True and not got["requirement"]["met"]

    async def test_rules_are_published(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/audits/rules", headers=as_regional())
        rules = {g["group"]: g for g in r.json()}
        assert rules[1]["procedure"] == "double" and rules[1]["named_second_check_allowed"] is True
        assert rules[2]["procedure"] == "full" and rules[2]["sample_share"] is None
        assert rules[3]["sample_share"] == 0.3 and rules[4]["sample_share"] == 0.2

    async def test_criteria_are_published_in_russian(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/audits/criteria", headers=as_methodologist(MUN_A))
        assert len(r.json()) == 10 and r.json()[9]["score_labels"][2] == "соответствует («+»)"

    @staticmethod
    async def _insert(
        db: asyncpg.Connection, group: int, *, sampled: bool = False, self_check: list[int | None] | None = None
    ) -> str:
        rid = route_id_for(group, sampled=sampled) if group in (3, 4) else uuid.uuid4()
        return await insert_audit(
            db, group=group, municipality=MUN_A, organisation=ORG_A1, self_check=self_check, route_id=rid
        )


class TestReviewsAndCompletion:
    async def test_review_must_score_each_criterion_once_within_0_to_2(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await seed_region(api, [])
        audit_id = await insert_audit(db, group=2, municipality=MUN_A, organisation=ORG_A1)
        h = as_methodologist(MUN_A)
        r = await review(api, audit_id, [2] * 9, h)
        assert r.status_code == 422
        r = await review(api, audit_id, [3] + [2] * 9, h)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "score"

    async def test_completion_needs_if_match(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        await seed_region(api, [])
        audit_id = await insert_audit(db, group=2, municipality=MUN_A, organisation=ORG_A1)
        h = as_methodologist(MUN_A)
        await review(api, audit_id, ALL_TWO, h)
        r = await api.post(f"/api/v1/audits/{audit_id}/complete", headers=h)
        assert r.status_code == 428
        r = await api.post(f"/api/v1/audits/{audit_id}/complete", headers={**h, "If-Match": '"1"'})
        assert r.status_code == 412

    async def test_completed_audit_takes_no_more_reviews(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        await seed_region(api, [])
        audit_id = await insert_audit(db, group=2, municipality=MUN_A, organisation=ORG_A1)
        h = as_methodologist(MUN_A)
        await review(api, audit_id, ALL_TWO, h)
        assert (await complete(api, audit_id, h)).status_code == 200
        assert (await review(api, audit_id, ALL_TWO, h)).json()["code"] == "audit-completed"
        assert (await complete(api, audit_id, h)).status_code == 409

    async def test_completion_moves_the_route_to_audited(self, api: httpx.AsyncClient) -> None:
        _, routes = await completed_routes(api, {"t-a1-1": 2})
        route_id = routes["t-a1-1"]["id"]
        h = as_methodologist(MUN_A)
        audit = (await start(api, route_id, h)).json()
        await review(api, audit["id"], [2, 2, 2, 2, 2, 2, 2, 2, 1, 1], h)
        done = await complete(api, audit["id"], h)
        assert done.status_code == 200 and done.json()["delivery"]["status"] == "pending"
        got = await wait_for(api, f"/api/v1/audits/{audit['id']}", h, lambda b: b["delivery"]["status"] != "pending")
        assert got["delivery"]["status"] == "delivered" and got["delivery"]["last_status"] == 200
        route = (await api.get(f"/api/v1/routes/{route_id}", headers=as_regional())).json()
        assert route["status"] == "audited"

    async def test_routes_down_the_audit_is_kept_and_the_route_moves_later(
        self, api: httpx.AsyncClient, live: Stack
    ) -> None:
        _, routes = await completed_routes(api, {"t-a1-1": 2})
        route_id = routes["t-a1-1"]["id"]
        h = as_methodologist(MUN_A)
        audit = (await start(api, route_id, h)).json()
        await review(api, audit["id"], ALL_TWO, h)
        live.stop("routes")
        try:
            done = await complete(api, audit["id"], h)
            assert done.status_code == 200 and done.json()["status"] == "completed"
            assert done.json()["delivery"]["status"] == "pending"
            got = await wait_for(api, f"/api/v1/audits/{audit['id']}", h, lambda b: b["delivery"]["attempts"] >= 2)
            assert got["delivery"]["status"] == "pending" and got["delivery"]["last_status"] == 503
            assert got["status"] == "completed" and got["total"] == 20
        finally:
            live.start("routes")
        got = await wait_for(api, f"/api/v1/audits/{audit['id']}", h, lambda b: b["delivery"]["status"] == "delivered")
        route = (await api.get(f"/api/v1/routes/{route_id}", headers=as_regional())).json()
        assert route["status"] == "audited"

    async def test_refused_delivery_fails_and_can_be_retried(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await seed_region(api, [])
        audit_id = await insert_audit(db, group=2, municipality=MUN_A, organisation=ORG_A1)
        h = as_methodologist(MUN_A)
        await review(api, audit_id, ALL_TWO, h)
        await complete(api, audit_id, h)
        # The arranged audit names a route the routes service does not know: a refusal, not a retry.
        got = await wait_for(api, f"/api/v1/audits/{audit_id}", h, lambda b: b["delivery"]["status"] == "failed")
        assert got["delivery"]["last_status"] == 404 and got["delivery"]["attempts"] == 1
        r = await api.post(f"/api/v1/audits/{audit_id}/delivery/retry", headers=as_regional())
        assert r.status_code == 200
        got = await wait_for(api, f"/api/v1/audits/{audit_id}", h, lambda b: b["delivery"]["attempts"] == 2)
        assert got["delivery"]["status"] == "failed"


class TestStatistics:
    async def test_average_per_criterion_by_municipality_school_and_auditor(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await seed_region(api, [])
        a1 = await insert_audit(db, group=2, municipality=MUN_A, organisation=ORG_A1)
        a2 = await insert_audit(db, group=2, municipality=MUN_A, organisation=ORG_A2)
        b1 = await insert_audit(db, group=2, municipality=MUN_B, organisation=ORG_B1)
        open_one = await insert_audit(db, group=2, municipality=MUN_A, organisation=ORG_A1)
        x, y = auditor(MUN_A, "aud-x", "Икс"), auditor(MUN_A, "aud-y", "Игрек")
        await review(api, a1, [2, 2, 0, 2, 2, 1, 2, 2, 2, 2], x)
        await review(api, a2, [2, 0, 0, 2, 2, 1, 2, 2, 2, 1], y)
        await review(api, b1, [0] * 10, auditor(MUN_B, "aud-z"))
        await review(api, open_one, [0] * 10, x)  # open audits are not counted
        for aid, h in ((a1, x), (a2, y), (b1, auditor(MUN_B, "aud-z"))):
            assert (await complete(api, aid, h)).status_code == 200

        r = await api.get("/api/v1/audits/stats", params={"by": "municipality"}, headers=as_regional())
        body = r.json()
        assert body["overall"]["audits"] == 3
        a = next(g for g in body["groups"] if g["key"] == MUN_A)
        assert a["audits"] == 2 and a["average_total"] == 15.5
        assert [c["average"] for c in a["criteria"]] == [2, 1, 0, 2, 2, 1, 2, 2, 2, 1.5]
        assert a["weakest"] == [3, 2, 6]

        by_school = (
            await api.get("/api/v1/audits/stats", params={"by": "organisation"}, headers=as_methodologist(MUN_A))
        ).json()
        assert [g["key"] for g in by_school["groups"]] == [ORG_A1, ORG_A2]
        assert by_school["overall"]["audits"] == 2

        by_auditor = (
            await api.get(
                "/api/v1/audits/stats", params={"by": "auditor", "municipality": MUN_A}, headers=as_regional()
            )
        ).json()
        labels = {g["key"]: (g["label"], g["audits"], g["average_total"]) for g in by_auditor["groups"]}
        assert labels == {"aud-x": ("Икс", 1, 17.0), "aud-y": ("Игрек", 1, 14.0)}


class TestScope:
    async def test_methodologist_sees_only_own_municipality(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await seed_region(api, [])
        a = await insert_audit(db, group=2, municipality=MUN_A, organisation=ORG_A1)
        b = await insert_audit(db, group=2, municipality=MUN_B, organisation=ORG_B1)
        hb = as_methodologist(MUN_B)
        assert (await api.get(f"/api/v1/audits/{a}", headers=hb)).status_code == 404
        assert (await review(api, a, ALL_TWO, hb)).status_code == 404
        listed = (await api.get("/api/v1/audits", headers=hb)).json()["items"]
        assert [i["id"] for i in listed] == [b]
        regional = (await api.get("/api/v1/audits", headers=as_regional())).json()["items"]
        assert {i["id"] for i in regional} == {a, b}

    async def test_teacher_reads_own_audit_only(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        region = await seed_region(api)
        own = await insert_audit(
            db, group=2, municipality=MUN_A, organisation=ORG_A1, teacher_id=uuid.UUID(region.id("t-a1-1"))
        )
        other = await insert_audit(
            db, group=2, municipality=MUN_A, organisation=ORG_A1, teacher_id=uuid.UUID(region.id("t-a1-2"))
        )
        h = as_teacher(region, "t-a1-1")
        assert (await api.get(f"/api/v1/audits/{own}", headers=h)).status_code == 200
        assert (await api.get(f"/api/v1/audits/{other}", headers=h)).status_code == 404
        assert (await review(api, own, ALL_TWO, h)).status_code == 403

    async def test_school_sees_own_school(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        await seed_region(api, [])
        a1 = await insert_audit(db, group=2, municipality=MUN_A, organisation=ORG_A1)
        await insert_audit(db, group=2, municipality=MUN_A, organisation=ORG_A2)
        listed = (await api.get("/api/v1/audits", headers=as_school(ORG_A1, MUN_A))).json()["items"]
        assert [i["id"] for i in listed] == [a1]

    async def test_list_pages_and_filters(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        await seed_region(api, [])
        ids = [await insert_audit(db, group=g, municipality=MUN_A, organisation=ORG_A1) for g in (1, 2, 2)]
        h = as_regional()
        page1 = (await api.get("/api/v1/audits", params={"limit": 2}, headers=h)).json()
        page2 = (await api.get("/api/v1/audits", params={"limit": 2, "cursor": page1["next_cursor"]}, headers=h)).json()
        assert len(page1["items"]) == 2 and len(page2["items"]) == 1 and page2["next_cursor"] is None
        assert {i["id"] for i in page1["items"] + page2["items"]} == set(ids)
        only_1 = (await api.get("/api/v1/audits", params={"group": 1}, headers=h)).json()["items"]
        assert [i["id"] for i in only_1] == [ids[0]]
        assert (await api.get("/api/v1/audits", params={"cursor": "bogus"}, headers=h)).status_code == 422
