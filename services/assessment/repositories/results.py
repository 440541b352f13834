"""Queries reading results: by id, in pages, of a teacher, and the change feed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Select, Text, cast, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.assessment.models import (
    campaigns,
    frameworks,
    result_changes,
    results,
    teachers,
)
from services.assessment.repositories.scope import teacher_scope_clause

# --- reading results -------------------------------------------------------------------------------

RESULT_COLUMNS = (
    results.c.id,
    results.c.campaign_id,
    results.c.teacher_id,
    results.c.framework_id,
    results.c.item_points,
    results.c.competency_points,
    results.c.total_points,
    results.c.max_points,
    results.c.percent,
    results.c.level,
    results.c.grp,
    results.c.level_source,
    results.c.version,
    results.c.created_at,
    results.c.updated_at,
    campaigns.c.name.label("campaign_name"),
    campaigns.c.source.label("campaign_source"),
    campaigns.c.subject,
    campaigns.c.assessed_on,
    campaigns.c.instrument,
    frameworks.c.code.label("framework_code"),
    frameworks.c.version.label("framework_version"),
    teachers.c.external_id,
    teachers.c.region,
    teachers.c.municipality_code.label("municipality"),
    teachers.c.organisation_code.label("organisation"),
)


def _result_select(principal: Principal) -> Select[Any]:
    return (
        select(*RESULT_COLUMNS)
        .select_from(results)
        .join(campaigns, campaigns.c.id == results.c.campaign_id)
        .join(frameworks, frameworks.c.id == results.c.framework_id)
        .join(teachers, teachers.c.id == results.c.teacher_id)
        .where(teacher_scope_clause(principal))
    )


def partition_of(teacher_id: Any, partitions: int) -> Any:
    """The feed partition of a teacher, in SQL: PostgreSQL's `hashtext` of the teacher id modulo the count.

    The one definition of the partition: consumers only ask for partition i of P, never compute it. All
    changes of a teacher fall into one partition, so they stay in feed order there."""
    return func.mod(func.abs(cast(func.hashtext(cast(teacher_id, Text)), BigInteger)), partitions)


def _committed() -> Any:
    """Changes of transactions older than the oldest one still running (see `changes`)."""
    return result_changes.c.txid < text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")


class ResultRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, principal: Principal, result_id: uuid.UUID) -> dict[str, Any] | None:
        r = (await self.s.execute(_result_select(principal).where(results.c.id == result_id))).first()
        return dict(r._mapping) if r else None

    async def search(
        self,
        principal: Principal,
        *,
        campaign_id: uuid.UUID | None,
        subject: str | None,
        municipality: str | None,
        organisation: str | None,
        level: str | None,
        teacher_id: uuid.UUID | None,
        after: uuid.UUID | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        q = _result_select(principal)
        if campaign_id:
            q = q.where(results.c.campaign_id == campaign_id)
        if subject:
            q = q.where(campaigns.c.subject == subject)
        if municipality:
            q = q.where(teachers.c.municipality_code == municipality)
        if organisation:
            q = q.where(teachers.c.organisation_code == organisation)
        if level:
            q = q.where(results.c.level == level)
        if teacher_id:
            q = q.where(results.c.teacher_id == teacher_id)
        if after is not None:
            q = q.where(results.c.id > after)
        q = q.order_by(results.c.id).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def of_teacher(self, principal: Principal, teacher_id: uuid.UUID) -> list[dict[str, Any]]:
        q = (
            _result_select(principal)
            .where(results.c.teacher_id == teacher_id)
            .order_by(campaigns.c.assessed_on, campaigns.c.created_at, results.c.id)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def window_end(self, after: tuple[int, int], size: int) -> tuple[tuple[int, int] | None, bool]:
        """The position of the last of the (at most `size`) committed changes after `after`, and whether
        there were `size` of them (more may follow): the stretch of the feed one page of a partition reads.
        One walk of the (transaction, sequence) index, however long the feed."""
        window = (
            select(result_changes.c.txid, result_changes.c.seq)
            .where(tuple_(result_changes.c.txid, result_changes.c.seq) > tuple_(after[0], after[1]), _committed())
            .order_by(result_changes.c.txid, result_changes.c.seq)
            .limit(size)
            .subquery()
        )
        last = (
            await self.s.execute(
                select(window.c.txid, window.c.seq, func.count().over())
                .order_by(window.c.txid.desc(), window.c.seq.desc())
                .limit(1)
            )
        ).first()
        return ((last[0], last[1]), last[2] >= size) if last else (None, False)

    async def changes(
        self,
        principal: Principal,
        after: tuple[int, int],
        limit: int,
        partition: tuple[int, int] | None = None,
        until: tuple[int, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Committed changes after the cursor (up to `until`, when given), in (transaction, sequence) order.

        Only changes of transactions older than the oldest running one are read: a transaction that
        is still open may commit later with a smaller position, and must not be overtaken. With
        `partition` (i, P) only the teachers whose id PostgreSQL hashes to i of P (`partition_of`).
        """
        q = (
            select(
                result_changes.c.seq,
                result_changes.c.txid,
                result_changes.c.changed_at,
                *RESULT_COLUMNS,
                teachers.c.full_name,
                teachers.c.position,
                teachers.c.subjects.label("teacher_subjects"),
                teachers.c.qualification_category,
                teachers.c.experience_years,
                teachers.c.depersonalised_at,
            )
            .select_from(result_changes)
            .join(results, results.c.id == result_changes.c.result_id)
            .join(campaigns, campaigns.c.id == results.c.campaign_id)
            .join(frameworks, frameworks.c.id == results.c.framework_id)
            .join(teachers, teachers.c.id == results.c.teacher_id)
            .where(tuple_(result_changes.c.txid, result_changes.c.seq) > tuple_(after[0], after[1]), _committed())
            .order_by(result_changes.c.txid, result_changes.c.seq)
            .limit(limit)
        )
        if until is not None:
            q = q.where(tuple_(result_changes.c.txid, result_changes.c.seq) <= tuple_(until[0], until[1]))
        if principal.region:
            q = q.where(teachers.c.region == principal.region)
        if partition is not None and partition[1] > 1:
            q = q.where(partition_of(result_changes.c.teacher_id, partition[1]) == partition[0])
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def previous_in_subject(self, principal: Principal, teacher_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        """All results of these teachers (for the change since the previous campaign)."""
        if not teacher_ids:
            return []
        q = (
            _result_select(principal)
            .where(results.c.teacher_id.in_(list(set(teacher_ids))))
            .order_by(campaigns.c.assessed_on, campaigns.c.created_at, results.c.id)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]


# --- analytics -------------------------------------------------------------------------------------
