"""The queries of route statistics (`GET /routes/stats`): the KPI counts and the school's workspace.

Every count is in the caller's scope (`repository.scope_clause`), optionally narrowed to a municipality and a
school. The school's workspace adds routes by status and support group, overdue control points and the tutors'
load. A control point is overdue when its date has passed on an active route (approved or running), no
result is recorded for it (`result`, see service/tutoring.py) and its task is not done. A tutor is identified
by the teacher id the school named (`tutor.teacher_id`), else by the name written at approval.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from services.routes.models import routes
from services.routes.repository import scope_clause
from services.routes.workflow import ACTIVE, Status

FINISHED = (Status.completed.value, Status.audited.value, Status.archived.value)
RUNNING = sorted(s.value for s in ACTIVE)

# Control points past their date with no result recorded, on routes whose task is not done.
OVERDUE_SQL = """
SELECT count(*) AS points, count(DISTINCT r.id) AS routes FROM routes.routes r,
  LATERAL jsonb_array_elements(coalesce(r.content->'control_points', '[]'::jsonb)) cp
WHERE r.id = ANY(:ids) AND cp->>'date' < :today AND cp->'result' IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements(coalesce(r.content->'sections'->'goals', '[]'::jsonb)) g,
      LATERAL jsonb_array_elements(coalesce(g->'tasks', '[]'::jsonb)) t
    WHERE t->>'id' = cp->>'task_id' AND coalesce((t->>'done')::boolean, false)
  )
"""

# A teacher completed matching courses when their finished route had a chosen course form that is done.
COURSES_SQL = """
SELECT count(DISTINCT r.teacher_id) FROM routes.routes r,
  LATERAL jsonb_array_elements(r.content->'sections'->'goals') g,
  LATERAL jsonb_array_elements(g->'tasks') t,
  LATERAL jsonb_array_elements(t->'forms') f
WHERE r.id = ANY(:ids) AND t->>'chosen_resource_id' = f->>'resource_id'
  AND f->>'kind' = 'course' AND coalesce((t->>'done')::boolean, false)
"""


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    @staticmethod
    def where(principal: Principal, municipality: str | None, organisation: str | None) -> list[Any]:
        conds: list[Any] = [scope_clause(principal)]
        if municipality:
            conds.append(routes.c.municipality == municipality)
        if organisation:
            conds.append(routes.c.organisation == organisation)
        return conds

    async def _ids(self, conds: list[Any]) -> list[Any]:
        return [r.id for r in await self.s.execute(select(routes.c.id).where(*conds))]

    async def counts(self, base: list[Any], date_from: date | None, date_to: date | None) -> dict[str, int]:
        """The KPI counts: teachers with a route, routes created in the period, finished, matching courses."""
        period = list(base)
        if date_from:
            period.append(routes.c.created_at >= date_from)
        if date_to:
            period.append(routes.c.created_at < date_to + timedelta(days=1))
        q = select(
            func.count(func.distinct(routes.c.teacher_id)).filter(*base).label("teachers_with_route"),
            func.count().filter(*period).label("routes_created"),
            func.count().filter(*base, routes.c.status.in_(FINISHED)).label("routes_completed"),
        ).select_from(routes)
        r = (await self.s.execute(q)).one()
        finished = await self._ids([*base, routes.c.status.in_(FINISHED)])
        courses = (await self.s.execute(text(COURSES_SQL), {"ids": finished})).scalar_one()
        return {
            "teachers_with_route": int(r.teachers_with_route or 0),
            "routes_created": int(r.routes_created or 0),
            "routes_completed": int(r.routes_completed or 0),
            "teachers_completed_matching_courses": int(courses or 0),
        }

    async def by_status_and_group(self, base: list[Any]) -> list[dict[str, Any]]:
        q = (
            select(routes.c.status, routes.c.grp.label("group"), func.count().label("routes"))
            .where(*base)
            .group_by(routes.c.status, routes.c.grp)
            .order_by(routes.c.status, routes.c.grp)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]

    async def overdue(self, base: list[Any], today: date) -> dict[str, int]:
        """Overdue control points and the routes that have them (active routes only)."""
        running = await self._ids([*base, routes.c.status.in_(RUNNING)])
        r = (await self.s.execute(text(OVERDUE_SQL), {"ids": running, "today": today.isoformat()})).one()
        return {"overdue_control_points": int(r.points or 0), "routes_with_overdue": int(r.routes or 0)}

    async def tutors(self, base: list[Any]) -> list[dict[str, Any]]:
        """Each tutor's load: the active routes they tutor (most loaded first)."""
        tutor_id = routes.c.tutor["teacher_id"].astext
        name = routes.c.tutor["name"].astext
        key = func.coalesce(tutor_id, name)
        q = (
            select(
                func.max(tutor_id).label("tutor_id"),
                func.max(name).label("name"),
                func.count().label("active_routes"),
            )
            .where(*base, routes.c.status.in_(RUNNING), routes.c.tutor.is_not(None), key.is_not(None))
            .group_by(key)
            .order_by(func.count().desc(), key)
        )
        return [dict(r._mapping) for r in await self.s.execute(q)]
