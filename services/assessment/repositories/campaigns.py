"""Queries of assessment campaigns and their stored upload batches."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.assessment.intake import (
    Organisation,
)
from services.assessment.models import (
    campaigns,
    frameworks,
    intake_batches,
    municipalities,
    organisations,
)
from services.assessment.repositories.scope import visible_region

CAMPAIGN_COLUMNS = (
    campaigns.c.id,
    campaigns.c.region,
    campaigns.c.name,
    campaigns.c.source,
    campaigns.c.subject,
    campaigns.c.assessed_on,
    campaigns.c.framework_id,
    frameworks.c.code.label("framework_code"),
    frameworks.c.version.label("framework_version"),
    campaigns.c.instrument,
    campaigns.c.status,
    campaigns.c.version,
    campaigns.c.created_at,
    campaigns.c.updated_at,
)


class CampaignRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    def _base(self, principal: Principal) -> Select[Any]:
        return (
            select(*CAMPAIGN_COLUMNS)
            .join(frameworks, frameworks.c.id == campaigns.c.framework_id)
            .where(visible_region(campaigns.c.region, principal))
        )

    async def create(self, values: dict[str, Any]) -> dict[str, Any]:
        cid = (await self.s.execute(campaigns.insert().values(**values).returning(campaigns.c.id))).scalar_one()
        row = (
            await self.s.execute(
                select(*CAMPAIGN_COLUMNS)
                .join(frameworks, frameworks.c.id == campaigns.c.framework_id)
                .where(campaigns.c.id == cid)
            )
        ).one()
        return dict(row._mapping)

    async def get(self, principal: Principal, campaign_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
        q = self._base(principal).where(campaigns.c.id == campaign_id)
        if lock:
            q = q.with_for_update(of=campaigns)
        r = (await self.s.execute(q)).first()
        return dict(r._mapping) if r else None

    async def search(
        self,
        principal: Principal,
        *,
        subject: str | None,
        source: str | None,
        status: str | None,
        year: int | None,
        after: tuple[str, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        q = self._base(principal)
        if subject:
            q = q.where(campaigns.c.subject == subject)
        if source:
            q = q.where(campaigns.c.source == source)
        if status:
            q = q.where(campaigns.c.status == status)
        if year:
            q = q.where(campaigns.c.assessed_on >= date(year, 1, 1), campaigns.c.assessed_on <= date(year, 12, 31))
        if after is not None:
            # Newest first: (assessed_on, id) descending.
            q = q.where(
                tuple_(campaigns.c.assessed_on, campaigns.c.id)
                < tuple_(date.fromisoformat(after[0]), uuid.UUID(after[1]))
            )
        q = q.order_by(campaigns.c.assessed_on.desc(), campaigns.c.id.desc()).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def update(self, campaign_id: uuid.UUID, expected_version: int, values: dict[str, Any]) -> bool:
        """Conditional update on the version; False when the campaign changed meanwhile."""
        stmt = (
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.version == expected_version)
            .values(**values, version=campaigns.c.version + 1, updated_at=func.now())
        )
        return bool((await self.s.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def organisations(self, region: str | None) -> dict[str, Organisation]:
        q = select(organisations.c.code, organisations.c.municipality_code, municipalities.c.region).join(
            municipalities, municipalities.c.code == organisations.c.municipality_code
        )
        if region:
            q = q.where(municipalities.c.region == region)
        return {r.code: Organisation(r.municipality_code, r.region) for r in await self.s.execute(q)}

    async def record_batch(self, values: dict[str, Any]) -> None:
        await self.s.execute(intake_batches.insert().values(**values))

    async def batches(self, campaign_id: uuid.UUID) -> list[dict[str, Any]]:
        q = (
            select(*intake_batches.c)
            .where(intake_batches.c.campaign_id == campaign_id)
            .order_by(intake_batches.c.created_at.desc(), intake_batches.c.id)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]
