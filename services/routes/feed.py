"""Consume the assessment change feed: every stored or changed result gets its route, exactly once.

The cursor is stored in the same transaction as the routes it produced, so a crash between the
two is impossible; re-reading a page after a failure regenerates the same routes (route ids
derive from teacher and period), so nothing is duplicated or lost.

Pages go through three stages, overlapped: *reading* (the page and its snapshots; no side effects)
runs a page ahead of *planning* (read the page's routes, ask the resource map, generate the content;
no lock), which runs a page ahead of *writing*. Writing happens in cursor order, one page per
transaction under the generation lock: it checks that the stored cursor is still the one the page was
read after and that none of the page's routes changed since they were read (else it generates the page
again from what is there now), writes, and moves the cursor.

Scaling out (ROUTES_FEED_PARTITIONS = P > 1): the assessment feed is read in P partitions (PostgreSQL
hashes the teacher id; every change of a teacher falls into one, so each partition keeps feed order and no
two partitions write the same route), each with its cursor in `feed_partitions`. Every replica runs
`PartitionWorkers`: it leases free or expired partitions (`SELECT ... FOR UPDATE SKIP LOCKED`, no global
lock, no waiting), drains each with a `FeedConsumer` of that partition, renews its leases, and lets go when
a partition is caught up and on shutdown. A page's routes and its partition's cursor are written in one
transaction that first checks the lease is still held, so a replica killed with -9 loses nothing: its leases
run out and another replica continues from its last cursor (a page read twice writes the same routes).
Leases in PostgreSQL rather than a job queue: the work is a cursor per partition, not a set of jobs, and the
cursor must move in the routes' own transaction, which a queue library (procrastinate) would not do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kit.auth import Principal, Role
from kit.client import GatewayClient
from services.routes.clients import AssessmentFeed, ResourceMapClient, snapshot_from_change
from services.routes.config import RoutesSettings
from services.routes.generation import Snapshot
from services.routes.partition_repository import FeedPartitionRepository
from services.routes.pipeline import (
    YIELD_EVERY,
    Batch,
    Outcome,
    Plan,
    batch_of,
    generate_routes,
    plan_routes,
    write_plan,
)
from services.routes.repository import RouteRepository
from services.routes.service.personal_data import depersonalise_routes

log = logging.getLogger("routes.feed")
CONSUMER = "assessment-results"
FEED_ACTOR = Principal(sub="service:routes-feed", role=Role.service)


@dataclass
class ReadPage:
    """A feed page as snapshots."""

    next_cursor: str | None
    has_more: bool
    snaps: list[Snapshot]
    # Depersonalised teachers of the page: teacher id -> the opaque external id they have now.
    depersonalised: dict[str, str]


@dataclass
class PlannedPage:
    """A feed page read after `after`, with the plan of what it writes."""

    after: str | None
    next_cursor: str | None
    has_more: bool
    items: int
    snaps: list[Snapshot]
    batch: Batch
    plan: Plan | None
    timings: dict[str, int]
    depersonalised: dict[str, str]


class Position(Protocol):
    """Where a consumer stands in the feed, and what lets it write there."""

    @property
    def filters(self) -> dict[str, str]:
        """The feed's query parameters of this position."""
        ...

    async def take(self, session: AsyncSession) -> tuple[bool, str | None]:
        """(may this consumer write now, its cursor), inside the writing transaction."""
        ...

    async def move(self, session: AsyncSession, cursor: str) -> None: ...


class WholeFeed:
    """The one consumer of the whole feed: the generation lock, one cursor (`feed_state`)."""

    @property
    def filters(self) -> dict[str, str]:
        return {}

    async def take(self, session: AsyncSession) -> tuple[bool, str | None]:
        repo = RouteRepository(session)
        if not await repo.lock_generation(wait=False):
            return False, None
        return True, await repo.get_cursor(CONSUMER)

    async def move(self, session: AsyncSession, cursor: str) -> None:
        await RouteRepository(session).set_cursor(CONSUMER, cursor)


@dataclass
class PartitionLease:
    """Partition `partition` of `partitions`, written only while `owner` holds its lease."""

    partition: int
    partitions: int
    owner: str
    lease_seconds: float

    @property
    def filters(self) -> dict[str, str]:
        return {"partition": str(self.partition), "partitions": str(self.partitions)}

    async def take(self, session: AsyncSession) -> tuple[bool, str | None]:
        repo = FeedPartitionRepository(session)
        if not await repo.share_generation():
            return False, None  # a request is generating routes now
        return await repo.held_cursor(self.partitions, self.partition, self.owner)

    async def move(self, session: AsyncSession, cursor: str) -> None:
        await FeedPartitionRepository(session).move(
            self.partitions, self.partition, self.owner, cursor, self.lease_seconds
        )


def _quiet(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


class FeedConsumer:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        feed: AssessmentFeed,
        resource_map: ResourceMapClient,
        *,
        batch: int,
        poll_seconds: float,
        max_age_days: int | None = None,
        position: Position | None = None,
        workers: PartitionWorkers | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.position: Position = position or WholeFeed()
        # With more than one partition, `run` runs these instead of reading the whole feed.
        self.workers = workers
        self.feed = feed
        self.resource_map = resource_map
        self.batch = batch
        self.max_age_days = max_age_days
        self.poll = poll_seconds
        self.processed = 0
        self.last_error: str | None = None
        # Pages being read, by the cursor they are read after (reading has no side effects).
        self._reads: dict[str | None, asyncio.Task[ReadPage]] = {}
        # The next page being planned while the current one is written.
        self._ahead: tuple[str | None, asyncio.Task[PlannedPage]] | None = None

    @classmethod
    def of_service(
        cls,
        sessionmaker: async_sessionmaker[AsyncSession],
        client: GatewayClient,
        resource_map: ResourceMapClient,
        settings: RoutesSettings,
    ) -> FeedConsumer:
        """The consumer as the routes service runs it, from its settings."""
        consumer = cls(
            sessionmaker,
            AssessmentFeed(client),
            resource_map,
            batch=settings.feed_batch,
            poll_seconds=settings.feed_poll_seconds,
            max_age_days=settings.max_result_age_days,
        )
        if settings.feed_partitions > 1:
            consumer.workers = PartitionWorkers(
                consumer,
                partitions=settings.feed_partitions,
                workers=settings.feed_partition_workers,
                lease_seconds=settings.feed_lease_seconds,
                replica=settings.feed_replica or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            )
        return consumer

    def of_partition(self, position: Position) -> FeedConsumer:
        """A consumer like this one, of one position in the feed (a leased partition)."""
        return FeedConsumer(
            self.sessionmaker,
            self.feed,
            self.resource_map,
            batch=self.batch,
            poll_seconds=self.poll,
            max_age_days=self.max_age_days,
            position=position,
        )

    def _read(self, cursor: str | None) -> asyncio.Task[ReadPage]:
        task = self._reads.pop(cursor, None)
        if task is None:
            task = asyncio.create_task(self._read_page(cursor))
        return task

    async def _read_page(self, cursor: str | None) -> ReadPage:
        """Read the page after `cursor` and turn its items into snapshots (no side effects)."""
        page = await self.feed.page(cursor, self.batch, **self.position.filters)
        items = page.items
        snaps: list[Snapshot] = []
        for n in range(0, len(items), YIELD_EVERY):
            snaps += [snapshot_from_change(i) for i in items[n : n + YIELD_EVERY]]
            await asyncio.sleep(0)  # a page before it may be writing (see YIELD_EVERY)
        gone = {str(i["teacher_id"]): str(i.get("external_id") or "") for i in items if i.get("depersonalised")}
        return ReadPage(page.next_cursor, page.has_more, snaps, gone)

    def _drop_ahead(self) -> None:
        tasks: list[asyncio.Task[Any]] = list(self._reads.values())
        if self._ahead is not None:
            tasks.append(self._ahead[1])
        self._ahead = None
        self._reads.clear()
        for task in tasks:
            task.cancel()
            # Nobody awaits it any more: its failure (already reported by the step that failed) stays quiet.
            task.add_done_callback(_quiet)

    async def _plan(
        self, cursor: str | None, written: asyncio.Event | None = None, before: PlannedPage | None = None
    ) -> PlannedPage:
        """Plan the page after `cursor`, and start reading the one after it. When it shares routes with
        `before` (a page not yet written), its routes are read only once `written` is set, so the plan
        sees what that page wrote."""
        t0 = time.perf_counter()
        page = await self._read(cursor)
        read = time.perf_counter()
        if page.has_more and page.next_cursor:
            self._reads[page.next_cursor] = self._read(page.next_cursor)  # read one page further ahead
        today = datetime.now(UTC).date()
        batch = batch_of(page.snaps, today, self.max_age_days)
        timings = {"fetch_wait_ms": round((read - t0) * 1000)}
        plan = None
        if page.snaps:
            keys = batch.keys
            if written is not None and before is not None and not set(keys).isdisjoint(before.batch.keys):
                t1 = time.perf_counter()
                await written.wait()
                timings["overlap_wait_ms"] = round((time.perf_counter() - t1) * 1000)
            async with self.sessionmaker() as session:
                existing = await RouteRepository(session).existing_for(keys)
            plan = await plan_routes(batch, existing, self.resource_map, today, FEED_ACTOR)
            timings["plan_ms"] = round((time.perf_counter() - read) * 1000)
        return PlannedPage(
            cursor,
            page.next_cursor,
            page.has_more,
            len(page.snaps),
            page.snaps,
            batch,
            plan,
            timings,
            page.depersonalised,
        )

    async def plan_ahead(self) -> asyncio.Task[PlannedPage] | None:
        """Start planning the page after the stored cursor unless one is planned already; None (nothing
        read) while another consumer (another replica) holds the generation lock or the partition's lease."""
        if self._ahead is None:
            async with self.sessionmaker() as session, session.begin():
                may, cursor = await self.position.take(session)
                if not may:
                    return None
            self._ahead = (cursor, asyncio.create_task(self._plan(cursor)))
        return self._ahead[1]

    async def step(self) -> tuple[bool, Outcome | None]:
        """Write one page; return (more pages waiting, outcome). One consumer at a time per database."""
        if await self.plan_ahead() is None:
            return False, None
        assert self._ahead is not None
        t0 = time.perf_counter()
        page = await self._ahead[1]
        self._ahead = None
        plan_wait = time.perf_counter() - t0
        written = asyncio.Event()
        if page.has_more and page.next_cursor:
            # Plan the next page while this one is written.
            self._ahead = (page.next_cursor, asyncio.create_task(self._plan(page.next_cursor, written, page)))
        t1 = time.perf_counter()
        async with self.sessionmaker() as session, session.begin():
            repo = RouteRepository(session)
            may, cursor = await self.position.take(session)
            if not may:
                self._drop_ahead()
                return False, None
            if cursor != page.after:
                self._drop_ahead()  # another consumer moved on: start again from the stored cursor
                return True, None
            outcome = None
            replanned = False
            if page.plan is not None:
                today = datetime.now(UTC).date()
                if await repo.versions_for(page.batch.keys) == page.plan.seen:
                    outcome = await write_plan(session, page.plan, FEED_ACTOR)
                else:
                    # Routes of this page changed after they were read: generate from what is there now.
                    replanned = True
                    outcome = await generate_routes(
                        session, page.snaps, self.resource_map, today, FEED_ACTOR, self.max_age_days
                    )
            # After generation, in the same transaction: a regenerated draft loses the name as well.
            await depersonalise_routes(session, page.depersonalised)
            if page.next_cursor and page.next_cursor != page.after:
                await self.position.move(session, page.next_cursor)
        written.set()
        self.processed += page.items
        if outcome is not None:
            log.info(
                "feed page processed",
                extra={
                    "items": page.items,
                    "routes_created": outcome.created,
                    "routes_regenerated": outcome.regenerated,
                    "replanned": replanned,
                    "plan_wait_ms": round(plan_wait * 1000),
                    "commit_ms": round((time.perf_counter() - t1) * 1000),
                    **page.timings,
                    **outcome.timings,
                },
            )
        return page.has_more, outcome

    async def run(self) -> None:
        """Poll forever; back off on errors (the assessment service or the gateway may be down)."""
        if self.workers is not None:
            await self.workers.run()
            return
        delay = self.poll
        while True:
            try:
                more, _ = await self.step()
                self.last_error = None
                delay = self.poll
                if more:
                    continue
            except asyncio.CancelledError:
                self._drop_ahead()
                raise
            except Exception as e:
                self._drop_ahead()
                self.last_error = type(e).__name__
                log.warning("feed step failed; will retry", extra={"error": type(e).__name__}, exc_info=True)
                delay = min(max(delay * 2, 1.0), 10.0)
            await asyncio.sleep(delay)


class PartitionWorkers:
    """One replica's share of a partitioned feed: up to `workers` leased partitions drained at once."""

    def __init__(
        self, whole: FeedConsumer, *, partitions: int, workers: int, lease_seconds: float, replica: str
    ) -> None:
        self.whole = whole
        self.partitions = partitions
        self.workers = workers
        self.lease_seconds = lease_seconds
        self.replica = replica
        self.running: dict[int, asyncio.Task[bool]] = {}

    async def _in_tx(self, work: Any) -> Any:
        async with self.whole.sessionmaker() as session, session.begin():
            return await work(FeedPartitionRepository(session))

    async def ensure(self) -> None:
        await self._in_tx(lambda repo: repo.ensure(self.partitions, CONSUMER))

    async def claim(self, limit: int) -> list[int]:
        """Lease up to `limit` free or expired partitions (none that another replica holds)."""
        parts: list[int] = await self._in_tx(
            lambda repo: repo.claim(self.partitions, self.replica, limit, self.lease_seconds)
        )
        return parts

    async def renew(self) -> None:
        if self.running:
            parts = list(self.running)
            await self._in_tx(lambda repo: repo.renew(self.partitions, self.replica, parts, self.lease_seconds))

    async def release(self, parts: list[int] | None = None) -> None:
        await self._in_tx(lambda repo: repo.release(self.partitions, self.replica, parts))

    def consumer(self, partition: int) -> FeedConsumer:
        return self.whole.of_partition(PartitionLease(partition, self.partitions, self.replica, self.lease_seconds))

    async def drain(self, partition: int) -> bool:
        """Write the partition's pages until it is caught up (or its lease is lost), then let it go; whether
        it had anything to write."""
        consumer = self.consumer(partition)
        busy = False
        try:
            more = True
            while more:
                more, outcome = await consumer.step()
                busy = busy or outcome is not None
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.whole.last_error = type(e).__name__
            log.warning("feed partition failed; will retry", extra={"partition": partition}, exc_info=True)
            busy = False
        finally:
            consumer._drop_ahead()
            self.whole.processed += consumer.processed
            with contextlib.suppress(Exception):
                await self.release([partition])
        return busy

    async def run(self) -> None:
        """Claim, drain, renew; poll for work every `poll_seconds` (at once while partitions had work)."""
        renew_every = self.lease_seconds / 3
        claim_at = renewed_at = 0.0
        try:
            await self.ensure()
            while True:
                now = time.monotonic()
                try:
                    if now >= renewed_at + renew_every:
                        await self.renew()
                        renewed_at = now
                    free = self.workers - len(self.running)
                    if free > 0 and now >= claim_at:
                        claim_at = now + self.whole.poll
                        for part in await self.claim(free):
                            self.running[part] = asyncio.create_task(self.drain(part))
                    self.whole.last_error = None
                except Exception as e:
                    self.whole.last_error = type(e).__name__
                    log.warning("feed partitions: claim failed; will retry", exc_info=True)
                next_claim = claim_at if len(self.running) < self.workers else float("inf")
                wait = max(0.01, min(next_claim, renewed_at + renew_every) - time.monotonic())
                if self.running:
                    await asyncio.wait(self.running.values(), timeout=wait)
                    for part, task in list(self.running.items()):
                        if task.done():
                            del self.running[part]
                            if task.result():
                                claim_at = 0.0  # a partition had work: look for more now
                else:
                    await asyncio.sleep(wait)
        finally:
            tasks = list(self.running.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.running.clear()
            with contextlib.suppress(Exception):
                await self.release()
