"""The export's queries: a municipality's routes of a month, the month's counts, the recorded files, the lock."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from sqlalchemy import LargeBinary, Select, and_, column, delete, func, select, true, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.routes.exports.month import Month
from services.routes.models import exports, routes

if TYPE_CHECKING:
    from kit.auth import Principal

# Rows per fetch: route documents are ~13 kB of JSON each, parsed ~4x that in memory.
CHUNK_ROWS = 500
# One export job at a time per database (session advisory lock; released when the session ends).
LOCK_KEY = int.from_bytes(hashlib.sha256(b"iom:routes:monthly-export").digest()[:8], "big", signed=True)

ROW_COLUMNS = (
    routes.c.id,
    routes.c.teacher_id,
    routes.c.external_id,
    routes.c.teacher_name,
    routes.c.region,
    routes.c.municipality,
    routes.c.organisation,
    routes.c.subject,
    routes.c.grp,
    routes.c.status,
    routes.c.period_start,
    routes.c.period_end,
    routes.c.mentor_id,
    routes.c.next_control_on,
)
# Insufficient levels first (group 1, then 2, ...), then by name.
ORDER = ("grp", "teacher_name", "id")


def overlaps(month: Month) -> Any:
    """The routes running in the month (any day of it)."""
    return and_(routes.c.period_start <= month.last, routes.c.period_end >= month.first)


# The parts of the document the export reads (rows.KEPT) are picked out above the sort. PostgreSQL
# detoasts the document once (jsonb_to_record); picking the parts out of the stored document instead
# detoasts it again for each part, and building one document of them costs more than sending it
# whole (measured). Each part comes in jsonb's binary form (bytea): no text decoding by the driver,
# no encoding check by PostgreSQL, and no JSON decoding of a chunk at once (each row's parts are
# parsed, read and dropped in turn).
def month_query(month: Month, municipality: str, *conditions: Any) -> Select[Any]:
    """A municipality's routes running in the month: insufficient levels first, then by name.

    The rows are sorted with the document still a pointer to its stored value, and the document is
    read out only above the sort: sorted along with the rows, the documents (~1 GB for 80,000 routes)
    spill to disk, and nothing reaches the client until all of them are sorted. OFFSET 0 keeps
    PostgreSQL from merging the two levels; the outer ORDER BY is the inner one, so PostgreSQL sees
    the rows arrive sorted (with the municipality in it, it would not: the inner one drops a key
    fixed to one value, and the outer one would sort the documents all over again)."""
    inner = (
        select(*ROW_COLUMNS, routes.c.content)
        .where(routes.c.municipality == municipality, overlaps(month), *conditions)
        .order_by(*(routes.c[k] for k in ORDER))
        .offset(0)
        .subquery("sorted")
    )
    doc = (
        func.jsonb_to_record(inner.c.content)
        .table_valued(
            column("period", JSONB),
            column("mentoring", JSONB),
            column("control_points", JSONB),
            column("sections", JSONB),
        )
        .render_derived(name="doc", with_types=True)
    )
    parts = {
        "doc_period": doc.c.period,
        "doc_mentoring": doc.c.mentoring,
        "doc_control_points": doc.c.control_points,
        "doc_deficits": doc.c.sections[("competency_profile", "deficits")],
        "doc_goals": doc.c.sections["goals"],
    }
    return (
        select(
            *(inner.c[c.name] for c in ROW_COLUMNS),
            *(func.jsonb_send(part, type_=LargeBinary).label(name) for name, part in parts.items()),
        )
        .select_from(inner.join(doc, true()))
        .order_by(*(inner.c[k] for k in ORDER))
    )


async def fetch_chunks(
    conn: AsyncConnection, query: Select[Any], size: int = CHUNK_ROWS
) -> AsyncGenerator[list[Any], None]:
    """Rows of `query` through a server-side cursor, `size` at a time."""
    result = await conn.stream(query.execution_options(yield_per=size))
    try:
        async for part in result.mappings().partitions(size):
            yield list(part)
    finally:
        await result.close()


async def month_counts(conn: AsyncConnection, month: Month) -> list[tuple[str, str, int]]:
    """(region, municipality, routes) of every municipality with routes in the month, by municipality."""
    rows = await conn.execute(
        select(routes.c.region, routes.c.municipality, func.count())
        .where(overlaps(month))
        .group_by(routes.c.region, routes.c.municipality)
        .order_by(routes.c.municipality, routes.c.region)
    )
    return [(str(r), str(m), int(n)) for r, m, n in rows.all()]


async def try_lock(conn: AsyncConnection) -> bool:
    got = (await conn.execute(select(func.pg_try_advisory_lock(LOCK_KEY)))).scalar_one()
    await conn.commit()
    return bool(got)


async def unlock(conn: AsyncConnection) -> None:
    await conn.execute(select(func.pg_advisory_unlock(LOCK_KEY)))
    await conn.commit()


def export_scope(principal: Principal) -> Any:
    """SQL condition limiting export records to the caller's scope (Principal.sees): no school or teacher
    has exports."""
    from kit.db import scope_condition  # here: the export job's worker processes need no web stack

    return scope_condition(principal, region=exports.c.region, municipality=exports.c.municipality)


class ExportRecords:
    """Queries of the `exports` table."""

    def __init__(self, conn: Any) -> None:
        self.c = conn  # AsyncSession or AsyncConnection

    async def search(
        self,
        principal: Principal,
        *,
        month: str | None,
        municipality: str | None,
        fmt: str | None,
        after: tuple[str, str, str, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        q = select(exports).where(export_scope(principal))
        if month:
            q = q.where(exports.c.month == month)
        if municipality is not None:
            q = q.where(exports.c.municipality == municipality)
        if fmt:
            q = q.where(exports.c.format == fmt)
        if after is not None:
            m, mun, reg, f = after
            key = tuple_(exports.c.municipality, exports.c.region, exports.c.format)
            q = q.where((exports.c.month < m) | and_(exports.c.month == m, key > tuple_(mun, reg, f)))
        q = q.order_by(exports.c.month.desc(), exports.c.municipality, exports.c.region, exports.c.format)
        q = q.limit(limit)
        return [dict(r._mapping) for r in await self.c.execute(q)]

    async def get(self, principal: Principal, export_id: uuid.UUID) -> dict[str, Any] | None:
        q = select(exports).where(exports.c.id == export_id, export_scope(principal))
        r = (await self.c.execute(q)).first()
        return dict(r._mapping) if r else None

    async def of_month(self, month: str) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in await self.c.execute(select(exports).where(exports.c.month == month))]

    async def upsert(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            stmt = pg_insert(exports).values(**row)
            stmt = stmt.on_conflict_do_update(
                index_elements=[exports.c.month, exports.c.region, exports.c.municipality, exports.c.format],
                set_={
                    **{k: stmt.excluded[k] for k in row if k not in ("month", "region", "municipality", "format")},
                    "created_at": func.now(),
                },
            )
            await self.c.execute(stmt)

    async def delete(self, ids: list[uuid.UUID]) -> None:
        if ids:
            await self.c.execute(delete(exports).where(exports.c.id.in_(ids)))
