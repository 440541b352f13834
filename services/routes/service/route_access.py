"""A route as its operations reach it: in the caller's scope (404 outside it), locked for a change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import NotFound, PreconditionFailed
from kit.versioning import ensure_current
from services.routes.clients import Reservations
from services.routes.repository import RouteRepository

STALE_ROUTE_DETAIL = "Маршрут изменился с тех пор, как вы его прочитали: прочитайте его заново и повторите изменение"


async def load_route(
    repo: RouteRepository,
    principal: Principal,
    route_id: uuid.UUID,
    expected: int | None,
    *,
    tutored: bool | None = None,
) -> dict[str, Any]:
    """The route in the caller's scope (404 otherwise), locked and at `expected` when a change follows.

    The route's tutor reaches it too when `tutored` (by default: for reads, never for changes)."""
    tutored = expected is None if tutored is None else tutored
    row = await repo.get(principal, route_id, for_update=expected is not None, tutored=tutored)
    if row is None:
        raise NotFound("Маршрут не найден", code="route-not-found")
    ensure_current(expected, row["version"], STALE_ROUTE_DETAIL)
    return row


async def store(repo: RouteRepository, route_id: uuid.UUID, values: dict[str, Any], expected: int) -> dict[str, Any]:
    """Write the route's changed fields at the version the caller read (412 when it changed meanwhile)."""
    updated = await repo.update_fields(route_id, values, expected_version=expected)
    if updated is None:
        raise PreconditionFailed(STALE_ROUTE_DETAIL, code="stale-version")
    return updated


@dataclass(frozen=True)
class Change:
    """A route about to change: loaded in scope, locked, at the version the caller's If-Match names."""

    repo: RouteRepository
    row: dict[str, Any]
    expected: int
    # The seats of the chosen forms in the resources service (None: the change reserves nothing).
    seats: Reservations | None = None

    @classmethod
    async def of(
        cls,
        session: AsyncSession,
        principal: Principal,
        route_id: uuid.UUID,
        expected: int,
        seats: Reservations | None = None,
    ) -> Change:
        repo = RouteRepository(session)
        return cls(repo, await load_route(repo, principal, route_id, expected), expected, seats)

    async def update(self, values: dict[str, Any]) -> dict[str, Any]:
        """Write the changed fields at the version of the caller's If-Match (412 when it changed meanwhile)."""
        return await store(self.repo, self.row["id"], values, self.expected)
