"""The delivery worker: fans the outbox out to subscriptions, delivers due messages signed, retries with
exponential backoff and jitter, records every attempt and disables a subscription after a run of failures.

One per process, started in the app's lifespan; it never blocks request handling (its own tasks, its own
transactions, HTTP calls outside any transaction under a lease). Every `webhooks_control_check_seconds`
it also emits `route.control_point_due` for running routes whose next control point is near."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.routes.config import RoutesSettings
from services.routes.webhooks import events
from services.routes.webhooks.addresses import GuardedResolver, RefusedAddress, literal_ip, public, refused_in
from services.routes.webhooks.repository import WebhookRepository
from services.routes.webhooks.signing import headers
from services.routes.workflow import ACTIVE

log = logging.getLogger("routes.webhooks")
USER_AGENT = "iom-routes-webhooks/1"

# Russian reasons of failed attempts (the delivery log is read by people).
ERRORS = {
    "http-error": "Получатель ответил кодом {status}",
    "timeout": "Получатель не ответил вовремя",
    "refused-address": "Адрес получателя ведёт во внутреннюю сеть: доставка запрещена",
    "connection-error": "Не удалось соединиться с получателем",
}


def retry_delay(attempts: int, base: float, maximum: float, *, jitter: float = 0.2) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling from `base`, capped, +-jitter."""
    delay = min(maximum, base * (2 ** max(0, attempts - 1)))
    return max(0.05, delay * (1 + random.uniform(-jitter, jitter)))


def _failure(outcome: str, status: int | None = None) -> dict[str, Any]:
    return {"outcome": outcome, "status_code": status, "error": ERRORS[outcome].format(status=status)}


class DeliveryWorker:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: RoutesSettings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._next_control_check = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-deliveries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.settings.webhooks_allow_private),
                use_dns_cache=False,
                limit=self.settings.webhooks_concurrency * 2,
            )
            self._http = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.settings.webhooks_timeout_seconds),
                trust_env=False,
            )
        return self._http

    async def _run(self) -> None:
        while True:
            busy = False
            try:
                busy = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("webhook round failed; will retry", extra={"error": type(e).__name__}, exc_info=True)
            if not busy:
                await asyncio.sleep(self.settings.webhooks_poll_seconds)

    async def step(self) -> bool:
        """One round: control points (when due), fan-out, deliveries. True when there may be more work."""
        s = self.settings
        if time.monotonic() >= self._next_control_check:
            async with self.sessionmaker() as session, session.begin():
                await events.control_points_due(session, sorted(ACTIVE), s.webhooks_control_point_days)
            self._next_control_check = time.monotonic() + s.webhooks_control_check_seconds
        async with self.sessionmaker() as session, session.begin():
            fanned, _ = await WebhookRepository(session).fan_out(s.webhooks_batch)
        async with self.sessionmaker() as session, session.begin():
            lease = s.webhooks_timeout_seconds * 2 + 5
            due = await WebhookRepository(session).lease(s.webhooks_batch, lease)
        if due:
            gate = asyncio.Semaphore(s.webhooks_concurrency)

            async def one(d: dict[str, Any]) -> None:
                async with gate:
                    await self._deliver(d)

            await asyncio.gather(*(one(d) for d in due))
        return fanned >= s.webhooks_batch or len(due) >= s.webhooks_batch

    async def _send(self, d: dict[str, Any]) -> dict[str, Any]:
        """POST one signed message; the attempt's outcome (never raises for the receiver's faults)."""
        raw = d["body"]
        body = raw.encode() if isinstance(raw, str) else orjson.dumps(raw)
        msg_id = str(d["event_id"])
        signed = headers(d["secret"], msg_id, int(time.time()), body)
        ip = literal_ip(urlsplit(d["url"]).hostname or "")
        if ip is not None and not self.settings.webhooks_allow_private and not public(ip):
            return _failure("refused-address")
        try:
            async with self._client().post(
                d["url"],
                data=body,
                headers={**signed, "Content-Type": "application/json", "User-Agent": USER_AGENT},
                allow_redirects=False,
            ) as resp:
                if 200 <= resp.status < 300:
                    return {"outcome": "delivered", "status_code": resp.status, "error": None}
                return _failure("http-error", resp.status)
        except TimeoutError:
            return _failure("timeout")
        except (aiohttp.ClientError, OSError) as e:
            return _failure("refused-address" if isinstance(e, RefusedAddress) or refused_in(e) else "connection-error")

    async def _deliver(self, d: dict[str, Any]) -> None:
        s = self.settings
        t0 = time.perf_counter()
        outcome = await self._send(d)
        outcome["duration_ms"] = round((time.perf_counter() - t0) * 1000)
        async with self.sessionmaker() as session, session.begin():
            repo = WebhookRepository(session)
            await repo.record_attempt(d["id"], d["attempts"], outcome)
            if outcome["outcome"] == "delivered":
                await repo.delivered(d["id"], d["subscription_id"])
            else:
                exhausted = d["attempts"] >= s.webhooks_max_attempts
                delay = (
                    None
                    if exhausted
                    else retry_delay(d["attempts"], s.webhooks_backoff_base_seconds, s.webhooks_backoff_max_seconds)
                )
                await repo.failed(d["id"], d["subscription_id"], delay, s.webhooks_disable_after_failures)
        log.info(
            "webhook attempt",
            extra={
                "delivery": d["id"],
                "attempt": d["attempts"],
                "outcome": outcome["outcome"],
                "status": outcome["status_code"],
            },
        )
