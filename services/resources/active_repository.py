"""Every query of the methodological active: members (scoped like `Principal.sees`), their status history,
orders, and the link of mentors to members."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.db import scope_condition
from services.resources.active_vocab import ActiveStatus, BasisKind
from services.resources.models import active_member_events, active_members, active_orders, mentor_memberships, mentors

A = active_members.c
E = active_member_events.c
O = active_orders.c  # noqa: E741
M = mentors.c

MEMBER_COLUMNS = (
    A.id,
    A.region,
    A.teacher_id,
    A.municipality,
    A.organisation,
    A.subjects,
    A.status,
    A.since,
    A.order_id,
    O.number.label("order_number"),
    O.issued_on.label("order_date"),
    A.basis_kind,
    A.basis_campaign,
    A.basis_level,
    A.criteria,
    A.left_reason,
    M.id.label("mentor_id"),
    A.version,
    A.created_at,
    A.updated_at,
)
MEMBER_FROM = active_members.outerjoin(active_orders, O.id == A.order_id).outerjoin(mentors, M.member_id == A.id)


def member_scope(principal: Principal) -> Any:
    """`Principal.sees` over a member: the region, the municipality, the school, the teacher themself."""
    return scope_condition(
        principal, region=A.region, municipality=A.municipality, organisation=A.organisation, teacher=A.teacher_id
    )


def _select() -> Select[Any]:
    return select(*MEMBER_COLUMNS).select_from(MEMBER_FROM)


class ActiveRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, principal: Principal, member_id: uuid.UUID) -> dict[str, Any] | None:
        r = (await self.s.execute(_select().where(A.id == member_id, member_scope(principal)))).first()
        return dict(r._mapping) if r else None

    async def get_many(self, region: str, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        """The region's members of these ids, locked until the transaction ends."""
        q = _select().where(A.region == region, A.id.in_(list(set(ids)))).with_for_update(of=active_members)
        return {r.id: dict(r._mapping) for r in await self.s.execute(q)}

    async def active_mentors(self, region: str, teacher_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """The teachers among these who are members of the active and mentor now (an active mentor record)."""
        if not teacher_ids:
            return set()
        q = (
            select(A.teacher_id)
            .select_from(active_members.join(mentors, M.member_id == A.id))
            .where(A.region == region, A.teacher_id.in_(list(set(teacher_ids))), M.status == "active")
        )
        return set((await self.s.execute(q)).scalars())

    async def by_teachers(self, region: str, teacher_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        if not teacher_ids:
            return {}
        q = _select().where(A.region == region, A.teacher_id.in_(list(set(teacher_ids))))
        return {r.teacher_id: dict(r._mapping) for r in await self.s.execute(q.with_for_update(of=active_members))}

    async def page(
        self, principal: Principal, *, filters: dict[str, Any], after: list[Any] | None, limit: int
    ) -> list[dict[str, Any]]:
        stmt = _select().where(member_scope(principal))
        for key, col in (("status", A.status), ("municipality", A.municipality), ("basis", A.basis_kind)):
            if filters.get(key):
                stmt = stmt.where(col == filters[key])
        if filters.get("subject"):
            stmt = stmt.where(A.subjects.contains([filters["subject"]]))
        if filters.get("campaign"):
            stmt = stmt.where(A.basis_campaign == filters["campaign"])
        if after:
            stmt = stmt.where(tuple_(A.municipality, A.id) > tuple_(literal(after[0]), literal(uuid.UUID(after[1]))))
        stmt = stmt.order_by(A.municipality, A.id).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(stmt)]

    async def insert(self, values: dict[str, Any]) -> uuid.UUID:
        stmt = pg_insert(active_members).values(**values).returning(A.id)
        member_id: uuid.UUID = (await self.s.execute(stmt)).scalar_one()
        return member_id

    async def update(self, member_id: uuid.UUID, values: dict[str, Any], expected_version: int | None) -> bool:
        """A conditional update (when `expected_version` is given) that bumps the version."""
        cond = [A.id == member_id]
        if expected_version is not None:
            cond.append(A.version == expected_version)
        stmt = (
            update(active_members)
            .where(*cond)
            .values(**values, version=A.version + 1, updated_at=func.now())
            .returning(A.id)
        )
        return (await self.s.execute(stmt)).first() is not None

    async def reread(self, ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        q = _select().where(A.id.in_(list(ids))).order_by(A.municipality, A.id)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def add_event(self, values: dict[str, Any]) -> None:
        await self.s.execute(pg_insert(active_member_events).values(**values))

    async def events(self, member_id: uuid.UUID) -> list[dict[str, Any]]:
        q = (
            select(
                E.id,
                E.status_from,
                E.status_to,
                E.happened_on,
                E.order_id,
                O.number.label("order_number"),
                O.issued_on.label("order_date"),
                E.reason,
                E.recorded_at,
            )
            .select_from(active_member_events.outerjoin(active_orders, O.id == E.order_id))
            .where(E.member_id == member_id)
            .order_by(E.id)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def order(self, region: str, number: str, issued_on: date, recorded_by: str) -> dict[str, Any]:
        """The region's order of this number and date (recorded on first use)."""
        stmt = (
            pg_insert(active_orders)
            .values(region=region, number=number, issued_on=issued_on, recorded_by=recorded_by)
            .on_conflict_do_nothing(index_elements=["region", "number", "issued_on"])
        )
        await self.s.execute(stmt)
        q = select(O.id, O.number, O.issued_on).where(O.region == region, O.number == number, O.issued_on == issued_on)
        return dict((await self.s.execute(q)).one()._mapping)

    async def stop_mentoring(self, member_id: uuid.UUID, year: int, note: str | None, recorded_by: str) -> None:
        """A member who left the active takes no new mentees: their mentor record goes inactive (kept mentees
        stay), with a `left` event in the mentor's history."""
        stmt = (
            update(mentors)
            .where(M.member_id == member_id, M.status == "active")
            .values(status="inactive", version=M.version + 1, updated_at=func.now())
            .returning(M.id)
        )
        mentor_id = (await self.s.execute(stmt)).scalar_one_or_none()
        if mentor_id is not None:
            await self.s.execute(
                pg_insert(mentor_memberships).values(
                    mentor_id=mentor_id, year=year, action="left", note=note, recorded_by=recorded_by
                )
            )

    async def member_for_mentor(
        self, region: str, teacher_id: uuid.UUID, municipality: str, subjects: list[str], recorded_by: str
    ) -> uuid.UUID:
        """The member a mentor is: the teacher's member of the active, made a member by the role of mentor
        when they are not one (new, a candidate or left), with an event in their history."""
        rows = await self.by_teachers(region, [teacher_id])
        current = rows.get(teacher_id)
        today = date.today()
        if current is None:
            member_id = await self.insert(
                {
                    "region": region,
                    "teacher_id": teacher_id,
                    "municipality": municipality,
                    "subjects": subjects,
                    "status": ActiveStatus.member.value,
                    "since": today,
                    "basis_kind": BasisKind.tutor_or_mentor.value,
                }
            )
            status_from = None
        elif current["status"] != ActiveStatus.member:
            member_id, status_from = current["id"], current["status"]
            await self.update(
                member_id,
                {
                    "status": ActiveStatus.member.value,
                    "since": today,
                    "basis_kind": BasisKind.tutor_or_mentor.value,
                    "left_reason": None,
                    "subjects": sorted(set(current["subjects"]) | set(subjects)),
                },
                None,
            )
        else:
            member_id: uuid.UUID = current["id"]  # type: ignore[no-redef]
            return member_id
        await self.add_event(
            {
                "member_id": member_id,
                "status_from": status_from,
                "status_to": ActiveStatus.member.value,
                "happened_on": today,
                "reason": "Включён по роли наставника",
                "recorded_by": recorded_by,
            }
        )
        return member_id


# The mentor import's members: every teacher of the import's temp table gets a member (by the role of mentor)
# unless they are one; mentors are then inserted with their member's id (`MEMBER_OF_TEMP_ROW`). Candidates and
# those who left are made members like a single registration does; $1 is who recorded it.
IMPORT_MEMBERS_SQL = """
WITH prior AS (
    SELECT am.id, am.status FROM resources.active_members am
    JOIN {temp} t ON am.region = t.region AND am.teacher_id = t.teacher_id
), made AS (
    INSERT INTO resources.active_members (region, teacher_id, municipality, subjects, status, since, basis_kind)
    SELECT t.region, t.teacher_id, t.municipality, t.subjects, 'member', current_date, 'tutor_or_mentor'
    FROM {temp} t
    ON CONFLICT (region, teacher_id) DO UPDATE
        SET status = 'member', since = current_date, left_reason = NULL, basis_kind = 'tutor_or_mentor',
            version = active_members.version + 1, updated_at = now()
        WHERE active_members.status <> 'member'
    RETURNING id
)
INSERT INTO resources.active_member_events (member_id, status_from, status_to, happened_on, reason, recorded_by)
SELECT made.id, prior.status, 'member', current_date, 'Включён по роли наставника', $1
FROM made LEFT JOIN prior ON prior.id = made.id
"""
MEMBER_OF_TEMP_ROW = (
    "(SELECT am.id FROM resources.active_members am WHERE am.region = t.region AND am.teacher_id = t.teacher_id)"
)
