"""Queries of the partitioned change feed: each partition's cursor and its lease (table feed_partitions).

A replica claims free or expired partitions with `SELECT ... FOR UPDATE SKIP LOCKED` (two replicas
never wait for each other nor claim the same row), holds a lease until `lease_until` and renews it; the
cursor moves only in a transaction that finds the lease still held (row locked), the same transaction
that writes the routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Interval, and_, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routes.models import feed_partitions, feed_state

fp = feed_partitions.c


def _until(seconds: float) -> Any:
    return func.now() + literal(timedelta(seconds=seconds), Interval)


class FeedPartitionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def ensure(self, partitions: int, start_from: str) -> None:
        """The rows of partitions 0..P-1, made once; a new one starts at the whole feed's cursor (`start_from`
        consumer), so switching from one consumer to P reads nothing it has not read."""
        start = select(feed_state.c.cursor).where(feed_state.c.consumer == start_from).scalar_subquery()
        rows = select(literal(partitions), func.generate_series(0, partitions - 1), start)
        stmt = pg_insert(feed_partitions).from_select(["partitions", "partition", "cursor"], rows)
        await self.s.execute(stmt.on_conflict_do_nothing())

    async def claim(self, partitions: int, owner: str, limit: int, lease_seconds: float) -> list[int]:
        """Lease up to `limit` partitions that nobody holds (or whose lease ran out), longest untouched first."""
        free = (
            select(fp.partitions, fp.partition)
            .where(fp.partitions == partitions, or_(fp.lease_owner.is_(None), fp.lease_until < func.now()))
            .order_by(fp.updated_at, fp.partition)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("free")
        )
        stmt = (
            update(feed_partitions)
            .where(and_(fp.partitions == free.c.partitions, fp.partition == free.c.partition))
            .values(lease_owner=owner, lease_until=_until(lease_seconds))
            .returning(fp.partition)
        )
        return sorted(r.partition for r in await self.s.execute(stmt))

    async def renew(self, partitions: int, owner: str, parts: Sequence[int], lease_seconds: float) -> list[int]:
        """Extend the leases still held; the partitions that were."""
        stmt = (
            update(feed_partitions)
            .where(fp.partitions == partitions, fp.partition.in_(list(parts)), fp.lease_owner == owner)
            .values(lease_until=_until(lease_seconds))
            .returning(fp.partition)
        )
        return sorted(r.partition for r in await self.s.execute(stmt))

    async def release(self, partitions: int, owner: str, parts: Sequence[int] | None = None) -> None:
        """Let go of these partitions (all of the owner's when None)."""
        cond = [fp.partitions == partitions, fp.lease_owner == owner]
        if parts is not None:
            cond.append(fp.partition.in_(list(parts)))
        stmt = update(feed_partitions).where(*cond).values(lease_owner=None, lease_until=None, updated_at=func.now())
        await self.s.execute(stmt)

    async def held_cursor(self, partitions: int, partition: int, owner: str) -> tuple[bool, str | None]:
        """(whether the owner's lease is still running, the partition's cursor); locks the row till commit."""
        q = (
            select(fp.cursor)
            .where(
                fp.partitions == partitions,
                fp.partition == partition,
                fp.lease_owner == owner,
                fp.lease_until > func.now(),
            )
            .with_for_update()
        )
        row = (await self.s.execute(q)).first()
        return (True, row.cursor) if row else (False, None)

    async def move(self, partitions: int, partition: int, owner: str, cursor: str, lease_seconds: float) -> None:
        """Move the partition's cursor (and extend the lease) in the transaction that wrote its routes."""
        stmt = (
            update(feed_partitions)
            .where(fp.partitions == partitions, fp.partition == partition, fp.lease_owner == owner)
            .values(cursor=cursor, lease_until=_until(lease_seconds), updated_at=func.now())
        )
        await self.s.execute(stmt)

    async def cursors(self, partitions: int) -> dict[int, str | None]:
        q = select(fp.partition, fp.cursor).where(fp.partitions == partitions)
        return {r.partition: r.cursor for r in await self.s.execute(q)}

    async def share_generation(self) -> bool:
        """The generation lock (`RouteRepository.lock_generation`) taken shared: partitions write at once (their
        teachers never overlap), a request generating routes (which takes it exclusively) waits for them."""
        got = await self.s.execute(text("SELECT pg_try_advisory_xact_lock_shared(hashtext('routes-feed'))"))
        return bool(got.scalar_one())
