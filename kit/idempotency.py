"""Idempotency keys: same key + same body replays; other body 422; while in flight 409.

The check, the work and the stored answer share the request's transaction, and a
transaction-scoped advisory lock on the key makes a concurrent duplicate answer 409.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, String, Table, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.responses import Response

from kit.errors import BadRequest, Conflict, FieldError, ValidationFailed

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Set on an answer replayed from an earlier request with the same key and body.
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
# A stored answer may hold personal data (152-FZ): it is kept this long, then the key is new again.
DEFAULT_RETENTION = timedelta(days=30)


def idempotency_table(metadata: MetaData) -> Table:
    """The table a service keeps its idempotency records in (inside its own schema)."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("key", String(MAX_KEY_LENGTH), primary_key=True),
        Column("principal", String(200), primary_key=True),
        Column("operation", String(200), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


async def purge_expired(conn: AsyncSession | AsyncConnection, table: Table, older_than: timedelta) -> int:
    """Delete the records stored longer ago than `older_than`; return how many (in the caller's transaction)."""
    cutoff = func.now() - older_than
    result = await conn.execute(delete(table).where(table.c.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes


def check_key(key: str | None, *, required: bool = True) -> str | None:
    if key is None:
        if required:
            raise BadRequest(
                f"Для этой операции нужен заголовок {IDEMPOTENCY_HEADER}",
                code="idempotency-key-required",
            )
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            "Ключ идемпотентности записан неверно",
            errors=[
                FieldError(
                    loc=["header", IDEMPOTENCY_HEADER],
                    code="invalid",
                    message="Ключ должен содержать от 1 до 200 символов",
                )
            ],
        )
    return key


def fingerprint(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\x00")
    return h.hexdigest()


class IdempotencyGuard:
    """Use within one request transaction: `lock`, then `replay`, then do the work and `store`.

    Records older than `retention` are not replayed, and storing a new one deletes them."""

    def __init__(
        self,
        table: Table,
        session: AsyncSession,
        *,
        key: str,
        principal: str,
        operation: str,
        retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        self.table, self.session = table, session
        self.key, self.principal, self.operation = key, principal, operation
        self.retention = retention

    async def lock(self) -> None:
        """Take the key's transaction lock or answer 409 because the same key is being processed."""
        lock_key = f"{self.table.fullname}|{self.principal}|{self.operation}|{self.key}"
        got = (
            await self.session.execute(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": lock_key}
            )
        ).scalar_one()
        if not got:
            raise Conflict(
                "Запрос с этим ключом идемпотентности ещё выполняется: повторите его чуть позже",
                code="idempotency-in-flight",
            )

    async def begin(self, body_fingerprint: str) -> Response | None:
        """Lock the key; return the stored answer to replay, or None (do the work, then `store`)."""
        await self.lock()
        stored = await self.replay(body_fingerprint)
        if stored is None:
            return None
        return Response(
            stored.body,
            status_code=stored.status_code,
            media_type="application/json",
            headers={REPLAY_HEADER: "true"},
        )

    async def replay(self, body_fingerprint: str) -> StoredResponse | None:
        """Return the stored answer for this key, or None; 422 when the body differs."""
        t = self.table
        row = (
            await self.session.execute(
                select(t.c.fingerprint, t.c.status_code, t.c.response).where(
                    t.c.key == self.key,
                    t.c.principal == self.principal,
                    t.c.operation == self.operation,
                    t.c.created_at >= func.now() - self.retention,
                )
            )
        ).first()
        if row is None:
            return None
        if row.fingerprint != body_fingerprint:
            raise ValidationFailed(
                "Этот ключ идемпотентности уже использован для другого запроса: для нового запроса нужен новый ключ",
                code="idempotency-key-reused",
            )
        return StoredResponse(row.status_code, row.response)

    async def store(self, body_fingerprint: str, status_code: int, response: bytes) -> None:
        # Expired records go first (this one's own included, when its key is used again after expiry).
        await purge_expired(self.session, self.table, self.retention)
        values: dict[str, Any] = {
            "key": self.key,
            "principal": self.principal,
            "operation": self.operation,
            "fingerprint": body_fingerprint,
            "status_code": status_code,
            "response": response,
        }
        await self.session.execute(pg_insert(self.table).values(**values).on_conflict_do_nothing())
