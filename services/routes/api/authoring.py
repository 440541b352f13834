"""Authoring a route by the regulation (steps 1-3, corrections while it runs), the tutor's control-point results
(step 7) and the teacher's reflection after the audit (step 10)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Header, Response

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from kit.versioning import require_if_match
from services.routes.api.routes import respond
from services.routes.auth import Author, ControlPointChecker, ReflectionWriter
from services.routes.authoring_schemas import (
    ConstructorRead,
    ControlPointResult,
    GoalCreate,
    GoalUpdate,
    ProfessionalProfileUpdate,
    ReflectionUpdate,
    TaskCreate,
)
from services.routes.deps import RouteForChange
from services.routes.schemas import RouteRead
from services.routes.service import authoring, lifecycle, tutoring

router = APIRouter(prefix="/api/v1/routes", tags=["authoring"], responses=problem_responses(401, 403, 422))
WRITE_ERRORS = problem_responses(404, 409, 412, 428)


@router.get(
    "/constructor",
    response_model=ConstructorRead,
    summary="The task constructor and the problem-statement templates, in Russian",
)
async def read_constructor(principal: CurrentPrincipal) -> dict[str, Any]:
    return authoring.constructor()


@router.put(
    "/{route_id}/professional-profile",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Section 2: achievements and the courses of the last three years",
    responses=WRITE_ERRORS,
)
async def write_professional_profile(
    route_id: uuid.UUID,
    body: ProfessionalProfileUpdate,
    change: RouteForChange,  # in scope and current first (404, 428, 412), then the role (403)
    principal: Author,
    response: Response,
) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    return respond(await authoring.write_profile(change, principal, body, today), principal, response)


@router.post(
    "/{route_id}/goals",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Add a goal (the problem of the period)",
    responses=WRITE_ERRORS,
)
async def add_goal(
    route_id: uuid.UUID, body: GoalCreate, change: RouteForChange, principal: Author, response: Response
) -> dict[str, Any]:
    return respond(await authoring.add_goal(change, principal, body), principal, response)


@router.patch(
    "/{route_id}/goals/{goal_id}",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Change a goal's problem or direction (a goal from a deficit with a reason)",
    responses=WRITE_ERRORS,
)
async def update_goal(
    route_id: uuid.UUID,
    goal_id: str,
    body: GoalUpdate,
    change: RouteForChange,
    principal: Author,
    response: Response,
) -> dict[str, Any]:
    return respond(await authoring.update_goal(change, principal, goal_id, body), principal, response)


@router.delete(
    "/{route_id}/goals/{goal_id}",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Remove a goal with its tasks",
    responses=WRITE_ERRORS,
)
async def remove_goal(
    route_id: uuid.UUID, goal_id: str, change: RouteForChange, principal: Author, response: Response
) -> dict[str, Any]:
    return respond(await authoring.remove_goal(change, principal, goal_id), principal, response)


@router.post(
    "/{route_id}/goals/{goal_id}/tasks",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Add a task to a goal: from one row of the constructor, or written freely",
    responses=WRITE_ERRORS,
)
async def add_task(
    route_id: uuid.UUID,
    goal_id: str,
    body: TaskCreate,
    change: RouteForChange,
    principal: Author,
    response: Response,
) -> dict[str, Any]:
    return respond(await authoring.add_task(change, principal, goal_id, body), principal, response)


@router.delete(
    "/{route_id}/tasks/{task_id}",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Remove a task with its control points",
    responses=WRITE_ERRORS,
)
async def remove_task(
    route_id: uuid.UUID, task_id: str, change: RouteForChange, principal: Author, response: Response
) -> dict[str, Any]:
    return respond(await authoring.remove_task(change, principal, task_id), principal, response)


@router.put(
    "/{route_id}/reflection",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="The teacher's reflection on the products, after the audit (section 7)",
    responses=WRITE_ERRORS,
)
async def write_reflection(
    route_id: uuid.UUID, body: ReflectionUpdate, change: RouteForChange, principal: ReflectionWriter, response: Response
) -> dict[str, Any]:
    return respond(await lifecycle.write_reflection(change, principal, body), principal, response)


@router.post(
    "/{route_id}/control-points",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Record the result of a control point (the tutor or the school)",
    responses=WRITE_ERRORS,
)
async def record_control_point(
    route_id: uuid.UUID,
    body: ControlPointResult,
    principal: ControlPointChecker,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None, description="The ETag you read (428 without, 412 when stale)"),
) -> dict[str, Any]:
    expected = require_if_match(if_match)
    row = await tutoring.record_control_point(session, principal, route_id, expected, body)
    return respond(row, principal, response)
