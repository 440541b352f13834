"""Every query of the routes service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import String, and_, bindparam, false, func, insert, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal, Role
from kit.db import scope_condition
from services.routes.models import feed_state, route_events, route_versions, routes

SUMMARY_COLUMNS = (
    routes.c.id,
    routes.c.teacher_id,
    routes.c.external_id,
    routes.c.teacher_name,
    routes.c.region,
    routes.c.municipality,
    routes.c.organisation,
    routes.c.subject,
    routes.c.grp.label("group"),
    routes.c.status,
    routes.c.version,
    routes.c.period_start,
    routes.c.period_end,
    routes.c.next_control_on,
    routes.c.mentor_id,
    routes.c.created_at,
    routes.c.updated_at,
    routes.c.completed_at,
)
FULL_COLUMNS = (
    *SUMMARY_COLUMNS,
    routes.c.content_version,
    routes.c.content,
    routes.c.overrides,
    routes.c.self_check_manual,
    routes.c.self_check_at_completion,
    routes.c.tutor,
    routes.c.audit_id,
    routes.c.audit_total,
    routes.c.period_key,
    routes.c.sources,
)


# Columns of a newly generated route, in COPY order (the others take their defaults).
STAGE_COLUMNS = (
    ("id", "uuid"),
    ("teacher_id", "uuid"),
    ("external_id", "varchar(64)"),
    ("teacher_name", "text"),
    ("region", "varchar(32)"),
    ("municipality", "varchar(32)"),
    ("organisation", "varchar(32)"),
    ("subject", "varchar(32)"),
    ("grp", "smallint"),
    ("period_key", "varchar(8)"),
    ("period_start", "date"),
    ("period_end", "date"),
    ("content", "jsonb"),
    ("sources", "jsonb"),
    ("mentor_id", "varchar(64)"),
    ("next_control_on", "date"),
)


STAGE_NAMES = [c for c, _ in STAGE_COLUMNS]


_COPY_ESCAPES = {ord("\\"): "\\\\", ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"}


def _copy_field(value: Any) -> bytes:
    """One field in PostgreSQL's COPY text format."""
    if value is None:
        return b"\\N"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.translate(_COPY_ESCAPES)
    return text.encode()


def route_record(row: dict[str, Any]) -> bytes:
    """A new route as a line of COPY text (STAGE_COLUMNS order), ready to send as it is.

    JSON columns go straight from orjson's bytes: its output has no raw tab, newline or carriage
    return (they are escaped inside strings), so doubling backslashes is all COPY needs."""
    return (
        b"\t".join(
            orjson.dumps(row[c]).replace(b"\\", b"\\\\") if c in ("content", "sources") else _copy_field(row[c])
            for c in STAGE_NAMES
        )
        + b"\n"
    )


async def _once(data: bytes) -> AsyncIterator[bytes]:
    # asyncpg would take plain bytes for a file name.
    yield data


def _keys_table(keys: list[tuple[uuid.UUID, str]]) -> Any:
    """(teacher_id, period_key) pairs as a derived table: two array parameters, whatever the number of keys."""
    return (
        func.unnest(
            bindparam("key_teachers", [t for t, _ in keys], type_=ARRAY(UUID(as_uuid=True))),
            bindparam("key_periods", [p for _, p in keys], type_=ARRAY(String)),
        )
        .table_valued("teacher_id", "period_key")
        .render_derived(name="wanted")
    )


def scope_clause(principal: Principal) -> Any:
    """SQL condition limiting routes to what the principal may see (matches Principal.sees)."""
    return scope_condition(
        principal,
        region=routes.c.region,
        municipality=routes.c.municipality,
        organisation=routes.c.organisation,
        teacher=routes.c.teacher_id,
    )


def tutor_clause(principal: Principal) -> Any:
    """Routes the calling teacher tutors (the SQL mirror of services.routes.tutors.is_tutor)."""
    if principal.role != Role.teacher or principal.teacher_id is None:
        return false()
    cond = routes.c.tutor["teacher_id"].astext == principal.teacher_id
    return and_(cond, routes.c.region == principal.region) if principal.region else cond


class RouteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(
        self, principal: Principal, route_id: uuid.UUID, *, for_update: bool = False, tutored: bool = False
    ) -> dict[str, Any] | None:
        """The route in the caller's scope; with `tutored`, also a route the calling teacher tutors."""
        scope = or_(scope_clause(principal), tutor_clause(principal)) if tutored else scope_clause(principal)
        q = select(*FULL_COLUMNS).where(routes.c.id == route_id, scope)
        if for_update:
            q = q.with_for_update()
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def search(
        self,
        principal: Principal,
        *,
        filters: dict[str, Any],
        overdue_on: date | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        q = select(*SUMMARY_COLUMNS).where(scope_clause(principal))
        column_of = {
            "status": routes.c.status,
            "group": routes.c.grp,
            "subject": routes.c.subject,
            "municipality": routes.c.municipality,
            "organisation": routes.c.organisation,
            "teacher_id": routes.c.teacher_id,
        }
        for name, value in filters.items():
            if value is not None:
                q = q.where(column_of[name] == value)
        if overdue_on is not None:
            q = q.where(routes.c.status.in_(["approved", "in_progress"]), routes.c.next_control_on < overdue_on)
        if after is not None:
            q = q.where(
                tuple_(routes.c.created_at, routes.c.id) < tuple_(datetime.fromisoformat(after[0]), uuid.UUID(after[1]))
            )
        q = q.order_by(routes.c.created_at.desc(), routes.c.id.desc()).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def existing_for(self, keys: list[tuple[uuid.UUID, str]]) -> dict[tuple[uuid.UUID, str], dict[str, Any]]:
        if not keys:
            return {}
        wanted = _keys_table(keys)
        q = select(
            routes.c.id,
            routes.c.teacher_id,
            routes.c.period_key,
            routes.c.status,
            routes.c.overrides,
            routes.c.sources,
            routes.c.content_version,
            routes.c.version,
            routes.c.content,
        ).join(wanted, and_(routes.c.teacher_id == wanted.c.teacher_id, routes.c.period_key == wanted.c.period_key))
        return {(r.teacher_id, r.period_key): dict(r._mapping) for r in await self.s.execute(q)}

    async def versions_for(self, keys: list[tuple[uuid.UUID, str]]) -> dict[tuple[uuid.UUID, str], int]:
        """The workflow version of each existing route among (teacher, period) keys."""
        if not keys:
            return {}
        wanted = _keys_table(keys)
        q = select(routes.c.teacher_id, routes.c.period_key, routes.c.version).join(
            wanted, and_(routes.c.teacher_id == wanted.c.teacher_id, routes.c.period_key == wanted.c.period_key)
        )
        return {(r.teacher_id, r.period_key): int(r.version) for r in await self.s.execute(q)}

    async def insert_many(self, records: list[bytes]) -> int:
        """Insert new routes (`route_record` lines) with one COPY straight into the table.

        Callers hold the generation lock (`lock_generation`) and have checked which routes exist, so
        no row can conflict. Runs inside the request's transaction (an ORM statement has begun it)."""
        if not records:
            return 0
        conn = await self.s.connection()
        raw: Any = (await conn.get_raw_connection()).driver_connection
        await raw.copy_to_table(
            "routes", schema_name="routes", source=_once(b"".join(records)), columns=STAGE_NAMES, format="text"
        )
        return len(records)

    async def lock_generation(self, *, wait: bool) -> bool:
        """Serialise route generation (the feed consumer and requests): one writer of new routes at a time."""
        if wait:
            await self.s.execute(text("SELECT pg_advisory_xact_lock(hashtext('routes-feed'))"))
            return True
        got = (await self.s.execute(text("SELECT pg_try_advisory_xact_lock(hashtext('routes-feed'))"))).scalar_one()
        return bool(got)

    async def update_fields(
        self, route_id: uuid.UUID, values: dict[str, Any], *, expected_version: int | None = None
    ) -> dict[str, Any] | None:
        """Conditional update bumping the workflow version; None when the version moved on."""
        cond = [routes.c.id == route_id]
        if expected_version is not None:
            cond.append(routes.c.version == expected_version)
        q = (
            update(routes)
            .where(*cond)
            .values(**values, version=routes.c.version + 1, updated_at=func.now())
            .returning(*FULL_COLUMNS)
        )
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def add_event(
        self,
        route_id: uuid.UUID,
        principal: Principal,
        action: str,
        *,
        from_status: str | None = None,
        to_status: str | None = None,
        comment: str | None = None,
        content_version: int | None = None,
    ) -> None:
        await self.s.execute(
            insert(route_events).values(
                route_id=route_id,
                actor=principal.sub,
                actor_role=principal.role.value,
                action=action,
                from_status=from_status,
                to_status=to_status,
                comment=comment,
                content_version=content_version,
            )
        )

    async def add_events(self, rows: list[dict[str, Any]]) -> None:
        """Append many history rows with COPY (same columns for every row)."""
        if not rows:
            return
        conn = await self.s.connection()
        raw: Any = (await conn.get_raw_connection()).driver_connection
        names = list(rows[0])
        await raw.copy_records_to_table(
            "route_events", schema_name="routes", records=[tuple(r[c] for c in names) for r in rows], columns=names
        )

    async def add_version(
        self, route_id: uuid.UUID, content_version: int, content: dict[str, Any], reason: str, actor: str
    ) -> None:
        await self.s.execute(
            pg_insert(route_versions)
            .values(route_id=route_id, content_version=content_version, content=content, reason=reason, actor=actor)
            .on_conflict_do_nothing()
        )

    async def history(self, route_id: uuid.UUID) -> list[dict[str, Any]]:
        q = (
            select(
                route_events.c.at,
                route_events.c.actor,
                route_events.c.actor_role,
                route_events.c.action,
                route_events.c.from_status,
                route_events.c.to_status,
                route_events.c.comment,
                route_events.c.content_version,
            )
            .where(route_events.c.route_id == route_id)
            .order_by(route_events.c.id)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def versions(self, route_id: uuid.UUID) -> list[dict[str, Any]]:
        q = (
            select(
                route_versions.c.content_version, route_versions.c.reason, route_versions.c.actor, route_versions.c.at
            )
            .where(route_versions.c.route_id == route_id)
            .order_by(route_versions.c.content_version)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def get_cursor(self, consumer: str) -> str | None:
        r = (await self.s.execute(select(feed_state.c.cursor).where(feed_state.c.consumer == consumer))).first()
        return r.cursor if r else None

    async def set_cursor(self, consumer: str, cursor: str | None) -> None:
        stmt = pg_insert(feed_state).values(consumer=consumer, cursor=cursor)
        stmt = stmt.on_conflict_do_update(
            index_elements=[feed_state.c.consumer], set_={"cursor": stmt.excluded.cursor, "updated_at": func.now()}
        )
        await self.s.execute(stmt)

    async def outcomes(
        self, principal: Principal, municipality: str | None, after: str | None, limit: int, *, mentored: bool | None
    ) -> list[dict[str, Any]]:
        q = select(
            routes.c.id,
            routes.c.teacher_id,
            routes.c.municipality,
            routes.c.grp,
            routes.c.subject,
            routes.c.status,
            routes.c.completed_at,
            routes.c.mentor_id,
            routes.c.content,
        ).where(scope_clause(principal))
        if municipality:
            q = q.where(routes.c.municipality == municipality)
        if mentored is not None:
            q = q.where(routes.c.mentor_id.is_not(None) if mentored else routes.c.mentor_id.is_(None))
        if after:
            q = q.where(routes.c.id > uuid.UUID(after))
        q = q.order_by(routes.c.id).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]
