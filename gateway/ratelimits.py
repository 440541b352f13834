"""Rate limits at the gateway (the `limits` library): per client IP, per principal, per expensive operation,
and a budget of failed credential checks per IP, so a spray of random API keys stops before the database."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from kit.errors import AppError


class TooManyRequests(AppError):
    status, code, title = 429, "rate-limited", "Слишком много запросов"


def _items(spec: str) -> list[RateLimitItem]:
    return list(parse_many(spec)) if spec.strip() else []


def _async_uri(uri: str) -> str:
    return uri if uri.startswith("async+") else "async+" + uri


class RateLimits:
    """Budgets read from settings ("300/minute;20/second" strings); an empty string turns one off."""

    def __init__(
        self,
        *,
        storage: str,
        per_ip: str,
        per_principal: str,
        failed_auth_per_ip: str,
        operations: dict[str, str],
        uploads: str,
    ) -> None:
        self.limiter = SlidingWindowCounterRateLimiter(storage_from_string(_async_uri(storage)))  # type: ignore[arg-type]
        self.per_ip = _items(per_ip)
        self.per_principal = _items(per_principal)
        self.failed_auth = _items(failed_auth_per_ip)
        self.operations = {op: _items(spec) for op, spec in operations.items()}
        self.uploads = _items(uploads)

    async def _retry_after(self, item: RateLimitItem, *ids: str) -> TooManyRequests:
        stats = await self.limiter.get_window_stats(item, *ids)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        return TooManyRequests(f"Слишком много запросов: повторите через {wait} с", headers={"Retry-After": str(wait)})

    async def _hit(self, items: list[RateLimitItem], *ids: str) -> None:
        for item in items:
            if not await self.limiter.hit(item, *ids):
                raise await self._retry_after(item, *ids)

    async def check_failed_budget(self, ip: str) -> None:
        """Refuse (429) an IP that spent its budget of failed credential checks, before any look-up."""
        for item in self.failed_auth:
            if not await self.limiter.test(item, "failed-auth", ip):
                raise await self._retry_after(item, "failed-auth", ip)

    async def failed(self, ip: str) -> None:
        for item in self.failed_auth:
            await self.limiter.hit(item, "failed-auth", ip)

    async def admit(self, *, ip: str, principal: str, operation: str | None, upload: bool) -> None:
        """Charge a request to its IP, its principal and, for expensive operations, their own budget."""
        await self._hit(self.per_ip, "ip", ip)
        await self._hit(self.per_principal, "principal", principal)
        if operation is not None and operation in self.operations:
            # An operation with a budget of its own is charged to that one only, even when it takes a body upload.
            await self._hit(self.operations[operation], "operation", operation, principal)
        elif upload:
            await self._hit(self.uploads, "uploads", principal)
