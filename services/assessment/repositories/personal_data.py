"""Queries of depersonalisation (152-FZ): the registry row, the change feed's announcements, the log."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.assessment.models import personal_data_log, result_changes, results, teachers
from services.assessment.repositories.teachers import TEACHER_COLUMNS

# A depersonalised teacher's external id: opaque, unique, and no longer the portal's id of the person.
OPAQUE_EXTERNAL_ID_PREFIX = "depersonalised-"


def opaque_external_id(teacher_id: uuid.UUID) -> str:
    return f"{OPAQUE_EXTERNAL_ID_PREFIX}{teacher_id.hex}"


class PersonalDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def depersonalise(self, teacher_id: uuid.UUID, expected_version: int | None) -> dict[str, Any] | None:
        """Remove the name and the portal's id (opaque id, placement and aggregates stay); None when stale."""
        cond = [teachers.c.id == teacher_id]
        if expected_version is not None:
            cond.append(teachers.c.version == expected_version)
        stmt = (
            update(teachers)
            .where(*cond)
            .values(
                full_name="",
                search_name="",
                birth_year=None,
                external_id=opaque_external_id(teacher_id),
                depersonalised_at=func.coalesce(teachers.c.depersonalised_at, func.now()),
                version=teachers.c.version + 1,
                updated_at=func.now(),
            )
            .returning(*TEACHER_COLUMNS)
        )
        r = (await self.s.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def announce(self, teacher_id: uuid.UUID) -> int:
        """Put every result of the teacher on the change feed again, so its consumers drop the name too."""
        rows = select(results.c.id, results.c.teacher_id, results.c.campaign_id, results.c.version).where(
            results.c.teacher_id == teacher_id
        )
        stmt = insert(result_changes).from_select(["result_id", "teacher_id", "campaign_id", "result_version"], rows)
        return int((await self.s.execute(stmt)).rowcount or 0)  # type: ignore[attr-defined]

    async def log(self, principal: Principal, action: str, teacher_id: uuid.UUID, region: str) -> dict[str, Any]:
        stmt = (
            insert(personal_data_log)
            .values(
                actor=principal.sub,
                actor_role=principal.role.value,
                action=action,
                teacher_id=teacher_id,
                region=region,
            )
            .returning(*personal_data_log.c)
        )
        return dict((await self.s.execute(stmt)).one()._mapping)

    async def entries(
        self, principal: Principal, teacher_id: uuid.UUID | None, after: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Log entries of the caller's region, newest first."""
        q = select(*personal_data_log.c)
        if principal.region:
            q = q.where(personal_data_log.c.region == principal.region)
        if teacher_id is not None:
            q = q.where(personal_data_log.c.teacher_id == teacher_id)
        if after is not None:
            q = q.where(personal_data_log.c.id < literal(after))
        q = q.order_by(personal_data_log.c.id.desc()).limit(limit)
        return [dict(r._mapping) for r in await self.s.execute(q)]
