"""Reservations: a route takes a seat of a resource or a slot of a mentor, and gives it back.

Idempotent by route + target: reserving again answers the same reservation (200, not 201) and
does not take a second seat. Seats are taken with a conditional UPDATE (reserved < capacity), so
concurrent reservations never oversell; a CHECK constraint backs that up.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import and_

from kit.auth import CurrentPrincipal, Principal, Role
from kit.db import DbSession, scope_condition
from kit.errors import Conflict, Forbidden, NotFound, problem_responses
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from services.resources.models import reservations
from services.resources.repository import MentorRepository, ReservationRepository, ResourceRepository
from services.resources.schemas import ReservationCreate, ReservationPage, ReservationRead, ReservationRelease

router = APIRouter(prefix="/api/v1/reservations", tags=["reservations"], responses=problem_responses(401, 403, 422))
V = reservations.c


def reservation_scope(principal: Principal) -> Any:
    """SQL condition matching `Principal.sees` for reservations."""
    return scope_condition(
        principal, region=V.region, municipality=V.municipality, organisation=V.organisation, teacher=V.teacher_id
    )


def sees(principal: Principal, row: dict[str, Any]) -> bool:
    return principal.sees(
        region=row.get("region"),
        municipality=row.get("municipality"),
        organisation=row.get("organisation"),
        teacher_id=str(row["teacher_id"]),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReservationRead,
    summary="Reserve a seat (resource_id) or a mentor slot (mentor_id) for a route; idempotent by route + target",
    responses={
        **problem_responses(404, 409),
        200: {"description": "Already reserved for this route: the existing reservation", "model": ReservationRead},
    },
)
async def create_reservation(
    body: ReservationCreate, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    region = principal.region
    if principal.role == Role.teacher:
        body = body.model_copy(
            update={
                "municipality": principal.municipality or body.municipality,
                "organisation": principal.organisation or body.organisation,
            }
        )
    if not principal.sees(
        region=region, municipality=body.municipality, organisation=body.organisation, teacher_id=str(body.teacher_id)
    ):
        raise Forbidden("you may not reserve for this teacher", code="out-of-scope")
    repo = ReservationRepository(session)
    existing = await repo.active_for(route_id=body.route_id, resource_id=body.resource_id, mentor_id=body.mentor_id)
    if existing is not None:
        if existing["teacher_id"] != body.teacher_id:
            raise Conflict("this route already holds the reservation for another teacher", code="route-mismatch")
        response.status_code = status.HTTP_200_OK
        return existing
    if body.resource_id is not None:
        return await _reserve_seat(body, principal, session, response)
    return await _reserve_mentor(body, principal, session, response)


async def _reserve_seat(
    body: ReservationCreate, principal: Principal, session: Any, response: Response
) -> dict[str, Any]:
    assert body.resource_id is not None
    resource = await ResourceRepository(session).get(principal.region, body.resource_id)
    if resource is None:
        raise NotFound("resource not found", code="resource-not-found")
    if resource["status"] != "active":
        raise Conflict("the resource is archived", code="resource-archived")
    if resource["ends_on"] is not None and resource["ends_on"] < datetime.now(UTC).date():
        raise Conflict("the resource has ended", code="resource-ended")
    repo = ReservationRepository(session)
    row = await repo.insert(_values(body, principal, resource["region"]))
    if row is None:  # a concurrent request for the same route and resource won
        again = await repo.active_for(route_id=body.route_id, resource_id=body.resource_id)
        if again is None:
            raise Conflict("the reservation is being changed concurrently; retry", code="reservation-race")
        response.status_code = status.HTTP_200_OK
        return again
    if not await ResourceRepository(session).take_seat(body.resource_id):
        raise Conflict("no free seats left", code="capacity-exhausted")
    response.headers["Location"] = f"/api/v1/reservations/{row['id']}"
    return row


async def _reserve_mentor(
    body: ReservationCreate, principal: Principal, session: Any, response: Response
) -> dict[str, Any]:
    assert body.mentor_id is not None
    mentor = await MentorRepository(session).get(principal.region, body.mentor_id)
    if mentor is None:
        raise NotFound("mentor not found", code="mentor-not-found")
    if mentor["status"] != "active":
        raise Conflict("the mentor is not in the active", code="mentor-inactive")
    if str(mentor["teacher_id"]) == str(body.teacher_id):
        raise Conflict("a teacher cannot be their own mentor", code="self-mentoring")
    if body.subject is not None and body.subject.value not in mentor["subjects"]:
        raise Conflict("the mentor does not work in this subject", code="subject-mismatch")
    repo = ReservationRepository(session)
    held = await repo.active_for(teacher_id=body.teacher_id, mentor_id=body.mentor_id)
    if held is not None:
        if held["route_id"] is None:  # the region-wide assignment gave this slot; the route takes it over
            attached = await repo.attach_route(held["id"], body.route_id)
            if attached is not None:
                response.status_code = status.HTTP_200_OK
                return attached
        raise Conflict("the teacher already holds a slot of this mentor for another route", code="already-mentored")
    row = await repo.insert(_values(body, principal, mentor["region"]))
    if row is None:
        again = await repo.active_for(route_id=body.route_id, mentor_id=body.mentor_id)
        if again is None:
            raise Conflict("the teacher already holds a slot of this mentor", code="already-mentored")
        response.status_code = status.HTTP_200_OK
        return again
    if not await MentorRepository(session).take_slot(body.mentor_id):
        raise Conflict("the mentor has no free slots", code="capacity-exhausted")
    response.headers["Location"] = f"/api/v1/reservations/{row['id']}"
    return row


def _values(body: ReservationCreate, principal: Principal, region: str) -> dict[str, Any]:
    return {
        "region": region,
        "route_id": body.route_id,
        "teacher_id": body.teacher_id,
        "resource_id": body.resource_id,
        "mentor_id": body.mentor_id,
        "subject": body.subject.value if body.subject else None,
        "municipality": body.municipality,
        "organisation": body.organisation,
        "origin": "route",
        "created_by": principal.sub,
    }


async def _release(row: dict[str, Any], session: Any) -> dict[str, Any]:
    released = await ReservationRepository(session).release(row["id"])
    if released is None:  # already released: nothing to give back
        return row
    if released["resource_id"] is not None:
        await ResourceRepository(session).give_back_seat(released["resource_id"])
    else:
        await MentorRepository(session).give_back_slot(released["mentor_id"])
    return released


@router.get("", response_model=ReservationPage, summary="List reservations in your scope (keyset pages)")
async def list_reservations(
    principal: CurrentPrincipal,
    session: DbSession,
    route_id: uuid.UUID | None = None,
    teacher_id: uuid.UUID | None = None,
    resource_id: uuid.UUID | None = None,
    mentor_id: uuid.UUID | None = None,
    status_: Literal["active", "released"] | None = Query(default=None, alias="status"),
    origin: Literal["route", "assignment"] | None = None,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    after = decode_cursor(cursor, 2)
    filters = {
        "route_id": route_id,
        "teacher_id": teacher_id,
        "resource_id": resource_id,
        "mentor_id": mentor_id,
        "status": status_,
        "origin": origin,
    }
    rows = await ReservationRepository(session).page(
        principal.region, scope=and_(reservation_scope(principal)), filters=filters, after=after, limit=limit + 1
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["created_at"].isoformat(), str(rows[-1]["id"])])
    return {"items": rows, "next_cursor": next_cursor}


@router.get(
    "/{reservation_id}", response_model=ReservationRead, summary="Read a reservation", responses=problem_responses(404)
)
async def get_reservation(reservation_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    row = await ReservationRepository(session).get(principal.region, reservation_id)
    if row is None or not sees(principal, row):
        raise NotFound("reservation not found", code="reservation-not-found")
    return row


@router.delete(
    "/{reservation_id}",
    response_model=ReservationRead,
    summary="Release a reservation (idempotent: releasing again answers the released reservation)",
    responses=problem_responses(404),
)
async def delete_reservation(
    reservation_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> dict[str, Any]:
    row = await ReservationRepository(session).get(principal.region, reservation_id)
    if row is None or not sees(principal, row):
        raise NotFound("reservation not found", code="reservation-not-found")
    return await _release(row, session)


@router.post(
    "/release",
    response_model=ReservationRead,
    summary="Release a route's reservation of a resource or mentor (idempotent)",
    responses=problem_responses(404),
)
async def release_reservation(
    body: ReservationRelease, principal: CurrentPrincipal, session: DbSession
) -> dict[str, Any]:
    row = await ReservationRepository(session).latest_for(
        principal.region, body.route_id, resource_id=body.resource_id, mentor_id=body.mentor_id
    )
    if row is None or not sees(principal, row):
        raise NotFound("reservation not found", code="reservation-not-found")
    return await _release(row, session)
