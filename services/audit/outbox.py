"""Delivery of "route audited" to the routes service from the transactional outbox, with retries.

The completed audit and its outbox row are written in one transaction; this worker (one per
process, started in the app's lifespan) leases due rows, calls the routes service and records
the outcome. A lease rather than a held row lock keeps transactions short while the HTTP call
runs, and lets several replicas share the work without delivering a row twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.audit.clients import DeliveryOutcome, Upstream, mark_route_audited
from services.audit.config import AuditSettings
from services.audit.repository import OutboxRepository

log = logging.getLogger("audit.outbox")


def backoff_seconds(attempts: int, base: float, maximum: float, *, jitter: float = 0.2) -> float:
    """Delay before the next try after `attempts` failed ones: doubling from `base`, capped, +-jitter."""
    delay = min(maximum, base * (2 ** max(0, attempts - 1)))
    return max(0.05, delay * (1 + random.uniform(-jitter, jitter)))


class RouteOutbox:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], upstream: Upstream, settings: AuditSettings
    ) -> None:
        self.sessionmaker = sessionmaker
        self.upstream = upstream
        self.settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        """Ask for a delivery round now (called after a completed audit is committed)."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="route-outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            busy = False
            try:
                busy = await self.deliver_due() >= self.settings.outbox_batch
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the database may be away; keep the worker alive and try later
                log.warning("outbox round failed", extra={"error": type(e).__name__})
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.outbox_poll_seconds)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Deliver every due row once; return how many were tried."""
        async with self.sessionmaker() as session, session.begin():
            rows = await OutboxRepository(session).claim_due(
                self.settings.outbox_batch, self.settings.outbox_lease_seconds
            )
        for row in rows:
            outcome = await self._deliver(row)
            await self._record(row, outcome)
        return len(rows)

    async def _deliver(self, row: dict[str, Any]) -> DeliveryOutcome:
        payload = row["payload"]
        return await mark_route_audited(
            self.upstream,
            row["route_id"],
            audit_id=uuid.UUID(str(payload["audit_id"])),
            total=int(payload["total"]),
            completed_at=datetime.fromisoformat(str(payload["completed_at"])),
        )

    async def _record(self, row: dict[str, Any], outcome: DeliveryOutcome) -> None:
        attempts = int(row["attempts"]) + 1
        if outcome.delivered:
            status, retry = "delivered", None
        elif outcome.permanent:
            status, retry = "failed", None
            log.warning("route refused the audit", extra={"audit_id": str(row["audit_id"]), "status": outcome.status})
        else:
            status = "pending"
            retry = backoff_seconds(
                attempts, self.settings.outbox_backoff_base_seconds, self.settings.outbox_backoff_max_seconds
            )
            log.info(
                "route delivery will be retried",
                extra={"audit_id": str(row["audit_id"]), "attempts": attempts, "retry_in": round(retry, 2)},
            )
        async with self.sessionmaker() as session, session.begin():
            await OutboxRepository(session).record(
                row["id"], status=status, http_status=outcome.status, error=outcome.error, retry_in_seconds=retry
            )
