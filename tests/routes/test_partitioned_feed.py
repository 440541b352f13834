"""Generation scales out (issue 16 point 1): the change feed in partitions, leased by replicas.

Two replicas are two `PartitionWorkers` in this process, built as the routes service builds them
(`FeedConsumer.of_service` with ROUTES_FEED_PARTITIONS), on the stack's database and gateway; the routes
service itself answers the API but consumes no feed meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from kit.app import service_database_url
from kit.client import GatewayClient
from kit.db import make_engine, make_sessionmaker
from kit.settings import CommonSettings
from services.routes.clients import ResourceMapClient
from services.routes.config import RoutesSettings
from services.routes.feed import FeedConsumer, PartitionWorkers
from services.routes.partition_repository import FeedPartitionRepository
from tests.assessment.intake_support import setup_intake
from tests.harness import Stack
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_B1, as_regional, teacher_row
from tests.routes.flow import results_for

FEED = "/api/v1/assessment/changes"
P = 4
TEACHERS = [
    teacher_row(f"t-p-{n}", f"Педагогова Анна {n}", *((MUN_A, ORG_A1) if n % 2 else (MUN_B, ORG_B1)), ["mathematics"])
    for n in range(12)
]


async def feed_items(api: httpx.AsyncClient, **params: int) -> list[dict[str, object]]:
    r = await api.get(FEED, params={"limit": 500, **params}, headers=as_regional())
    assert r.status_code == 200, r.text
    items: list[dict[str, object]] = r.json()["items"]
    return items


async def upload_all(api: httpx.AsyncClient) -> None:
    intake = await setup_intake(api, TEACHERS)
    await results_for(api, {t["external_id"]: {"M2"} for t in TEACHERS}, intake)


async def routes_per_teacher(api: httpx.AsyncClient) -> Counter[str]:
    r = await api.get("/api/v1/routes", params={"limit": 500}, headers=as_regional())
    assert r.status_code == 200, r.text
    return Counter(i["teacher_id"] for i in r.json()["items"])


@contextlib.asynccontextmanager
async def replicas(live: Stack, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[PartitionWorkers, ...]]:
    """Two replicas of a feed in P partitions (two partitions each at once); the service consumes nothing."""
    live.stop("routes")
    monkeypatch.setitem(live.env, "ROUTES_FEED_ENABLED", "false")
    live.start("routes")
    for key, value in live.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ROUTES_FEED_PARTITIONS", str(P))
    monkeypatch.setenv("ROUTES_FEED_PARTITION_WORKERS", "2")
    monkeypatch.setenv("ROUTES_FEED_POLL_SECONDS", "0.2")
    common = CommonSettings()
    engine = make_engine(service_database_url(common, RoutesSettings()), pool_size=6)
    client = GatewayClient(common, caller="routes", timeout=60)
    sessions = make_sessionmaker(engine)
    made = []
    try:
        for name in ("replica-1", "replica-2"):
            settings = RoutesSettings(feed_replica=name)
            consumer = FeedConsumer.of_service(sessions, client, ResourceMapClient(client), settings)
            assert consumer.workers is not None
            made.append(consumer.workers)
        await made[0].ensure()
        yield tuple(made)
    finally:
        await client.aclose()
        await engine.dispose()
        live.stop("routes")
        monkeypatch.setitem(live.env, "ROUTES_FEED_ENABLED", "true")
        live.start("routes")


async def leases(w: PartitionWorkers) -> dict[int, tuple[str | None, str | None]]:
    async with w.whole.sessionmaker() as s:
        rows = await s.execute(
            text("SELECT partition, cursor, lease_owner FROM routes.feed_partitions WHERE partitions = :p"), {"p": P}
        )
        return {r.partition: (r.cursor, r.lease_owner) for r in rows}


class TestFeedPartitions:
    async def test_the_feed_splits_into_partitions_each_teacher_in_one_in_feed_order(
        self, api: httpx.AsyncClient
    ) -> None:
        await upload_all(api)
        whole = [str(i["change_id"]) for i in await feed_items(api)]
        parts = [await feed_items(api, partition=i, partitions=P) for i in range(P)]
        assert sorted(str(i["change_id"]) for part in parts for i in part) == sorted(whole)
        for part in parts:
            ids = [i["change_id"] for i in part]
            assert ids == [c for c in whole if c in ids]  # feed order kept
        owners = Counter(t for part in parts for t in {i["teacher_id"] for i in part})
        assert set(owners.values()) == {1} and len(owners) == len(TEACHERS)
        assert sum(1 for part in parts if part) > 1  # twelve teachers spread over more than one

    async def test_a_partition_read_page_by_page_gives_each_of_its_changes_once_in_order(
        self, api: httpx.AsyncClient
    ) -> None:
        """A page reads a window of the feed (2 x P x limit changes), not all of it: pages may be short or
        empty while more follow, and their cursors still lead through every change of the partition."""
        await upload_all(api)
        whole = [str(i["change_id"]) for i in await feed_items(api)]
        read: list[str] = []
        for i in range(P):
            cursor: str | None = None
            while True:
                params: dict[str, object] = {"limit": 1, "partition": i, "partitions": P}
                if cursor:
                    params["after"] = cursor
                r = await api.get(FEED, params=params, headers=as_regional())
                assert r.status_code == 200, r.text
                page = r.json()
                read += [str(item["change_id"]) for item in page["items"]]
                cursor = page["next_cursor"]
                if not page["has_more"]:
                    break
        assert sorted(read) == sorted(whole) and len(read) == len(set(read))

    async def test_a_partition_number_out_of_range_is_422_in_russian(self, api: httpx.AsyncClient) -> None:
        r = await api.get(FEED, params={"partition": P, "partitions": P}, headers=as_regional())
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"] == ["query", "partition"]
        assert "части" in r.json()["detail"]


class TestReplicas:
    async def test_two_replicas_generate_in_parallel_one_route_per_teacher(
        self, api: httpx.AsyncClient, live: Stack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with replicas(live, monkeypatch) as (one, two):
            await upload_all(api)
            mine, theirs = await one.claim(2), await two.claim(2)
            assert len(mine) == len(theirs) == 2 and set(mine).isdisjoint(theirs)
            # No global lock: while a writing transaction of replica 1's partition is open (its lease row
            # locked, the generation lock taken shared), replica 2 writes its partitions.
            async with one.whole.sessionmaker() as s, s.begin():
                held, _ = await one.consumer(mine[0]).position.take(s)
                assert held
                for part in theirs:
                    await asyncio.wait_for(two.drain(part), 60)
            for part in mine:
                await one.drain(part)
            state = await leases(one)
        assert all(cursor is not None for cursor, _ in state.values()), state  # every partition moved on
        assert all(owner is None for _, owner in state.values()), state  # let go once caught up
        per_teacher = await routes_per_teacher(api)
        assert len(per_teacher) == len(TEACHERS) and set(per_teacher.values()) == {1}

    async def test_running_replicas_share_the_work_and_let_go_on_shutdown(
        self, api: httpx.AsyncClient, live: Stack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with replicas(live, monkeypatch) as (one, two):
            await upload_all(api)
            tasks = [asyncio.create_task(w.run()) for w in (one, two)]
            try:
                # Every route written and every lease let go: the drains that wrote them have finished (the
                # replicas run in this event loop, so a route can be seen before its writer resumes).
                for _ in range(300):
                    if len(await routes_per_teacher(api)) == len(TEACHERS) and all(
                        owner is None for _, owner in (await leases(one)).values()
                    ):
                        break
                    await asyncio.sleep(0.2)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            state = await leases(one)
        assert all(owner is None for _, owner in state.values()), state
        errors = (one.whole.last_error, two.whole.last_error)  # why, should the replicas have written nothing
        assert one.whole.processed + two.whole.processed >= len(TEACHERS), (errors, state)
        per_teacher = await routes_per_teacher(api)
        assert len(per_teacher) == len(TEACHERS) and set(per_teacher.values()) == {1}

    async def test_a_replica_that_stopped_without_letting_go_has_its_partitions_taken_over(
        self, api: httpx.AsyncClient, live: Stack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with replicas(live, monkeypatch) as (gone, alive):
            await upload_all(api)
            gone.workers = P
            taken = await gone.claim(P)
            assert taken == list(range(P))
            assert await alive.claim(P) == []  # held: nothing to take
            stale = gone.consumer(taken[0])
            assert await stale.plan_ahead() is not None  # it was reading when it stopped
            async with gone.whole.sessionmaker() as s, s.begin():  # ... and never renewed: the leases run out
                await s.execute(text("UPDATE routes.feed_partitions SET lease_until = now() - interval '1 second'"))
            assert await alive.claim(P) == list(range(P))
            assert await stale.step() == (False, None)  # its lease is gone: it writes nothing
            stale._drop_ahead()
            for part in range(P):
                await alive.drain(part)
            async with alive.whole.sessionmaker() as s:
                cursors = await FeedPartitionRepository(s).cursors(P)
        assert all(c is not None for c in cursors.values()), cursors
        per_teacher = await routes_per_teacher(api)
        assert len(per_teacher) == len(TEACHERS) and set(per_teacher.values()) == {1}
