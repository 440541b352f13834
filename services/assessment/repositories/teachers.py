"""Queries of the teacher registry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.assessment.models import (
    teachers,
)
from services.assessment.repositories.scope import teacher_scope_clause
from services.assessment.vocab import normalize_name

TEACHER_COLUMNS = (
    teachers.c.id,
    teachers.c.external_id,
    teachers.c.full_name,
    teachers.c.region,
    teachers.c.municipality_code.label("municipality"),
    teachers.c.organisation_code.label("organisation"),
    teachers.c.position,
    teachers.c.subjects,
    teachers.c.qualification_category,
    teachers.c.experience_years,
    teachers.c.birth_year,
    teachers.c.version,
    teachers.c.created_at,
    teachers.c.updated_at,
    teachers.c.depersonalised_at,
)


class TeacherRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    def _base(self, principal: Principal) -> Select[Any]:
        return select(*TEACHER_COLUMNS).where(teacher_scope_clause(principal))

    async def get(self, principal: Principal, teacher_id: uuid.UUID) -> dict[str, Any] | None:
        r = (await self.s.execute(self._base(principal).where(teachers.c.id == teacher_id))).first()
        return dict(r._mapping) if r else None

    async def get_by_external_id(self, principal: Principal, external_id: str) -> dict[str, Any] | None:
        q = self._base(principal).where(teachers.c.external_id == external_id)
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def search(
        self,
        principal: Principal,
        *,
        municipality: str | None,
        organisation: str | None,
        subject: str | None,
        q: str | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        stmt = self._base(principal)
        if municipality:
            stmt = stmt.where(teachers.c.municipality_code == municipality)
        if organisation:
            stmt = stmt.where(teachers.c.organisation_code == organisation)
        if subject:
            stmt = stmt.where(teachers.c.subjects.contains([subject]))
        if q:
            needle = normalize_name(q).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(teachers.c.search_name.like(f"%{needle}%", escape="\\"))
        if after is not None:
            stmt = stmt.where(tuple_(teachers.c.search_name, teachers.c.id) > tuple_(after[0], uuid.UUID(after[1])))
        stmt = stmt.add_columns(teachers.c.search_name).order_by(teachers.c.search_name, teachers.c.id).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(stmt)]

    async def insert(self, values: dict[str, Any]) -> dict[str, Any]:
        stmt = pg_insert(teachers).values(**values).returning(*TEACHER_COLUMNS)
        return dict((await self.s.execute(stmt)).one()._mapping)

    async def external_id_exists(self, external_id: str) -> bool:
        q = select(func.count()).select_from(teachers).where(teachers.c.external_id == external_id)
        return bool((await self.s.execute(q)).scalar_one())

    async def update(
        self, teacher_id: uuid.UUID, values: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any] | None:
        """Conditional update: None when the row changed since `expected_version`."""
        cond = [teachers.c.id == teacher_id]
        if expected_version is not None:
            cond.append(teachers.c.version == expected_version)
        stmt = (
            update(teachers)
            .where(*cond)
            .values(**values, version=teachers.c.version + 1, updated_at=func.now())
            .returning(*TEACHER_COLUMNS)
        )
        r = (await self.s.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def placements(self, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Where each already registered teacher among `external_ids` is (locked until the transaction ends)."""
        q = (
            select(
                teachers.c.external_id,
                teachers.c.id,
                teachers.c.region,
                teachers.c.municipality_code,
                teachers.c.organisation_code,
            )
            .where(teachers.c.external_id.in_(list(external_ids)))
            .with_for_update()
        )
        return {r.external_id: dict(r._mapping) for r in await self.s.execute(q)}

    async def bulk_upsert(self, rows: list[dict[str, Any]]) -> tuple[int, int]:
        """Upsert rows by external id; return (inserted, updated). Unchanged rows are left alone."""
        inserted = updated = 0
        # asyncpg allows 32,767 bind parameters a statement: 2,000 rows x 12 columns fits.
        for start in range(0, len(rows), 2000):
            i, u = await self._upsert_chunk(rows[start : start + 2000])
            inserted, updated = inserted + i, updated + u
        return inserted, updated

    async def _upsert_chunk(self, rows: list[dict[str, Any]]) -> tuple[int, int]:
        ins = pg_insert(teachers).values(rows)
        ex = ins.excluded
        changed = or_(
            teachers.c.full_name.is_distinct_from(ex.full_name),
            teachers.c.municipality_code.is_distinct_from(ex.municipality_code),
            teachers.c.organisation_code.is_distinct_from(ex.organisation_code),
            teachers.c.position.is_distinct_from(ex.position),
            teachers.c.subjects.is_distinct_from(ex.subjects),
            teachers.c.qualification_category.is_distinct_from(ex.qualification_category),
            teachers.c.experience_years.is_distinct_from(ex.experience_years),
            # A row without a birth year keeps the one the registry holds.
            teachers.c.birth_year.is_distinct_from(func.coalesce(ex.birth_year, teachers.c.birth_year)),
        )
        stmt = ins.on_conflict_do_update(
            index_elements=[teachers.c.external_id],
            set_={
                "full_name": ex.full_name,
                "search_name": ex.search_name,
                "region": ex.region,
                "municipality_code": ex.municipality_code,
                "organisation_code": ex.organisation_code,
                "position": ex.position,
                "subjects": ex.subjects,
                "qualification_category": ex.qualification_category,
                "experience_years": ex.experience_years,
                "birth_year": func.coalesce(ex.birth_year, teachers.c.birth_year),
                "version": teachers.c.version + 1,
                "updated_at": func.now(),
            },
            where=changed,
        ).returning(teachers.c.version)
        versions = [r.version for r in await self.s.execute(stmt)]
        inserted = sum(1 for v in versions if v == 1)
        return inserted, len(versions) - inserted
