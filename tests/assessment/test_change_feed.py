"""The change feed: roles, item shape, no skips or repeats across restarts and late commits."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx

from tests.assessment.intake_support import csv_text, full_marks, row, scores_with, setup_intake, upload
from tests.harness import Stack
from tests.region import MUN_A, as_methodologist, as_regional, service_headers

FEED = "/api/v1/assessment/changes"


async def read_all(api: httpx.AsyncClient, after: str | None, limit: int = 100) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": limit, **({"after": after} if after else {})}
        r = await api.get(FEED, params=params, headers=service_headers())
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        after = page["next_cursor"]
        if not page["has_more"]:
            assert after is not None
            return items, after


class TestFeedAccess:
    async def test_only_services_and_regional_roles(self, api: httpx.AsyncClient) -> None:
        await setup_intake(api)
        assert (await api.get(FEED, headers=as_methodologist(MUN_A))).status_code == 403
        assert (await api.get(FEED, headers=as_regional())).status_code == 200
        assert (await api.get(FEED, headers=service_headers())).status_code == 200

    async def test_forged_cursor_is_422(self, api: httpx.AsyncClient) -> None:
        assert (await api.get(FEED, params={"after": "bm9wZQ"}, headers=service_headers())).status_code == 422


class TestFeedItems:
    async def test_item_carries_what_a_route_needs(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        await upload(api, it.campaign_id, csv_text([row("t-a1-1", scores_with({"M3", "MA2"}))]))
        [item], _ = await read_all(api, None)
        assert item["teacher_id"] == it.region.id("t-a1-1") and item["external_id"] == "t-a1-1"
        assert (item["municipality"], item["organisation"], item["region"]) == ("mo-a", "oo-a1", "r-test")
        assert item["full_name"] == "Иванова Мария Петровна" and item["position"] == "учитель"
        assert (item["campaign_id"], item["subject"], item["campaign_source"]) == (
            it.campaign_id,
            "mathematics",
            "fioko_subject",
        )
        assert (item["framework_code"], item["framework_version"], item["result_version"]) == ("default", 1, 1)
        assert (item["level"], item["group"]) == ("elevated", 3)
        assert item["deficits"] == ["M3", "MA2"]
        m3 = next(c for c in item["competencies"] if c["competency"] == "M3")
        assert "ниже порога" in m3["explanation"] and m3["items"]
        assert len(item["competencies"]) == 8 and len(item["strengths"]) == 6

    async def test_other_region_sees_nothing(self, api: httpx.AsyncClient) -> None:
        from kit.auth import Role
        from tests.harness import auth

        it = await setup_intake(api)
        await upload(api, it.campaign_id, csv_text([row("t-a1-1", full_marks())]))
        r = await api.get(FEED, headers=auth(Role.service, region="r-other"))
        assert r.json()["items"] == []


class TestFeedDelivery:
    async def test_no_skip_no_repeat_across_a_restart(self, api: httpx.AsyncClient, live: Stack) -> None:
        it = await setup_intake(api)
        await upload(api, it.campaign_id, csv_text([row(t, full_marks()) for t in ("t-a1-1", "t-a1-2", "t-a2-1")]))
        first, cursor = await read_all(api, None, limit=2)
        assert len(first) == 3
        live.stop("assessment")
        live.start("assessment")
        body = csv_text([row("t-a1-1", scores_with({"M1"})), row("t-b1-1", full_marks()), row("t-b2-1", full_marks())])
        for _ in range(50):  # the gateway may hold a connection to the old process for a moment
            r = await upload(api, it.campaign_id, body, key="after-restart")
            if r.status_code not in (502, 503):
                break
            await asyncio.sleep(0.2)
        assert r.status_code == 200, r.text
        second, cursor = await read_all(api, cursor, limit=2)
        keys = [(i["teacher_id"], i["campaign_id"], i["result_version"]) for i in first + second]
        assert len(keys) == len(set(keys)) == 6
        assert [(i["external_id"], i["result_version"]) for i in second] == [
            ("t-a1-1", 2),
            ("t-b1-1", 1),
            ("t-b2-1", 1),
        ]
        again, _ = await read_all(api, cursor)
        assert again == []

    async def test_a_late_commit_is_not_skipped(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        it = await setup_intake(api)
        await upload(api, it.campaign_id, csv_text([row("t-a1-1", full_marks())]))
        seen, cursor = await read_all(api, None)
        result = await db.fetchrow("SELECT id, teacher_id, campaign_id, version FROM assessment.results")
        tx = db.transaction()
        await tx.start()
        try:
            # An announcement written by a transaction that is still open (it takes its position now)...
            await db.execute(
                "INSERT INTO assessment.result_changes (result_id, teacher_id, campaign_id, result_version) "
                "VALUES ($1, $2, $3, $4)",
                result["id"],
                result["teacher_id"],
                result["campaign_id"],
                result["version"],
            )
            # ...while a later upload commits first.
            r = await upload(api, it.campaign_id, csv_text([row("t-b1-1", full_marks())]))
            assert r.status_code == 200
            held, held_cursor = await read_all(api, cursor)
            assert held == [] and held_cursor == cursor
        finally:
            await tx.commit()
        late, _ = await read_all(api, cursor)
        assert [i["external_id"] for i in late] == ["t-a1-1", "t-b1-1"]
        assert len(seen) == 1

    async def test_rolled_back_changes_are_never_announced(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        it = await setup_intake(api)
        await upload(api, it.campaign_id, csv_text([row("t-a1-1", full_marks())]))
        _, cursor = await read_all(api, None)
        result = await db.fetchrow("SELECT id, teacher_id, campaign_id, version FROM assessment.results")
        tx = db.transaction()
        await tx.start()
        await db.execute(
            "INSERT INTO assessment.result_changes (result_id, teacher_id, campaign_id, result_version) "
            "VALUES ($1, $2, $3, $4)",
            result["id"],
            result["teacher_id"],
            result["campaign_id"],
            99,
        )
        await tx.rollback()
        bad = await upload(api, it.campaign_id, csv_text([row("t-a1-2", full_marks()), row("nobody", full_marks())]))
        assert bad.status_code == 422
        after, _ = await read_all(api, cursor)
        assert after == []
