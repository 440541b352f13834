"""Queries of reservations: seats of resources and mentor slots held for routes (never oversold)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.resources.models import mentors, reservations
from services.resources.repository import M, V, region_filter

RESERVATION_COLUMNS = (
    V.id,
    V.route_id,
    V.teacher_id,
    V.resource_id,
    V.mentor_id,
    V.subject,
    V.municipality,
    V.organisation,
    V.origin,
    V.status,
    V.created_at,
    V.released_at,
)


# The advisory lock class of "one teacher's reservations" (any fixed int4; only this service uses it).
TEACHER_LOCK_CLASS = 0x7265_7376


class ReservationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def insert(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """Insert an active reservation; None when an active one for the same route/teacher and target exists."""
        stmt = pg_insert(reservations).values(**values).on_conflict_do_nothing().returning(*RESERVATION_COLUMNS)
        r = (await self.s.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def insert_many(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(rows), 2000):
            stmt = pg_insert(reservations).values(rows[start : start + 2000]).returning(*RESERVATION_COLUMNS)
            out.extend(dict(r._mapping) for r in await self.s.execute(stmt))
        return out

    async def get(self, region: str | None, reservation_id: uuid.UUID) -> dict[str, Any] | None:
        q = select(*RESERVATION_COLUMNS, V.region).where(V.id == reservation_id, region_filter(V.region, region))
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def active_for(
        self,
        *,
        route_id: uuid.UUID | None = None,
        teacher_id: uuid.UUID | None = None,
        resource_id: uuid.UUID | None = None,
        mentor_id: uuid.UUID | None = None,
    ) -> dict[str, Any] | None:
        q = select(*RESERVATION_COLUMNS, V.region).where(V.status == "active")
        if route_id is not None:
            q = q.where(V.route_id == route_id)
        if teacher_id is not None:
            q = q.where(V.teacher_id == teacher_id)
        q = q.where(V.resource_id == resource_id) if resource_id is not None else q.where(V.mentor_id == mentor_id)
        r = (await self.s.execute(q.limit(1))).first()
        return dict(r._mapping) if r else None

    async def hold_teacher(self, teacher_id: uuid.UUID) -> int:
        """Serialise this teacher's reservations until the transaction ends; count their active ones."""
        # Two-key advisory locks do not share the one-key space (migrations, exports); the first key names this use.
        await self.s.execute(
            text("SELECT pg_advisory_xact_lock(CAST(:k AS int4), hashtext(:t))"),
            {"k": TEACHER_LOCK_CLASS, "t": str(teacher_id)},
        )
        q = select(func.count()).select_from(reservations).where(V.teacher_id == teacher_id, V.status == "active")
        return int((await self.s.execute(q)).scalar_one())

    async def latest_for(
        self, region: str | None, route_id: uuid.UUID, *, resource_id: uuid.UUID | None, mentor_id: uuid.UUID | None
    ) -> dict[str, Any] | None:
        q = select(*RESERVATION_COLUMNS, V.region).where(V.route_id == route_id, region_filter(V.region, region))
        q = q.where(V.resource_id == resource_id) if resource_id is not None else q.where(V.mentor_id == mentor_id)
        r = (await self.s.execute(q.order_by(V.created_at.desc()).limit(1))).first()
        return dict(r._mapping) if r else None

    async def attach_route(self, reservation_id: uuid.UUID, route_id: uuid.UUID) -> dict[str, Any] | None:
        stmt = (
            update(reservations)
            .where(V.id == reservation_id, V.status == "active", V.route_id.is_(None))
            .values(route_id=route_id, origin="route")
            .returning(*RESERVATION_COLUMNS)
        )
        r = (await self.s.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def release(self, reservation_id: uuid.UUID) -> dict[str, Any] | None:
        """Mark released; None when it was not active (so the seat is given back exactly once)."""
        stmt = (
            update(reservations)
            .where(V.id == reservation_id, V.status == "active")
            .values(status="released", released_at=func.now())
            .returning(*RESERVATION_COLUMNS)
        )
        r = (await self.s.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def page(
        self, region: str | None, *, scope: Any, filters: dict[str, Any], after: list[Any] | None, limit: int
    ) -> list[dict[str, Any]]:
        stmt: Select[Any] = select(*RESERVATION_COLUMNS).where(region_filter(V.region, region), scope)
        for key, col in (
            ("route_id", V.route_id),
            ("teacher_id", V.teacher_id),
            ("resource_id", V.resource_id),
            ("mentor_id", V.mentor_id),
            ("status", V.status),
            ("origin", V.origin),
        ):
            if filters.get(key) is not None:
                stmt = stmt.where(col == filters[key])
        if after:
            stmt = stmt.where(
                tuple_(V.created_at, V.id)
                > tuple_(literal(after[0]).cast(V.created_at.type), literal(uuid.UUID(after[1])))
            )
        stmt = stmt.order_by(V.created_at, V.id).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(stmt)]

    async def mentored(self, teacher_ids: Sequence[uuid.UUID]) -> set[tuple[uuid.UUID, str]]:
        """(teacher, subject) pairs that already hold an active mentor slot."""
        if not teacher_ids:
            return set()
        q = (
            select(V.teacher_id, V.subject, M.subjects)
            .join(mentors, mentors.c.id == V.mentor_id)
            .where(V.status == "active", V.mentor_id.is_not(None), V.teacher_id.in_(list(set(teacher_ids))))
        )
        out: set[tuple[uuid.UUID, str]] = set()
        for r in await self.s.execute(q):
            for s in [r.subject] if r.subject else r.subjects:
                out.add((r.teacher_id, s))
        return out
