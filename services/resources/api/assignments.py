"""Region-wide mentor assignment: a plan, or stored as mentor slots (Idempotency-Key)."""

from __future__ import annotations

from fastapi import APIRouter, Header, Response

from kit.db import DbSession
from kit.errors import problem_responses
from services.resources.auth import RegionalAssigner
from services.resources.schemas import AssignmentRequest, AssignmentResponse
from services.resources.service import assignments as service

router = APIRouter(prefix="/api/v1/mentors", tags=["mentor-assignments"], responses=problem_responses(401, 403, 422))


@router.post(
    "/assignments",
    response_model=AssignmentResponse,
    summary="Assign mentors to many mentees across the region (a plan, or stored with apply=true)",
    description=(
        "Capacity is respected (free slots = capacity - load). The optimum serves as many mentees as "
        "possible, weakest groups first, then prefers the same municipality over a neighbouring one or an "
        "online mentor. Unserved mentees come with a reason: no-mentor-for-subject, no-reachable-mentor "
        "(only in-person mentors in other, non-neighbouring municipalities), capacity-exhausted, or "
        "already-mentored (the teacher already holds a mentor slot in that subject). With apply=true "
        "(Idempotency-Key required) each assignment becomes an active mentor reservation without a route "
        "(a route that later reserves the same mentor for the teacher takes it over)."
    ),
    responses=problem_responses(400, 409),
)
async def assign_mentors(
    body: AssignmentRequest,
    principal: RegionalAssigner,
    session: DbSession,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    return await service.assign_mentors(session, principal, body, idempotency_key)
