"""Every query of the webhooks: subscriptions in the caller's scope, the outbox fan-out, leases of due
deliveries and the record of each attempt."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, text, tuple_

from kit.auth import Principal
from kit.db import scope_condition
from services.routes.models import webhook_attempts, webhook_deliveries, webhook_subscriptions
from services.routes.webhooks.events import receives

S = webhook_subscriptions
D = webhook_deliveries
A = webhook_attempts
READ_COLUMNS = tuple(c for c in S.c if c.name != "secret")


def subscription_scope(principal: Principal) -> Any:
    return scope_condition(principal, region=S.c.region, municipality=S.c.municipality, organisation=S.c.organisation)


# An event reaches every active subscription of its type whose territory contains the event's.
_FAN_OUT = text(
    """
    WITH batch AS (
        SELECT id FROM routes.webhook_events WHERE dispatched_at IS NULL
        ORDER BY occurred_at, id LIMIT :limit FOR UPDATE SKIP LOCKED
    ), marked AS (
        UPDATE routes.webhook_events e SET dispatched_at = now() FROM batch WHERE e.id = batch.id
        RETURNING e.id, e.type, e.region, e.municipality, e.organisation, e.payload, e.occurred_at
    ), fanned AS (
        INSERT INTO routes.webhook_deliveries (subscription_id, event_id, event_type, body)
        SELECT s.id, m.id, m.type,
               jsonb_build_object('type', m.type, 'timestamp', m.occurred_at, 'data', m.payload)
        FROM marked m JOIN routes.webhook_subscriptions s
          ON {receives}
        ON CONFLICT (subscription_id, event_id) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM marked) AS events, (SELECT count(*) FROM fanned) AS deliveries
    """.format(receives=receives("m.type", "m.region", "m.municipality", "m.organisation"))
)

# Due deliveries of active subscriptions, leased: nobody else takes them until the lease ends (a worker
# that dies mid-call leaves them to be tried again, so delivery is at least once).
_LEASE = text(
    """
    WITH due AS (
        SELECT d.id FROM routes.webhook_deliveries d
        JOIN routes.webhook_subscriptions s ON s.id = d.subscription_id AND s.active
        WHERE d.state = 'pending' AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at, d.id LIMIT :limit FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE routes.webhook_deliveries d
    SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => :lease)
    FROM due, routes.webhook_subscriptions s
    WHERE d.id = due.id AND s.id = d.subscription_id
    RETURNING d.id, d.subscription_id, d.event_id, d.body, d.attempts, s.url, s.secret
    """
)

_FAILED_RUN = text(
    """
    UPDATE routes.webhook_subscriptions
    SET failure_run = failure_run + 1,
        active = active AND failure_run + 1 < :limit,
        disabled_at = CASE WHEN active AND failure_run + 1 >= :limit THEN now() ELSE disabled_at END
    WHERE id = :id
    """
)


class WebhookRepository:
    def __init__(self, conn: Any) -> None:
        self.c = conn  # AsyncSession or AsyncConnection

    async def insert(self, values: dict[str, Any]) -> dict[str, Any]:
        row = (await self.c.execute(insert(S).values(**values).returning(*S.c))).one()
        return dict(row._mapping)

    async def get(self, principal: Principal, subscription_id: uuid.UUID) -> dict[str, Any] | None:
        q = select(*READ_COLUMNS).where(S.c.id == subscription_id, subscription_scope(principal))
        row = (await self.c.execute(q)).first()
        return dict(row._mapping) if row else None

    async def search(
        self, principal: Principal, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[dict[str, Any]]:
        q = select(*READ_COLUMNS).where(subscription_scope(principal))
        if after is not None:
            q = q.where(tuple_(S.c.created_at, S.c.id) < tuple_(*after))
        q = q.order_by(S.c.created_at.desc(), S.c.id.desc()).limit(limit)
        return [dict(r._mapping) for r in await self.c.execute(q)]

    async def delete(self, principal: Principal, subscription_id: uuid.UUID) -> bool:
        q = delete(S).where(S.c.id == subscription_id, subscription_scope(principal)).returning(S.c.id)
        return (await self.c.execute(q)).first() is not None

    async def deliveries(self, subscription_id: uuid.UUID, before: int | None, limit: int) -> list[dict[str, Any]]:
        """Deliveries of a subscription, newest first, each with its attempts (oldest first) as `log`."""
        q = select(D).where(D.c.subscription_id == subscription_id)
        if before is not None:
            q = q.where(D.c.id < before)
        rows = [dict(r._mapping) for r in await self.c.execute(q.order_by(D.c.id.desc()).limit(limit))]
        ids = [r["id"] for r in rows]
        log: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            attempts = select(A).where(A.c.delivery_id.in_(ids)).order_by(A.c.delivery_id, A.c.number, A.c.id)
            for a in await self.c.execute(attempts):
                log[a.delivery_id].append(dict(a._mapping))
        for r in rows:
            r["log"] = log[r["id"]]
            if r["state"] != "pending":
                r["next_attempt_at"] = None
        return rows

    # --- the worker ------------------------------------------------------------------------------

    async def fan_out(self, limit: int) -> tuple[int, int]:
        """(events, deliveries) made from the oldest undispatched events."""
        row = (await self.c.execute(_FAN_OUT, {"limit": limit})).one()
        return int(row.events), int(row.deliveries)

    async def lease(self, limit: int, lease_seconds: float) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in await self.c.execute(_LEASE, {"limit": limit, "lease": lease_seconds})]

    async def record_attempt(self, delivery_id: int, number: int, outcome: dict[str, Any]) -> None:
        await self.c.execute(insert(A).values(delivery_id=delivery_id, number=number, **outcome))

    async def delivered(self, delivery_id: int, subscription_id: uuid.UUID) -> None:
        await self.c.execute(D.update().where(D.c.id == delivery_id).values(state="delivered", delivered_at=func.now()))
        await self.c.execute(S.update().where(S.c.id == subscription_id).values(failure_run=0))

    async def failed(
        self, delivery_id: int, subscription_id: uuid.UUID, retry_in: float | None, disable_after: int
    ) -> None:
        """A failed attempt: retry in `retry_in` seconds (None: attempts exhausted), one more failure in a row."""
        values: dict[str, Any] = (
            {"state": "failed"} if retry_in is None else {"next_attempt_at": func.now() + timedelta(seconds=retry_in)}
        )
        await self.c.execute(D.update().where(D.c.id == delivery_id, D.c.state == "pending").values(**values))
        await self.c.execute(_FAILED_RUN, {"id": subscription_id, "limit": disable_after})


def keyset(rows: list[dict[str, Any]], limit: int) -> dict[str, Any] | None:
    """The last row of a full page (its keys make the next cursor), else None."""
    return rows[-1] if len(rows) == limit else None


__all__ = ["WebhookRepository", "keyset"]
