"""Consume the assessment change feed: every stored or changed result gets its route, exactly once.

The cursor is stored in the same transaction as the routes it produced, so a crash between the
two is impossible; re-reading a page after a failure regenerates the same routes (route ids
derive from teacher and period), so nothing is duplicated or lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kit.auth import Principal, Role
from services.routes.clients import AssessmentFeed, ResourceMapClient, snapshot_from_change
from services.routes.pipeline import Outcome, generate_routes
from services.routes.repository import RouteRepository

log = logging.getLogger("routes.feed")
CONSUMER = "assessment-results"
FEED_ACTOR = Principal(sub="service:routes-feed", role=Role.service)


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
        self._prefetch: tuple[str, asyncio.Task[dict[str, Any]]] | None = None

    async def _fetch(self, cursor: str | None) -> dict[str, Any]:
        page: dict[str, Any] = await self.feed.page(cursor, self.batch)
        return page

    async def step(self) -> tuple[bool, Outcome | None]:
        """Process one page; return (more pages waiting, outcome). One consumer at a time per database.

        While a page is processed, the next one is already being fetched (reading has no side effects;
        the cursor only moves with the routes it produced)."""
        async with self.sessionmaker() as session, session.begin():
            repo = RouteRepository(session)
            if not await repo.lock_generation(wait=False):
                return False, None
            cursor = await repo.get_cursor(CONSUMER)
            t0 = time.perf_counter()
            if self._prefetch is not None and self._prefetch[0] == cursor:
                page = await self._prefetch[1]
            else:
                if self._prefetch is not None:
                    self._prefetch[1].cancel()
                page = await self._fetch(cursor)
            self._prefetch = None
            fetched = time.perf_counter()
            next_cursor = page.get("next_cursor")
            if page.get("has_more") and next_cursor:
                self._prefetch = (next_cursor, asyncio.create_task(self._fetch(next_cursor)))
            items = page.get("items", [])
            outcome = None
            if items:
                snaps = [snapshot_from_change(i) for i in items]
                outcome = await generate_routes(
                    session, snaps, self.resource_map, datetime.now(UTC).date(), FEED_ACTOR, self.max_age_days
                )
                self.processed += len(items)
                log.info(
                    "feed page processed",
                    extra={
                        "items": len(items),
                        "routes_created": outcome.created,
                        "routes_regenerated": outcome.regenerated,
                        "fetch_wait_ms": round((fetched - t0) * 1000),
                        "generate_ms": round((time.perf_counter() - fetched) * 1000),
                        **outcome.timings,
                    },
                )
            if next_cursor and next_cursor != cursor:
                await repo.set_cursor(CONSUMER, next_cursor)
            return bool(page.get("has_more")), outcome

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
                if self._prefetch is not None:
                    self._prefetch[1].cancel()
                raise
            except Exception as e:
                if self._prefetch is not None:
                    self._prefetch[1].cancel()
                    self._prefetch = None
                self.last_error = type(e).__name__
                log.warning("feed step failed; will retry", extra={"error": type(e).__name__}, exc_info=True)
                delay = min(max(delay * 2, 1.0), 10.0)
            await asyncio.sleep(delay)
