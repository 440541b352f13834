"""Region-wide mentor assignment: a plan, or stored as mentor slots (Idempotency-Key)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

from fastapi import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import Conflict, FieldError, ValidationFailed
from kit.idempotency import IdempotencyGuard, check_key, fingerprint
from kit.jsonutil import dumps
from services.resources.assignment import AssignmentResult, Mentee, MentorSlots, assign, summary
from services.resources.models import idempotency_keys
from services.resources.reach import neighbour_map
from services.resources.repository import MentorRepository, NeighbourRepository
from services.resources.reservation_repository import ReservationRepository
from services.resources.schemas import AssignmentRequest, AssignmentResponse, MenteeIn
from services.resources.service.regions import write_region

ALGORITHM = (
    "min-cost flow (networkx network simplex): weakest groups first, then same municipality, then "
    "neighbouring or online"
)
ALREADY = "already-mentored"
ALREADY_TEXT = "У педагога уже есть наставник по этому предмету"


def ensure_unique_mentees(body: AssignmentRequest) -> None:
    """Refuse (422) a batch naming a teacher and subject twice, with every repeat."""
    seen: dict[tuple[uuid.UUID, str], int] = {}
    errors: list[FieldError] = []
    for i, m in enumerate(body.mentees):
        k = (m.teacher_id, m.subject.value)
        if k in seen:
            errors.append(
                FieldError(
                    loc=["body", "mentees", i],
                    code="duplicate-in-batch",
                    message=f"Педагог и предмет повторяют элемент {seen[k]}",
                    row=i + 1,
                )
            )
        seen.setdefault(k, i)
    if errors:
        raise ValidationFailed("Подопечные в запросе повторяются", errors=errors)


async def assign_mentors(
    session: AsyncSession, principal: Principal, body: AssignmentRequest, idempotency_key: str | None
) -> Response:
    """Plan the assignment; with `apply`, store it as mentor reservations (the answer kept for replays)."""
    region = write_region(principal)
    ensure_unique_mentees(body)
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
    mentees = [
        Mentee(str(m.teacher_id), m.subject.value, m.municipality, m.group, frozenset(m.deficits))
        for m in body.mentees
        if (m.teacher_id, m.subject.value) not in mentored
    ]
    # CPU-bound (seconds for a whole region): keep the event loop answering meanwhile.
    result = await asyncio.to_thread(assign, mentees, [_slots(r) for r in mentor_rows], neighbours)
    assigned = _assigned(result, {str(r["id"]): r for r in mentor_rows})
    unserved = _unserved(result) + [_already(m) for m in body.mentees if (m.teacher_id, m.subject.value) in mentored]
    if body.apply and assigned:
        await _store(session, principal, region, body, assigned)
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


def _slots(r: dict[str, Any]) -> MentorSlots:
    return MentorSlots(
        str(r["id"]),
        str(r["teacher_id"]),
        r["municipality"],
        frozenset(r["subjects"]),
        frozenset(r["competencies"]),
        r["mode"],
        r["capacity"] - r["load"],
    )


def _assigned(result: AssignmentResult, mentors_by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for a in result.assignments:
        mr = mentors_by_id[a.mentor_id]
        out.append(
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
    return out


def _unserved(result: AssignmentResult) -> list[dict[str, Any]]:
    return [
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


def _already(m: MenteeIn) -> dict[str, Any]:
    return {
        "teacher_id": m.teacher_id,
        "subject": m.subject.value,
        "group": m.group,
        "municipality": m.municipality,
        "reason": ALREADY,
        "message": ALREADY_TEXT,
    }


async def _store(
    session: AsyncSession, principal: Principal, region: str, body: AssignmentRequest, assigned: list[dict[str, Any]]
) -> None:
    """Each assignment becomes an active mentor reservation without a route; the mentors' load grows."""
    by_teacher = {str(m.teacher_id): m for m in body.mentees}
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
            raise Conflict(
                "Нагрузка наставника изменилась во время распределения; повторите распределение", code="assignment-race"
            )
