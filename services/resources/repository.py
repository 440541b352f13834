"""Queries of the resources service's catalogue, mentors and neighbours (reservations: reservation_repository.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, delete, func, literal, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.resources.models import (
    mentor_memberships,
    mentors,
    municipality_neighbours,
    reservations,
    resources,
)
from services.resources.reach import REMOTE_RESOURCE_MODES, resource_available_sql

R = resources.c
M = mentors.c
V = reservations.c

RESOURCE_COLUMNS = (
    R.id,
    R.region,
    R.external_id,
    R.kind,
    R.event_format,
    R.title,
    R.description,
    R.provider,
    R.hours,
    R.federal_registry,
    R.competencies,
    R.subjects,
    R.levels,
    R.learning_type,
    R.mode,
    R.municipalities,
    R.starts_on,
    R.ends_on,
    R.capacity,
    R.reserved,
    (R.capacity - R.reserved).label("free"),
    R.url,
    R.owner_scope,
    R.owner_municipality,
    R.owner_teacher_id,
    R.status,
    R.version,
    R.created_at,
    R.updated_at,
)
# What the matcher reads of a resource (no long texts).
OFFER_COLUMNS = (
    R.id,
    R.kind,
    R.title,
    R.competencies,
    R.subjects,
    R.levels,
    R.learning_type,
    R.mode,
    R.municipalities,
    R.starts_on,
    R.ends_on,
    R.capacity,
    R.reserved,
    R.federal_registry,
    R.hours,
    R.owner_teacher_id,
)
MATCH_CANDIDATES_SQL = (
    """
SELECT id, kind, title, competencies, subjects, levels, learning_type, mode, municipalities, starts_on, ends_on,
       capacity, reserved, federal_registry, hours, owner_teacher_id
FROM resources.resources
WHERE ($1::varchar IS NULL OR region = $1) AND status = 'active'
  AND competencies && $2::varchar[]
  AND (levels = '{}' OR $3::smallint = ANY(levels))
  AND """
    + resource_available_sql("$4::varchar")
    + """
  AND ($5::date IS NULL OR ends_on IS NULL OR ends_on >= $5)
  AND ($6::date IS NULL OR starts_on IS NULL OR starts_on <= $6)
  AND (capacity IS NULL OR reserved < capacity)
  AND ($7::varchar IS NULL OR subjects = '{}' OR $7 = ANY(subjects))
  AND (cardinality($8::varchar[]) = 0 OR kind = ANY($8))
"""
)
MATCH_MENTORS_SQL = """
SELECT id, teacher_id, role, municipality, subjects, competencies, level, mode, capacity, load
FROM resources.mentors
WHERE ($1::varchar IS NULL OR region = $1) AND status = 'active' AND load < capacity
  AND ($2::varchar IS NULL OR $2 = ANY(subjects))
"""
MENTOR_COLUMNS = (
    M.id,
    M.region,
    M.teacher_id,
    M.municipality,
    M.role,
    M.subjects,
    M.competencies,
    M.level,
    M.mode,
    M.capacity,
    M.load,
    (M.capacity - M.load).label("free"),
    M.status,
    M.joined_year,
    M.joined_assessment,
    M.version,
    M.created_at,
    M.updated_at,
)


def region_filter(col: Any, region: str | None) -> Any:
    return col == region if region else literal(True)


def available_in(municipality: str) -> Any:
    """Resources a teacher of `municipality` can attend: `reach.resource_available_in` in SQL."""
    return or_(
        R.municipalities.contains([municipality]), R.municipalities == [], R.mode.in_(sorted(REMOTE_RESOURCE_MODES))
    )


def in_period(start: date | None, end: date | None) -> Any:
    conds = []
    if end is not None:
        conds.append(or_(R.starts_on.is_(None), R.starts_on <= end))
    if start is not None:
        conds.append(or_(R.ends_on.is_(None), R.ends_on >= start))
    return and_(literal(True), *conds)


def search_query(q: str) -> Any:
    return func.websearch_to_tsquery(text("'russian'::regconfig"), q.lower().replace("ё", "е"))


class ResourceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def insert(self, values: dict[str, Any]) -> dict[str, Any]:
        stmt = pg_insert(resources).values(**values).returning(*RESOURCE_COLUMNS)
        return dict((await self.s.execute(stmt)).one()._mapping)

    async def get(self, region: str | None, resource_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
        q = select(*RESOURCE_COLUMNS).where(R.id == resource_id, region_filter(R.region, region))
        if lock:
            q = q.with_for_update()
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def external_id_taken(self, region: str, external_id: str) -> bool:
        q = select(func.count()).select_from(resources).where(R.region == region, R.external_id == external_id)
        return bool((await self.s.execute(q)).scalar_one())

    async def page(
        self,
        region: str | None,
        *,
        filters: dict[str, Any],
        sort: str,
        after: list[Any] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        stmt: Select[Any] = select(*RESOURCE_COLUMNS).where(region_filter(R.region, region))
        status = filters.get("status", "active")
        if status != "all":
            stmt = stmt.where(R.status == status)
        for key, col in (
            ("kind", R.kind),
            ("learning_type", R.learning_type),
            ("mode", R.mode),
            ("owner_scope", R.owner_scope),
            ("owner_teacher_id", R.owner_teacher_id),
            ("owner_municipality", R.owner_municipality),
        ):
            if filters.get(key) is not None:
                stmt = stmt.where(col == filters[key])
        if filters.get("subject"):
            stmt = stmt.where(R.subjects.contains([filters["subject"]]))
        if filters.get("competency"):
            stmt = stmt.where(R.competencies.contains([filters["competency"]]))
        if filters.get("level"):
            stmt = stmt.where(or_(R.levels.contains([filters["level"]]), R.levels == []))
        if filters.get("municipality"):
            stmt = stmt.where(available_in(filters["municipality"]))
        if filters.get("available_from") or filters.get("available_to"):
            stmt = stmt.where(in_period(filters.get("available_from"), filters.get("available_to")))
        if filters.get("has_free"):
            stmt = stmt.where(or_(R.capacity.is_(None), R.reserved < R.capacity))
        q = filters.get("q")
        if q:
            tsq = search_query(q)
            stmt = stmt.where(R.search.op("@@")(tsq))
        if sort == "relevance" and q:
            rank = func.ts_rank(R.search, search_query(q)).label("rank")
            stmt = stmt.add_columns(rank)
            if after:
                stmt = stmt.where(or_(rank < after[0], and_(rank == after[0], R.id > uuid.UUID(after[1]))))
            stmt = stmt.order_by(rank.desc(), R.id)
        elif sort == "newest":
            if after:
                stmt = stmt.where(
                    tuple_(R.created_at, R.id)
                    < tuple_(literal(after[0]).cast(R.created_at.type), literal(uuid.UUID(after[1])))
                )
            stmt = stmt.order_by(R.created_at.desc(), R.id.desc())
        else:
            if after:
                stmt = stmt.where(tuple_(R.title, R.id) > tuple_(literal(after[0]), literal(uuid.UUID(after[1]))))
            stmt = stmt.order_by(R.title, R.id)
        return [dict(r._mapping) for r in await self.s.execute(stmt.limit(limit))]

    async def update(
        self, resource_id: uuid.UUID, values: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any] | None:
        """Conditional update: None when the version moved or capacity would fall below the reserved seats."""
        cond = [R.id == resource_id]
        if expected_version is not None:
            cond.append(R.version == expected_version)
        if values.get("capacity") is not None:
            cond.append(R.reserved <= values["capacity"])
        stmt = (
            update(resources)
            .where(*cond)
            .values(**values, version=R.version + 1, updated_at=func.now())
            .returning(*RESOURCE_COLUMNS)
        )
        r = (await self.s.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def match_candidates(
        self,
        region: str | None,
        *,
        deficits: Sequence[str],
        subject: str | None,
        group: int,
        municipality: str,
        start: date | None,
        end: date | None,
        kinds: Sequence[str],
    ) -> list[Any]:
        """Active resources that can serve any of the deficits for this teacher (the matcher ranks them).

        The hot path of POST /matching: hundreds of rows a request, so they are read with the driver
        (records with the columns of OFFER_COLUMNS) rather than through SQLAlchemy's row processing.
        """
        driver = await driver_of(self.s)
        return list(
            await driver.fetch(
                MATCH_CANDIDATES_SQL, region, list(deficits), group, municipality, start, end, subject, list(kinds)
            )
        )

    async def snapshot(self, region: str | None) -> list[dict[str, Any]]:
        """Every active resource with free seats (for answering a batch of matches from one snapshot)."""
        stmt = select(*OFFER_COLUMNS).where(
            region_filter(R.region, region), R.status == "active", or_(R.capacity.is_(None), R.reserved < R.capacity)
        )
        return [dict(r._mapping) for r in await self.s.execute(stmt)]

    async def by_external_ids(self, region: str, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not external_ids:
            return {}
        q = select(R.external_id, R.id, R.owner_scope, R.owner_municipality, R.reserved).where(
            R.region == region, R.external_id.in_(list(set(external_ids)))
        )
        return {r.external_id: dict(r._mapping) for r in await self.s.execute(q)}

    async def take_seat(self, resource_id: uuid.UUID) -> bool:
        """Reserve one seat unless the resource is full (a conditional UPDATE: never oversells)."""
        stmt = (
            update(resources)
            .where(R.id == resource_id, or_(R.capacity.is_(None), R.reserved < R.capacity))
            .values(reserved=R.reserved + 1)
            .returning(R.id)
        )
        return (await self.s.execute(stmt)).first() is not None

    async def alternatives_to(
        self, resource: dict[str, Any], municipality: str | None, today: date, limit: int = 5
    ) -> list[dict[str, Any]]:
        """Active resources with a free seat that address a competency of `resource`, fit its subjects and run
        in the teacher's municipality: what to offer when `resource` is full (same kind first, most seats)."""
        q = select(R.id, R.kind, R.title, R.mode, R.starts_on, R.ends_on, (R.capacity - R.reserved).label("free"))
        q = q.where(
            R.region == resource["region"],
            R.id != resource["id"],
            R.status == "active",
            or_(R.ends_on.is_(None), R.ends_on >= today),
            or_(R.capacity.is_(None), R.reserved < R.capacity),
        )
        if resource["competencies"]:
            q = q.where(R.competencies.overlap(list(resource["competencies"])))
        if resource["subjects"]:
            q = q.where(or_(func.cardinality(R.subjects) == 0, R.subjects.overlap(list(resource["subjects"]))))
        if municipality:
            q = q.where(text(resource_available_sql(":alt_municipality")).bindparams(alt_municipality=municipality))
        same_kind = (R.kind == resource["kind"]).desc()
        free_first = func.coalesce(R.capacity - R.reserved, 1_000_000).desc()
        q = q.order_by(same_kind, free_first, R.title, R.id).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def give_back_seat(self, resource_id: uuid.UUID) -> None:
        stmt = update(resources).where(R.id == resource_id, R.reserved > 0).values(reserved=R.reserved - 1)
        await self.s.execute(stmt)

    async def coverage_counts(self, region: str | None) -> list[dict[str, Any]]:
        """Active resources with their subjects, municipalities and mode (small: the catalogue)."""
        q = select(R.subjects, R.municipalities, R.mode).where(region_filter(R.region, region), R.status == "active")
        return [dict(r._mapping) for r in await self.s.execute(q)]


class MentorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def insert(self, values: dict[str, Any]) -> dict[str, Any]:
        stmt = pg_insert(mentors).values(**values).returning(*MENTOR_COLUMNS)
        return dict((await self.s.execute(stmt)).one()._mapping)

    async def get(self, region: str | None, mentor_id: uuid.UUID) -> dict[str, Any] | None:
        q = select(*MENTOR_COLUMNS).where(M.id == mentor_id, region_filter(M.region, region))
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def get_by_teacher(self, region: str | None, teacher_id: uuid.UUID) -> dict[str, Any] | None:
        q = select(*MENTOR_COLUMNS).where(M.teacher_id == teacher_id, region_filter(M.region, region))
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def teacher_registered(self, region: str, teacher_id: uuid.UUID) -> bool:
        q = select(func.count()).select_from(mentors).where(M.region == region, M.teacher_id == teacher_id)
        return bool((await self.s.execute(q)).scalar_one())

    async def page(
        self, region: str | None, *, filters: dict[str, Any], after: list[Any] | None, limit: int
    ) -> list[dict[str, Any]]:
        stmt: Select[Any] = select(*MENTOR_COLUMNS).where(region_filter(M.region, region))
        status = filters.get("status", "active")
        if status != "all":
            stmt = stmt.where(M.status == status)
        for key, col in (("municipality", M.municipality), ("mode", M.mode), ("role", M.role)):
            if filters.get(key):
                stmt = stmt.where(col == filters[key])
        if filters.get("subject"):
            stmt = stmt.where(M.subjects.contains([filters["subject"]]))
        if filters.get("competency"):
            stmt = stmt.where(M.competencies.contains([filters["competency"]]))
        if filters.get("has_free"):
            stmt = stmt.where(M.load < M.capacity)
        if after:
            stmt = stmt.where(tuple_(M.municipality, M.id) > tuple_(literal(after[0]), literal(uuid.UUID(after[1]))))
        stmt = stmt.order_by(M.municipality, M.id).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(stmt)]

    async def update(
        self, mentor_id: uuid.UUID, values: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any] | None:
        cond = [M.id == mentor_id]
        if expected_version is not None:
            cond.append(M.version == expected_version)
        if values.get("capacity") is not None:
            cond.append(M.load <= values["capacity"])
        stmt = (
            update(mentors)
            .where(*cond)
            .values(**values, version=M.version + 1, updated_at=func.now())
            .returning(*MENTOR_COLUMNS)
        )
        r = (await self.s.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def add_membership(self, values: dict[str, Any]) -> dict[str, Any]:
        stmt = (
            pg_insert(mentor_memberships)
            .values(**values)
            .returning(
                mentor_memberships.c.id,
                mentor_memberships.c.year,
                mentor_memberships.c.action,
                mentor_memberships.c.assessment,
                mentor_memberships.c.note,
                mentor_memberships.c.recorded_at,
            )
        )
        return dict((await self.s.execute(stmt)).one()._mapping)

    async def memberships(self, mentor_id: uuid.UUID) -> list[dict[str, Any]]:
        t = mentor_memberships.c
        q = (
            select(t.id, t.year, t.action, t.assessment, t.note, t.recorded_at)
            .where(t.mentor_id == mentor_id)
            .order_by(t.year, t.id)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def active_for_matching(self, region: str | None, subject: str | None) -> list[Any]:
        """Active mentors with free slots (of the subject): records read with the driver (a hot path)."""
        driver = await driver_of(self.s)
        return list(await driver.fetch(MATCH_MENTORS_SQL, region, subject))

    async def active(self, region: str | None, *, lock: bool = False) -> list[dict[str, Any]]:
        """Every active mentor; with `lock`, rows are locked so free slots cannot change meanwhile."""
        stmt = select(*MENTOR_COLUMNS).where(region_filter(M.region, region), M.status == "active").order_by(M.id)
        if lock:
            stmt = stmt.with_for_update()
        return [dict(r._mapping) for r in await self.s.execute(stmt)]

    async def take_slot(self, mentor_id: uuid.UUID, count: int = 1) -> bool:
        stmt = (
            update(mentors)
            .where(M.id == mentor_id, M.status == "active", M.load + count <= M.capacity)
            .values(load=M.load + count)
            .returning(M.id)
        )
        return (await self.s.execute(stmt)).first() is not None

    async def give_back_slot(self, mentor_id: uuid.UUID) -> None:
        await self.s.execute(update(mentors).where(M.id == mentor_id, M.load > 0).values(load=M.load - 1))

    async def by_teacher_ids(self, region: str, teacher_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        if not teacher_ids:
            return {}
        q = select(M.teacher_id, M.id, M.municipality, M.load).where(
            M.region == region, M.teacher_id.in_(list(set(teacher_ids)))
        )
        return {r.teacher_id: dict(r._mapping) for r in await self.s.execute(q)}


class NeighbourRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def pairs(self, region: str | None) -> list[tuple[str, str]]:
        t = municipality_neighbours.c
        q = (
            select(t.municipality, t.neighbour)
            .where(region_filter(t.region, region))
            .order_by(t.municipality, t.neighbour)
        )
        return [(r.municipality, r.neighbour) for r in await self.s.execute(q)]

    async def replace(self, region: str, pairs: Sequence[tuple[str, str]]) -> None:
        t = municipality_neighbours
        await self.s.execute(delete(t).where(t.c.region == region))
        rows = [{"region": region, "municipality": min(a, b), "neighbour": max(a, b)} for a, b in pairs]
        if rows:
            await self.s.execute(pg_insert(t).values(rows).on_conflict_do_nothing())


async def driver_of(session: AsyncSession) -> Any:
    """The request's raw asyncpg connection, inside the request's transaction."""
    conn = await session.connection()
    # One SQLAlchemy statement has run on this connection, so the raw driver is inside the transaction.
    await conn.execute(text("SELECT 1"))
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    return driver


async def copy_rows(
    session: AsyncSession, temp: str, columns_sql: str, columns: Sequence[str], records: list[tuple[Any, ...]]
) -> Any:
    """COPY records into a transaction-scoped temp table on the request's own connection; return the driver."""
    driver = await driver_of(session)
    await driver.execute(f"CREATE TEMP TABLE {temp} ({columns_sql}) ON COMMIT DROP")
    await driver.copy_records_to_table(temp, records=records, columns=list(columns))
    return driver
