"""Reservations: a route takes a seat of a resource or a slot of a mentor, and gives it back.

Made for a route the routes service confirms, by that service or staff in scope for the route's
teacher (`auth.Reserver`); idempotent by route + target: reserving again answers the same reservation
(200, not 201) and does not take a second seat (see `service.reservations`).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Query, Response, status

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from kit.pagination import MAX_LIMIT
from services.resources.auth import Reserver
from services.resources.deps import Routes, Settings
from services.resources.schemas import ReservationCreate, ReservationPage, ReservationRead, ReservationRelease
from services.resources.service import reservations as service

router = APIRouter(prefix="/api/v1/reservations", tags=["reservations"], responses=problem_responses(401, 403, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReservationRead,
    summary="Reserve a seat (resource_id) or a mentor slot (mentor_id) for a route; idempotent by route + target",
    description="The route is looked up in the routes service: its teacher, municipality and school scope the "
    "reservation (a body that disagrees is refused with 422); a route you cannot see answers 404. A teacher holds "
    "at most a configured number of active reservations (409 `reservation-limit`); when the routes service "
    "cannot answer, nothing is reserved (503).",
    responses={
        **problem_responses(404, 409, 503),
        200: {"description": "Already reserved for this route: the existing reservation", "model": ReservationRead},
    },
)
async def create_reservation(
    body: ReservationCreate,
    principal: Reserver,
    session: DbSession,
    response: Response,
    routes: Routes,
    settings: Settings,
) -> dict[str, Any]:
    reserved = await service.create_reservation(session, principal, body, routes, settings)
    if reserved.created:
        response.headers["Location"] = f"/api/v1/reservations/{reserved.row['id']}"
    else:
        response.status_code = status.HTTP_200_OK
    return reserved.row


@router.get(
    "",
    response_model=ReservationPage,
    summary="List reservations in your scope (keyset pages)",
    description="With `route_id`: that route's reservations; a route you cannot see answers 404 (the route is "
    "looked up in the routes service, 503 when it cannot answer).",
    responses=problem_responses(404, 503),
)
async def list_reservations(
    principal: CurrentPrincipal,
    session: DbSession,
    routes: Routes,
    route_id: uuid.UUID | None = None,
    teacher_id: uuid.UUID | None = None,
    resource_id: uuid.UUID | None = None,
    mentor_id: uuid.UUID | None = None,
    status_: Literal["active", "released"] | None = Query(default=None, alias="status"),
    origin: Literal["route", "assignment"] | None = None,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    filters = {
        "route_id": route_id,
        "teacher_id": teacher_id,
        "resource_id": resource_id,
        "mentor_id": mentor_id,
        "status": status_,
        "origin": origin,
    }
    return await service.list_reservations(session, principal, filters, routes, cursor=cursor, limit=limit)


@router.get(
    "/{reservation_id}", response_model=ReservationRead, summary="Read a reservation", responses=problem_responses(404)
)
async def get_reservation(reservation_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    return await service.get_reservation(session, principal, reservation_id)


@router.delete(
    "/{reservation_id}",
    response_model=ReservationRead,
    summary="Release a reservation (idempotent: releasing again answers the released reservation)",
    responses=problem_responses(404),
)
async def delete_reservation(reservation_id: uuid.UUID, principal: Reserver, session: DbSession) -> dict[str, Any]:
    return await service.release_by_id(session, principal, reservation_id)


@router.post(
    "/release",
    response_model=ReservationRead,
    summary="Release a route's reservation of a resource or mentor (idempotent)",
    responses=problem_responses(404),
)
async def release_reservation(body: ReservationRelease, principal: Reserver, session: DbSession) -> dict[str, Any]:
    return await service.release_for_route(session, principal, body)
