"""Queries of competency frameworks; their scoring view is cached per stored version."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.assessment.models import (
    frameworks,
)
from services.assessment.repositories.scope import visible_region
from services.assessment.scoring import Framework, framework_from_document

# Framework versions never change once stored, so their scoring view is cached by id.
_SCORING_CACHE: dict[uuid.UUID, Framework] = {}
_SCORING_CACHE_MAX = 256


class FrameworkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def create(self, *, region: str | None, code: str, name: str, document: dict[str, Any]) -> dict[str, Any]:
        """Store the next version of framework `code` in `region`."""
        await self.s.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"framework|{region}|{code}"}
        )
        same = and_(
            frameworks.c.code == code,
            frameworks.c.region.is_(None) if region is None else frameworks.c.region == region,
        )
        current = (await self.s.execute(select(func.max(frameworks.c.version)).where(same))).scalar_one()
        stmt = (
            frameworks.insert()
            .values(region=region, code=code, version=(current or 0) + 1, name=name, document=document)
            .returning(*frameworks.c)
        )
        return dict((await self.s.execute(stmt)).one()._mapping)

    async def search(self, principal: Principal, code: str | None) -> list[dict[str, Any]]:
        q = select(
            frameworks.c.id,
            frameworks.c.region,
            frameworks.c.code,
            frameworks.c.version,
            frameworks.c.name,
            frameworks.c.created_at,
            frameworks.c.document,
        ).where(visible_region(frameworks.c.region, principal))
        if code:
            q = q.where(frameworks.c.code == code)
        q = q.order_by(frameworks.c.code, frameworks.c.version)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def get(self, principal: Principal, code: str, version: int | None) -> dict[str, Any] | None:
        q = select(*frameworks.c).where(visible_region(frameworks.c.region, principal), frameworks.c.code == code)
        if version is not None:
            q = q.where(frameworks.c.version == version)
        # A region's own framework wins over a shared one with the same code.
        q = q.order_by(frameworks.c.region.is_(None), frameworks.c.version.desc()).limit(1)
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def scoring(self, framework_id: uuid.UUID) -> Framework:
        """The scoring view of a stored framework version (cached: versions are immutable)."""
        fw = _SCORING_CACHE.get(framework_id)
        if fw is None:
            row = (
                await self.s.execute(
                    select(frameworks.c.document, frameworks.c.version).where(frameworks.c.id == framework_id)
                )
            ).one()
            fw = framework_from_document(row.document, row.version)
            if len(_SCORING_CACHE) >= _SCORING_CACHE_MAX:
                _SCORING_CACHE.clear()
            _SCORING_CACHE[framework_id] = fw
        return fw
