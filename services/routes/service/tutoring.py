"""The tutor's work on a running route (regulation step 7): the results of its control points."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import Conflict, Forbidden, NotFound
from services.routes.authoring_schemas import ControlPointResult
from services.routes.repository import RouteRepository
from services.routes.service.route_access import load_route, store
from services.routes.tutors import may_check_control_points
from services.routes.workflow import ACTIVE, Status


async def record_control_point(
    session: AsyncSession, principal: Principal, route_id: uuid.UUID, expected: int, body: ControlPointResult
) -> dict[str, Any]:
    """Record whether the result presented at a control point is accepted (the tutor, or the school)."""
    repo = RouteRepository(session)
    row = await load_route(repo, principal, route_id, expected, tutored=True)
    if not may_check_control_points(principal, row):
        raise Forbidden(
            "Результаты контрольных точек отмечает тьютор или заместитель руководителя школы",
            code="role-forbidden",
        )
    if Status(row["status"]) not in ACTIVE:
        raise Conflict(
            "Результаты контрольных точек отмечаются, пока маршрут утверждён или реализуется",
            code="route-not-active",
        )
    content = copy.deepcopy(row["content"])
    on = body.date.isoformat()
    point = next(
        (p for p in content.get("control_points") or [] if p.get("task_id") == body.task_id and p.get("date") == on),
        None,
    )
    if point is None:
        raise NotFound("Такой контрольной точки в маршруте нет", code="control-point-not-found")
    point["result"] = {
        "accepted": body.accepted,
        "comment": body.comment,
        "by": principal.sub,
        "by_role": principal.role.value,
        "at": datetime.now(UTC).isoformat(),
    }
    updated = await store(repo, row["id"], {"content": content}, expected)
    verdict = "результат принят" if body.accepted else "результат не принят"
    comment = f"контрольная точка {on}: {verdict}" + (f"; {body.comment}" if body.comment else "")
    await repo.add_event(row["id"], principal, f"control_point:{body.task_id}", comment=comment)
    return updated
