"""Reserving and releasing the seats of a route's chosen forms in the resources service (services.routes.seats).

Runs inside the request's transaction, with the route locked: a refused reservation raises before anything
is stored (the transaction rolls back), so a full resource leaves the route as it was and nothing reserved.
"""

from __future__ import annotations

from typing import Any

from kit.errors import Conflict
from services.routes.clients import ReservationRefused, Reservations, SeatsFull
from services.routes.seats import offered_with, seat_changes


def _full(content: dict[str, Any], resource_id: str, e: SeatsFull) -> Conflict:
    """409 with the alternatives: the task's other offered forms (choosable now) first."""
    offered = offered_with(content, resource_id)
    alternatives = [{**a.model_dump(mode="json"), "offered": a.resource_id in offered} for a in e.alternatives]
    alternatives.sort(key=lambda a: not a["offered"])
    return Conflict(
        "На выбранную форму не осталось свободных мест; выберите другую форму",
        code="capacity-exhausted",
        extra={"alternatives": alternatives},
    )


async def reserve_chosen(seats: Reservations, row: dict[str, Any], content: dict[str, Any]) -> list[str]:
    """Reserve the seats `content` newly chooses (409 when one cannot be had); return those to release once
    the new content is stored."""
    to_reserve, to_release = seat_changes(row["content"], content)
    route_id, teacher_id, region = str(row["id"]), str(row["teacher_id"]), row["region"]
    for resource_id in to_reserve:
        try:
            await seats.reserve_seat(route_id, teacher_id, resource_id, region)
        except SeatsFull as e:
            raise _full(content, resource_id, e) from None
        except ReservationRefused as e:
            raise Conflict(
                e.detail or "Сервис ресурсов не может забронировать место на выбранной форме",
                code=e.code or "reservation-refused",
            ) from None
    return to_release


async def release(seats: Reservations, row: dict[str, Any], resource_ids: list[str]) -> None:
    for resource_id in resource_ids:
        await seats.release_seat(str(row["id"]), resource_id, row["region"])


async def release_all(seats: Reservations, row: dict[str, Any]) -> None:
    """Give back every seat the route holds (its end or archiving)."""
    await release(seats, row, await seats.held_seats(str(row["id"]), row["region"]))
