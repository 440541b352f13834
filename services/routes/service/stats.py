"""Route statistics in scope: the KPI counts (the audit service's /kpi), and the school's workspace for the
school deputy (routes by status and group, overdue control points, the tutors' load)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.routes.stats_repository import StatsRepository


async def stats(
    session: AsyncSession,
    principal: Principal,
    *,
    municipality: str | None,
    organisation: str | None,
    date_from: date | None,
    date_to: date | None,
) -> dict[str, Any]:
    repo = StatsRepository(session)
    base = repo.where(principal, municipality, organisation)
    return {
        **(await repo.counts(base, date_from, date_to)),
        "by_status_and_group": await repo.by_status_and_group(base),
        **(await repo.overdue(base, datetime.now(UTC).date())),
        "tutors": await repo.tutors(base),
    }
