"""Scoped aggregate queries of results: level counts, yearly groups, deficits, the KPI."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.assessment.models import (
    campaigns,
    municipalities,
    results,
    teachers,
)
from services.assessment.repositories.scope import teacher_scope_clause, visible_region
from services.assessment.scoring import KPI_FROM_GROUP


class AnalyticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    def _scoped(
        self,
        principal: Principal,
        *,
        campaign_id: uuid.UUID | None,
        subject: str | None,
        year: int | None,
        municipality: str | None,
        organisation: str | None,
    ) -> Select[Any]:
        year_col = func.extract("year", campaigns.c.assessed_on).cast(type_=results.c.grp.type).label("year")
        q = (
            select(
                results.c.teacher_id,
                results.c.campaign_id,
                results.c.level,
                results.c.grp,
                results.c.deficit_codes,
                results.c.competency_points,
                results.c.framework_id,
                campaigns.c.subject,
                campaigns.c.assessed_on,
                campaigns.c.name.label("campaign_name"),
                year_col,
                teachers.c.municipality_code.label("municipality"),
            )
            .select_from(results)
            .join(campaigns, campaigns.c.id == results.c.campaign_id)
            .join(teachers, teachers.c.id == results.c.teacher_id)
            .where(teacher_scope_clause(principal), visible_region(campaigns.c.region, principal))
        )
        if campaign_id:
            q = q.where(results.c.campaign_id == campaign_id)
        if subject:
            q = q.where(campaigns.c.subject == subject)
        if year:
            q = q.where(campaigns.c.assessed_on >= date(year, 1, 1), campaigns.c.assessed_on <= date(year, 12, 31))
        if municipality:
            q = q.where(teachers.c.municipality_code == municipality)
        if organisation:
            q = q.where(teachers.c.organisation_code == organisation)
        return q

    def _latest(self, q: Select[Any], *partition: str) -> Any:
        """Keep each partition's latest result (by assessment date, then campaign creation)."""
        sub = q.add_columns(campaigns.c.created_at.label("campaign_created")).subquery()
        cols = [sub.c[p] for p in partition]
        return (
            select(sub)
            .distinct(*cols)
            .order_by(*cols, sub.c.assessed_on.desc(), sub.c.campaign_created.desc())
            .subquery()
        )

    async def level_counts(self, principal: Principal, group_by: str, **filters: Any) -> list[dict[str, Any]]:
        base = self._scoped(principal, **filters)
        if group_by == "campaign":
            sub = base.subquery()
            key = sub.c.campaign_id
            label = sub.c.campaign_name
        else:
            sub = self._latest(base, "teacher_id", "subject")
            key = sub.c.subject if group_by == "subject" else sub.c.municipality
            label = key
        q = select(key.label("key"), func.min(label).label("label"), sub.c.level, func.count().label("n")).group_by(
            key, sub.c.level
        )
        rows = [dict(r._mapping) for r in await self.s.execute(q)]
        if group_by == "municipality" and rows:
            names = dict(
                (
                    await self.s.execute(
                        select(municipalities.c.code, municipalities.c.name).where(
                            municipalities.c.code.in_({r["key"] for r in rows})
                        )
                    )
                ).all()
            )
            for r in rows:
                r["label"] = names.get(r["key"], r["key"])
        return rows

    async def yearly_groups(self, principal: Principal, **filters: Any) -> list[dict[str, Any]]:
        sub = self._latest(self._scoped(principal, **filters), "teacher_id", "subject", "year")
        q = select(sub.c.subject, sub.c.year, sub.c.grp, func.count().label("n")).group_by(
            sub.c.subject, sub.c.year, sub.c.grp
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def deficit_counts(
        self, principal: Principal, **filters: Any
    ) -> tuple[list[dict[str, Any]], dict[str, int], set[uuid.UUID]]:
        sub = self._latest(self._scoped(principal, **filters), "teacher_id", "subject")
        measured = sub.c.competency_points != text("'{}'::numeric[]")
        assessed: dict[Any, Any] = dict(
            (await self.s.execute(select(sub.c.subject, func.count()).where(measured).group_by(sub.c.subject))).all()
        )
        code = func.unnest(sub.c.deficit_codes).label("code")
        inner = select(sub.c.subject, code).subquery()
        q = select(inner.c.subject, inner.c.code, func.count().label("n")).group_by(inner.c.subject, inner.c.code)
        rows = [dict(r._mapping) for r in await self.s.execute(q)]
        fws = {r.framework_id for r in await self.s.execute(select(sub.c.framework_id).distinct())}
        return rows, {str(k): int(v) for k, v in assessed.items()}, fws

    async def deficit_demand(self, principal: Principal, **filters: Any) -> list[dict[str, Any]]:
        """Per municipality and subject: teachers whose latest result there has at least one deficit."""
        sub = self._latest(self._scoped(principal, **filters), "teacher_id", "subject")
        has_deficit = func.cardinality(sub.c.deficit_codes) > 0
        q = (
            select(
                sub.c.municipality,
                sub.c.subject,
                func.count().filter(has_deficit).label("teachers"),
                func.count().label("assessed"),
            )
            .group_by(sub.c.municipality, sub.c.subject)
            .order_by(sub.c.municipality, sub.c.subject)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def kpi(self, principal: Principal, **filters: Any) -> tuple[int, int]:
        sub = self._latest(self._scoped(principal, **filters), "teacher_id")
        r = (
            await self.s.execute(
                select(func.count(), func.count().filter(sub.c.grp >= KPI_FROM_GROUP)).select_from(sub)
            )
        ).one()
        return int(r[0]), int(r[1])

    def _registered(
        self, principal: Principal, subject: str | None, municipality: str | None, organisation: str | None
    ) -> list[Any]:
        conds = [teacher_scope_clause(principal)]
        if subject:
            conds.append(teachers.c.subjects.contains([subject]))
        if municipality:
            conds.append(teachers.c.municipality_code == municipality)
        if organisation:
            conds.append(teachers.c.organisation_code == organisation)
        return conds

    async def registered(
        self, principal: Principal, *, subject: str | None, municipality: str | None, organisation: str | None
    ) -> int:
        q = (
            select(func.count())
            .select_from(teachers)
            .where(*self._registered(principal, subject, municipality, organisation))
        )
        return int((await self.s.execute(q)).scalar_one())

    async def young(
        self,
        principal: Principal,
        born_after: int,
        *,
        subject: str | None,
        municipality: str | None,
        organisation: str | None,
    ) -> tuple[int, list[uuid.UUID]]:
        """(registered teachers whose year of birth is known, ids of those born after `born_after`)."""
        conds = self._registered(principal, subject, municipality, organisation)
        known = select(func.count()).select_from(teachers).where(*conds, teachers.c.birth_year.is_not(None))
        ids = select(teachers.c.id).where(*conds, teachers.c.birth_year > born_after).order_by(teachers.c.id)
        return int((await self.s.execute(known)).scalar_one()), [r.id for r in await self.s.execute(ids)]
