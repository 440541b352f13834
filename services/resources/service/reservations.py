"""Reservations: a route takes a seat of a resource or a slot of a mentor, and gives it back.

Nothing is taken from the body on trust: the route is looked up in the routes service (its teacher,
municipality and school scope the reservation; a body that disagrees is refused), a caller who cannot
see the route gets 404, and a teacher holds at most `max_active_reservations_per_teacher` at once.
Idempotent by route + target: reserving again answers the same reservation (`Reserved.created` is
False: 200, not 201) and does not take a second seat. Seats are taken with a conditional UPDATE
(reserved < capacity), so concurrent reservations never oversell; a CHECK constraint backs that up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.db import scope_condition
from kit.errors import Conflict, FieldError, NotFound, UpstreamUnavailable, ValidationFailed
from kit.pagination import decode_cursor, encode_cursor, key_id, key_time
from services.resources.clients import RouteRef, RoutesClient, Unavailable
from services.resources.config import ResourcesSettings
from services.resources.models import reservations
from services.resources.repository import MentorRepository, ResourceRepository
from services.resources.reservation_repository import ReservationRepository
from services.resources.schemas import ReservationCreate, ReservationRelease

V = reservations.c


@dataclass(frozen=True)
class Reserved:
    """The reservation, and whether this request made it (201) or found it (200)."""

    row: dict[str, Any]
    created: bool


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


async def _route_of(principal: Principal, route_id: uuid.UUID, routes: RoutesClient) -> RouteRef:
    """The route as the routes service has it: absent or out of the caller's scope is 404 (ids cannot be probed)."""
    try:
        route = await routes.route(route_id, principal.region)
    except Unavailable as e:
        raise UpstreamUnavailable(
            "Сервис маршрутов сейчас не может подтвердить маршрут; ничего не изменено, повторите запрос позже",
            code="routes-unavailable",
        ) from e
    if route is None or not principal.sees(
        region=route.region,
        municipality=route.municipality,
        organisation=route.organisation,
        teacher_id=str(route.teacher_id),
    ):
        raise NotFound("Маршрут не найден", code="route-not-found")
    return route


def _mismatches(body: ReservationCreate, route: RouteRef) -> list[FieldError]:
    """Fields of the body that disagree with the route (the route's teacher, municipality and school win)."""
    errors = []
    if body.teacher_id != route.teacher_id:
        errors.append(("teacher_id", "Маршрут принадлежит другому педагогу"))
    if body.municipality is not None and body.municipality != route.municipality:
        errors.append(("municipality", "Педагог этого маршрута работает в другом муниципалитете"))
    if body.organisation is not None and body.organisation != route.organisation:
        errors.append(("organisation", "Педагог этого маршрута работает в другой образовательной организации"))
    return [FieldError(loc=["body", field], code="route-mismatch", message=message) for field, message in errors]


async def create_reservation(
    session: AsyncSession,
    principal: Principal,
    body: ReservationCreate,
    routes: RoutesClient,
    settings: ResourcesSettings,
) -> Reserved:
    """Reserve for a route the routes service confirms, for its teacher, within the caller's scope and the cap."""
    route = await _route_of(principal, body.route_id, routes)
    errors = _mismatches(body, route)
    if errors:
        raise ValidationFailed("Бронирование не соответствует своему маршруту", errors=errors)
    body = body.model_copy(update={"municipality": route.municipality, "organisation": route.organisation})
    repo = ReservationRepository(session)
    existing = await repo.active_for(route_id=body.route_id, resource_id=body.resource_id, mentor_id=body.mentor_id)
    if existing is not None:
        if existing["teacher_id"] != body.teacher_id:
            raise Conflict("По этому маршруту бронирование уже сделано для другого педагога", code="route-mismatch")
        return Reserved(existing, created=False)
    if body.resource_id is not None:
        return await _reserve_seat(session, principal, body, route.region, settings)
    return await _reserve_mentor(session, principal, body, route.region, settings)


async def _check_cap(session: AsyncSession, teacher_id: uuid.UUID, settings: ResourcesSettings) -> None:
    """Refuse (409) a new reservation once the teacher holds the most allowed; serialised per teacher."""
    cap = settings.max_active_reservations_per_teacher
    if await ReservationRepository(session).hold_teacher(teacher_id) >= cap:
        raise Conflict(
            f"У педагога уже предельное число активных бронирований ({cap}); сначала освободите одно из них",
            code="reservation-limit",
        )


async def _reserve_seat(
    session: AsyncSession, principal: Principal, body: ReservationCreate, region: str, settings: ResourcesSettings
) -> Reserved:
    assert body.resource_id is not None
    resource = await ResourceRepository(session).get(region, body.resource_id)
    if resource is None:
        raise NotFound("Ресурс не найден", code="resource-not-found")
    if resource["status"] != "active":
        raise Conflict("Ресурс в архиве", code="resource-archived")
    if resource["ends_on"] is not None and resource["ends_on"] < datetime.now(UTC).date():
        raise Conflict("Ресурс уже завершился", code="resource-ended")
    if resource["capacity"] is not None and resource["reserved"] >= resource["capacity"]:
        await _refuse_full(session, resource, body.municipality)
    await _check_cap(session, body.teacher_id, settings)
    repo = ReservationRepository(session)
    row = await repo.insert(_values(body, principal, resource["region"]))
    if row is None:  # a concurrent request for the same route and resource won
        again = await repo.active_for(route_id=body.route_id, resource_id=body.resource_id)
        if again is None:
            raise Conflict("Бронирование сейчас изменяется другим запросом; повторите попытку", code="reservation-race")
        return Reserved(again, created=False)
    if not await ResourceRepository(session).take_seat(body.resource_id):
        await _refuse_full(session, resource, body.municipality)  # the transaction rolls the insert back
    return Reserved(row, created=True)


async def _refuse_full(session: AsyncSession, resource: dict[str, Any], municipality: str | None) -> None:
    """409 `capacity-exhausted` with `alternatives`: resources with free seats for the same competencies in the
    teacher's municipality (nothing is reserved)."""
    found = await ResourceRepository(session).alternatives_to(resource, municipality, datetime.now(UTC).date())
    alternatives = [
        {
            "resource_id": str(r["id"]),
            "kind": r["kind"],
            "title": r["title"],
            "mode": r["mode"],
            "starts_on": r["starts_on"].isoformat() if r["starts_on"] else None,
            "ends_on": r["ends_on"].isoformat() if r["ends_on"] else None,
            "free": r["free"],
        }
        for r in found
    ]
    detail = "Свободных мест не осталось" + ("; есть другие формы со свободными местами" if alternatives else "")
    raise Conflict(detail, code="capacity-exhausted", extra={"alternatives": alternatives})


def _check_mentor(mentor: dict[str, Any] | None, body: ReservationCreate) -> dict[str, Any]:
    """The mentor, refused when absent (404), inactive, the teacher themselves, or of another subject (409)."""
    if mentor is None:
        raise NotFound("Наставник не найден", code="mentor-not-found")
    if mentor["status"] != "active":
        raise Conflict("Наставник не входит в методический актив", code="mentor-inactive")
    if str(mentor["teacher_id"]) == str(body.teacher_id):
        raise Conflict("Педагог не может быть наставником самому себе", code="self-mentoring")
    if body.subject is not None and body.subject.value not in mentor["subjects"]:
        raise Conflict("Наставник не работает по этому предмету", code="subject-mismatch")
    return mentor


async def _reserve_mentor(
    session: AsyncSession, principal: Principal, body: ReservationCreate, region: str, settings: ResourcesSettings
) -> Reserved:
    assert body.mentor_id is not None
    mentor = _check_mentor(await MentorRepository(session).get(region, body.mentor_id), body)
    repo = ReservationRepository(session)
    held = await repo.active_for(teacher_id=body.teacher_id, mentor_id=body.mentor_id)
    if held is not None:
        if held["route_id"] is None:  # the region-wide assignment gave this slot; the route takes it over
            attached = await repo.attach_route(held["id"], body.route_id)
            if attached is not None:
                return Reserved(attached, created=False)
        raise Conflict("Педагог уже закреплён за этим наставником по другому маршруту", code="already-mentored")
    await _check_cap(session, body.teacher_id, settings)
    row = await repo.insert(_values(body, principal, mentor["region"]))
    if row is None:
        again = await repo.active_for(route_id=body.route_id, mentor_id=body.mentor_id)
        if again is None:
            raise Conflict("Педагог уже закреплён за этим наставником", code="already-mentored")
        return Reserved(again, created=False)
    if not await MentorRepository(session).take_slot(body.mentor_id):
        raise Conflict("У наставника нет свободных мест", code="capacity-exhausted")
    return Reserved(row, created=True)


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


async def _release(session: AsyncSession, row: dict[str, Any]) -> dict[str, Any]:
    released = await ReservationRepository(session).release(row["id"])
    if released is None:  # already released: nothing to give back
        return row
    if released["resource_id"] is not None:
        await ResourceRepository(session).give_back_seat(released["resource_id"])
    else:
        await MentorRepository(session).give_back_slot(released["mentor_id"])
    return released


async def list_reservations(
    session: AsyncSession,
    principal: Principal,
    filters: dict[str, Any],
    routes: RoutesClient,
    *,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """A keyset page of reservations in the caller's scope; asked for one route, the route must be one the
    caller sees in the routes service (404 otherwise, as for any object out of scope)."""
    if filters.get("route_id") is not None:
        await _route_of(principal, filters["route_id"], routes)
    after = decode_cursor(cursor, [key_time, key_id])
    rows = await ReservationRepository(session).page(
        principal.region, scope=and_(reservation_scope(principal)), filters=filters, after=after, limit=limit + 1
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["created_at"].isoformat(), str(rows[-1]["id"])])
    return {"items": rows, "next_cursor": next_cursor}


async def get_reservation(session: AsyncSession, principal: Principal, reservation_id: uuid.UUID) -> dict[str, Any]:
    row = await ReservationRepository(session).get(principal.region, reservation_id)
    if row is None or not sees(principal, row):
        raise NotFound("Бронирование не найдено", code="reservation-not-found")
    return row


async def release_by_id(session: AsyncSession, principal: Principal, reservation_id: uuid.UUID) -> dict[str, Any]:
    """Release a reservation (idempotent: releasing again answers the released reservation)."""
    return await _release(session, await get_reservation(session, principal, reservation_id))


async def release_for_route(session: AsyncSession, principal: Principal, body: ReservationRelease) -> dict[str, Any]:
    """Release a route's reservation of a resource or mentor (idempotent)."""
    row = await ReservationRepository(session).latest_for(
        principal.region, body.route_id, resource_id=body.resource_id, mentor_id=body.mentor_id
    )
    if row is None or not sees(principal, row):
        raise NotFound("Бронирование не найдено", code="reservation-not-found")
    return await _release(session, row)
