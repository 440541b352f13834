"""Every query of the active's expert work, training and summary: assignments to duties and enrolments in courses
(scoped through their member like `Principal.sees`), their counts, and the region's members with their status
history for the summary."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.resources.active_repository import member_scope
from services.resources.active_summary import Event, Member
from services.resources.models import (
    active_enrolments,
    active_expert_assignments,
    active_member_events,
    active_members,
    resources,
)

A = active_members.c
E = active_member_events.c
X = active_expert_assignments.c
N = active_enrolments.c
R = resources.c

OWNER = (A.teacher_id, A.municipality, A.organisation)
ASSIGNMENT_COLUMNS = (*X, *OWNER)
ENROLMENT_COLUMNS = (*N, *OWNER, A.status.label("member_status"), R.title.label("resource_title"))
ASSIGNMENT_FROM = active_expert_assignments.join(active_members, A.id == X.member_id)
ENROLMENT_FROM = active_enrolments.join(active_members, A.id == N.member_id).join(resources, R.id == N.resource_id)


def _year(starts: Any, ends: Any, year: int | None) -> Any:
    """A period [starts, ends] that meets the year (everything when no year is asked)."""
    if year is None:
        return literal(True)
    return and_(starts <= date(year, 12, 31), ends >= date(year, 1, 1))


class ActiveWorkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    # ------------------------------------------------------------ expert assignments

    async def add_assignment(self, values: dict[str, Any]) -> uuid.UUID:
        stmt = pg_insert(active_expert_assignments).values(**values).returning(X.id)
        new_id: uuid.UUID = (await self.s.execute(stmt)).scalar_one()
        return new_id

    async def assignment(self, principal: Principal, assignment_id: uuid.UUID) -> dict[str, Any] | None:
        q = select(*ASSIGNMENT_COLUMNS).select_from(ASSIGNMENT_FROM)
        r = (await self.s.execute(q.where(X.id == assignment_id, member_scope(principal)))).first()
        return dict(r._mapping) if r else None

    async def assignments(
        self, principal: Principal, filters: dict[str, Any], after: tuple[date, uuid.UUID] | None, limit: int
    ) -> list[dict[str, Any]]:
        q = select(*ASSIGNMENT_COLUMNS).select_from(ASSIGNMENT_FROM).where(member_scope(principal))
        q = q.where(_year(X.starts_on, X.ends_on, filters.get("year")))
        for key, col in (("member_id", X.member_id), ("duty", X.duty), ("subject", X.subject)):
            if filters.get(key):
                q = q.where(col == filters[key])
        if filters.get("municipality"):
            q = q.where(A.municipality == filters["municipality"])
        if after:
            q = q.where(tuple_(X.starts_on, X.id) > tuple_(literal(after[0]), literal(after[1])))
        q = q.order_by(X.starts_on, X.id).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def assignment_counts(self, principal: Principal, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Assignments and their load per member, subject and duty (in the caller's scope, in the year)."""
        q = (
            select(
                X.member_id,
                A.teacher_id,
                A.municipality,
                X.subject,
                X.duty,
                func.count().label("assignments"),
                func.sum(X.load).label("load"),
            )
            .select_from(ASSIGNMENT_FROM)
            .where(member_scope(principal), _year(X.starts_on, X.ends_on, filters.get("year")))
        )
        if filters.get("municipality"):
            q = q.where(A.municipality == filters["municipality"])
        q = q.group_by(X.member_id, A.teacher_id, A.municipality, X.subject, X.duty)
        q = q.order_by(A.municipality, X.member_id, X.subject, X.duty)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    # ------------------------------------------------------------ enrolments

    async def course(self, region: str, resource_id: uuid.UUID) -> dict[str, Any] | None:
        q = select(R.id, R.kind, R.status, R.title).where(R.id == resource_id, R.region == region)
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def add_enrolment(self, values: dict[str, Any]) -> uuid.UUID | None:
        """The new enrolment's id, None when the member is already enrolled in that course."""
        stmt = (
            pg_insert(active_enrolments)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["member_id", "resource_id"])
            .returning(N.id)
        )
        return (await self.s.execute(stmt)).scalar_one_or_none()

    async def enrolment(self, principal: Principal, enrolment_id: uuid.UUID) -> dict[str, Any] | None:
        q = select(*ENROLMENT_COLUMNS).select_from(ENROLMENT_FROM)
        r = (await self.s.execute(q.where(N.id == enrolment_id, member_scope(principal)))).first()
        return dict(r._mapping) if r else None

    async def enrolments(
        self, principal: Principal, filters: dict[str, Any], after: tuple[date, uuid.UUID] | None, limit: int
    ) -> list[dict[str, Any]]:
        q = select(*ENROLMENT_COLUMNS).select_from(ENROLMENT_FROM).where(member_scope(principal))
        for key, col in (("member_id", N.member_id), ("resource_id", N.resource_id), ("status", N.status)):
            if filters.get(key):
                q = q.where(col == filters[key])
        if filters.get("municipality"):
            q = q.where(A.municipality == filters["municipality"])
        if after:
            q = q.where(tuple_(N.enrolled_on, N.id) > tuple_(literal(after[0]), literal(after[1])))
        q = q.order_by(N.enrolled_on, N.id).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def complete(self, enrolment_id: uuid.UUID, completed_on: date, expected_version: int) -> bool:
        stmt = (
            update(active_enrolments)
            .where(N.id == enrolment_id, N.version == expected_version, N.status == "enrolled")
            .values(status="completed", completed_on=completed_on, version=N.version + 1, updated_at=func.now())
            .returning(N.id)
        )
        return (await self.s.execute(stmt)).first() is not None

    # ------------------------------------------------------------ the summary

    async def members_with_history(self, region: str) -> list[Member]:
        """The region's members of the active (ever), each with their status history."""
        rows = (
            await self.s.execute(
                select(A.id, A.municipality, A.subjects, E.id.label("event_id"), E.status_to, E.happened_on)
                .select_from(active_members.join(active_member_events, E.member_id == A.id))
                .where(A.region == region)
                .order_by(A.id, E.id)
            )
        ).all()
        grouped: dict[uuid.UUID, tuple[str, tuple[str, ...], list[Event]]] = {}
        for r in rows:
            entry = grouped.setdefault(r.id, (r.municipality, tuple(r.subjects), []))
            entry[2].append(Event(r.happened_on, int(r.event_id), r.status_to))
        return [Member(k, mun, subjects, tuple(events)) for k, (mun, subjects, events) in grouped.items()]

    async def training_counts(self, region: str, year: int) -> list[dict[str, Any]]:
        """Enrolments begun and completed in the year, by the member's current status."""
        first, last = date(year, 1, 1), date(year, 12, 31)
        enrolled = N.enrolled_on.between(first, last)
        completed = and_(N.completed_on.is_not(None), N.completed_on.between(first, last))
        q = (
            select(
                A.status,
                func.count().filter(enrolled).label("enrolled"),
                func.count().filter(completed).label("completed"),
            )
            .select_from(active_enrolments.join(active_members, A.id == N.member_id))
            .where(N.region == region, or_(enrolled, completed))
            .group_by(A.status)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def duty_totals(self, region: str, year: int) -> list[dict[str, Any]]:
        """Assignments, their load and the members doing them, per duty, in the year."""
        q = (
            select(
                X.duty,
                func.count().label("assignments"),
                func.sum(X.load).label("load"),
                func.count(X.member_id.distinct()).label("members"),
            )
            .where(X.region == region, _year(X.starts_on, X.ends_on, year))
            .group_by(X.duty)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]
