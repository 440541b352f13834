"""Region-wide mentor assignment: a plan, or stored as mentor slots (Idempotency-Key)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

from fastapi import APIRouter, Header, Response

from kit.auth import REGIONAL_ROLES, CurrentPrincipal
from kit.db import DbSession
from kit.errors import Conflict, FieldError, Forbidden, ValidationFailed, problem_responses
from kit.idempotency import IdempotencyGuard, check_key, fingerprint
from kit.jsonutil import dumps
from services.resources.api.common import write_region
from services.resources.assignment import Mentee, MentorSlots, assign, neighbour_map, summary
from services.resources.models import idempotency_keys
from services.resources.repository import MentorRepository, NeighbourRepository, ReservationRepository
from services.resources.schemas import AssignmentRequest, AssignmentResponse

router = APIRouter(prefix="/api/v1/mentors", tags=["mentor-assignments"], responses=problem_responses(401, 403, 422))
ALGORITHM = (
    "min-cost flow (networkx network simplex): weakest groups first, then same municipality, then "
    "neighbouring or online"
)
ALREADY = "already-mentored"


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
    principal: CurrentPrincipal,
    session: DbSession,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    if principal.role not in REGIONAL_ROLES:
        raise Forbidden("region-wide assignment is run by the regional centre", code="role-forbidden")
    region = write_region(principal)
    seen: dict[tuple[uuid.UUID, str], int] = {}
    errors: list[FieldError] = []
    for i, m in enumerate(body.mentees):
        k = (m.teacher_id, m.subject.value)
        if k in seen:
            errors.append(
                FieldError(
                    loc=["body", "mentees", i],
                    code="duplicate-in-batch",
                    message=f"teacher and subject repeat item {seen[k]}",
                    row=i + 1,
                )
            )
        seen.setdefault(k, i)
    if errors:
        raise ValidationFailed("mentees repeat", errors=errors)
    guard = None
    fp = ""
    if body.apply:
        key = check_key(idempotency_key)
        assert key is not None
        fp = fingerprint(body.model_dump_json())
        guard = IdempotencyGuard(
            idempotency_keys, session, key=key, principal=principal.sub, operation="mentor-assignments"
        )
        replayed = await guard.begin(fp)
        if replayed is not None:
            return replayed
    mentor_rows = await MentorRepository(session).active(region, lock=body.apply)
    neighbours = neighbour_map(await NeighbourRepository(session).pairs(region))
    mentored = await ReservationRepository(session).mentored([m.teacher_id for m in body.mentees])
    by_teacher = {str(m.teacher_id): m for m in body.mentees}
    mentees = [
        Mentee(str(m.teacher_id), m.subject.value, m.municipality, m.group, frozenset(m.deficits))
        for m in body.mentees
        if (m.teacher_id, m.subject.value) not in mentored
    ]
    slots = [
        MentorSlots(
            str(r["id"]),
            str(r["teacher_id"]),
            r["municipality"],
            frozenset(r["subjects"]),
            frozenset(r["competencies"]),
            r["mode"],
            r["capacity"] - r["load"],
        )
        for r in mentor_rows
    ]
    # CPU-bound (seconds for a whole region): keep the event loop answering meanwhile.
    result = await asyncio.to_thread(assign, mentees, slots, neighbours)
    mentors_by_id = {str(r["id"]): r for r in mentor_rows}
    assigned: list[dict[str, Any]] = []
    for a in result.assignments:
        mr = mentors_by_id[a.mentor_id]
        assigned.append(
            {
                "teacher_id": a.mentee.teacher_id,
                "subject": a.mentee.subject,
                "group": a.mentee.group,
                "municipality": a.mentee.municipality,
                "mentor_id": a.mentor_id,
                "mentor_teacher_id": mr["teacher_id"],
                "mentor_municipality": mr["municipality"],
                "tier": a.tier,
                "reservation_id": None,
            }
        )
    unserved = [
        {
            "teacher_id": u.mentee.teacher_id,
            "subject": u.mentee.subject,
            "group": u.mentee.group,
            "municipality": u.mentee.municipality,
            "reason": u.reason,
            "message": u.message,
        }
        for u in result.unserved
    ]
    for m in body.mentees:
        if (m.teacher_id, m.subject.value) in mentored:
            unserved.append(
                {
                    "teacher_id": m.teacher_id,
                    "subject": m.subject.value,
                    "group": m.group,
                    "municipality": m.municipality,
                    "reason": ALREADY,
                    "message": "У педагога уже есть наставник по этому предмету",
                }
            )
    if body.apply and assigned:
        rows = [
            {
                "region": region,
                "route_id": None,
                "teacher_id": uuid.UUID(a["teacher_id"]),
                "mentor_id": uuid.UUID(a["mentor_id"]),
                "subject": a["subject"],
                "municipality": a["municipality"],
                "organisation": by_teacher[a["teacher_id"]].organisation,
                "origin": "assignment",
                "created_by": principal.sub,
            }
            for a in assigned
        ]
        stored_rows = await ReservationRepository(session).insert_many(rows)
        ids = {(str(r["teacher_id"]), str(r["mentor_id"])): r["id"] for r in stored_rows}
        for item in assigned:
            item["reservation_id"] = ids.get((item["teacher_id"], item["mentor_id"]))
        mentor_repo = MentorRepository(session)
        for mentor_id, count in Counter(a["mentor_id"] for a in assigned).items():
            if not await mentor_repo.take_slot(uuid.UUID(mentor_id), count):
                raise Conflict("a mentor's load changed during the assignment; retry", code="assignment-race")
    stats = summary(result)
    if any(u["reason"] == ALREADY for u in unserved):
        stats["unserved_by_reason"][ALREADY] = sum(1 for u in unserved if u["reason"] == ALREADY)
    out = AssignmentResponse.model_validate(
        {
            "algorithm": ALGORITHM,
            "applied": body.apply,
            "mentees": len(body.mentees),
            "served": len(assigned),
            "assignments": assigned,
            "unserved": unserved,
            "summary": stats,
        }
    )
    payload = dumps(out.model_dump(mode="json"))
    if guard is not None:
        await guard.store(fp, 200, payload)
    return Response(payload, status_code=200, media_type="application/json")
