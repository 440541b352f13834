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
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kit.auth import Principal, Role
from kit.client import GatewayClient
from services.routes.clients import AssessmentFeed, ResourceMapClient, snapshot_from_change
from services.routes.config import RoutesSettings
from services.routes.generation import Snapshot
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
    ) -> None:
        self.sessionmaker = sessionmaker
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
        return cls(
            sessionmaker,
            AssessmentFeed(client),
            resource_map,
            batch=settings.feed_batch,
            poll_seconds=settings.feed_poll_seconds,
            max_age_days=settings.max_result_age_days,
        )

    def _read(self, cursor: str | None) -> asyncio.Task[ReadPage]:
        task = self._reads.pop(cursor, None)
        if task is None:
            task = asyncio.create_task(self._read_page(cursor))
        return task

    async def _read_page(self, cursor: str | None) -> ReadPage:
        """Read the page after `cursor` and turn its items into snapshots (no side effects)."""
        page = await self.feed.page(cursor, self.batch)
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
        read) while another consumer (another replica) holds the generation lock."""
        if self._ahead is None:
            async with self.sessionmaker() as session, session.begin():
                repo = RouteRepository(session)
                if not await repo.lock_generation(wait=False):
                    return None
                cursor = await repo.get_cursor(CONSUMER)
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
            if not await repo.lock_generation(wait=False):
                self._drop_ahead()
                return False, None
            if await repo.get_cursor(CONSUMER) != page.after:
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
                await repo.set_cursor(CONSUMER, page.next_cursor)
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
