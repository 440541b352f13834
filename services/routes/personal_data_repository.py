"""Queries of depersonalisation (152-FZ): the routes of teachers and their content versions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.routes.models import route_versions, routes


class PersonalDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def routes_of(self, teacher_ids: Iterable[uuid.UUID]) -> list[dict[str, Any]]:
        """Every route of these teachers (all periods), locked until the transaction ends."""
        q = (
            select(routes.c.id, routes.c.teacher_id, routes.c.teacher_name, routes.c.external_id)
            .add_columns(routes.c.content, routes.c.overrides)
            .where(routes.c.teacher_id.in_(list(teacher_ids)))
            .order_by(routes.c.id)
            .with_for_update()
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def versions_of(self, route_ids: Iterable[uuid.UUID]) -> list[dict[str, Any]]:
        q = (
            select(route_versions.c.route_id, route_versions.c.content_version, route_versions.c.content)
            .where(route_versions.c.route_id.in_(list(route_ids)))
            .order_by(route_versions.c.route_id, route_versions.c.content_version)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def replace_version_content(self, route_id: uuid.UUID, content_version: int, content: Any) -> None:
        await self.s.execute(
            update(route_versions)
            .where(route_versions.c.route_id == route_id, route_versions.c.content_version == content_version)
            .values(content=content)
        )
