"""Queries of the directory: municipalities and organisations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.models import (
    municipalities,
    organisations,
)


class DirectoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def upsert_municipalities(self, rows: Sequence[dict[str, Any]]) -> None:
        stmt = pg_insert(municipalities).values(list(rows))
        stmt = stmt.on_conflict_do_update(
            index_elements=[municipalities.c.code],
            set_={"name": stmt.excluded.name, "updated_at": func.now()},
            # Never moves a municipality to another region (callers refuse that first; this holds under races).
            where=municipalities.c.region == stmt.excluded.region,
        )
        await self.s.execute(stmt)

    async def regions_of_municipalities(self, codes: Sequence[str]) -> dict[str, str]:
        """The region of each existing municipality among `codes`."""
        q = select(municipalities.c.code, municipalities.c.region).where(municipalities.c.code.in_(list(codes)))
        return {r.code: r.region for r in await self.s.execute(q)}

    async def regions_of_organisations(self, codes: Sequence[str]) -> dict[str, str]:
        """The region of each existing organisation among `codes` (locked until the transaction ends)."""
        q = (
            select(organisations.c.code, municipalities.c.region)
            .join(municipalities, municipalities.c.code == organisations.c.municipality_code)
            .where(organisations.c.code.in_(list(codes)))
            .with_for_update(of=organisations)
        )
        return {r.code: r.region for r in await self.s.execute(q)}

    async def list_municipalities(self, region: str | None) -> list[dict[str, Any]]:
        q = select(municipalities.c.code, municipalities.c.name, municipalities.c.region).order_by(
            municipalities.c.code
        )
        if region:
            q = q.where(municipalities.c.region == region)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def upsert_organisations(self, rows: Sequence[dict[str, Any]]) -> None:
        stmt = pg_insert(organisations).values(list(rows))
        stmt = stmt.on_conflict_do_update(
            index_elements=[organisations.c.code],
            set_={
                "name": stmt.excluded.name,
                "municipality_code": stmt.excluded.municipality_code,
                "updated_at": func.now(),
            },
        )
        await self.s.execute(stmt)

    async def list_organisations(
        self, *, region: str | None, municipality: str | None, organisation: str | None
    ) -> list[dict[str, Any]]:
        q = (
            select(
                organisations.c.code,
                organisations.c.name,
                organisations.c.municipality_code.label("municipality"),
            )
            .join(municipalities, municipalities.c.code == organisations.c.municipality_code)
            .order_by(organisations.c.code)
        )
        if region:
            q = q.where(municipalities.c.region == region)
        if municipality:
            q = q.where(organisations.c.municipality_code == municipality)
        if organisation:
            q = q.where(organisations.c.code == organisation)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def organisations_by_code(self, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not codes:
            return {}
        q = (
            select(
                organisations.c.code,
                organisations.c.municipality_code,
                municipalities.c.region,
            )
            .join(municipalities, municipalities.c.code == organisations.c.municipality_code)
            .where(organisations.c.code.in_(list(set(codes))))
        )
        return {r.code: dict(r._mapping) for r in await self.s.execute(q)}
