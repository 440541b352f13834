"""The events webhooks carry, and their emission: each a row of the outbox (`webhook_events`) written in the
transaction of what happened, so an event exists exactly when its change was committed.

Payloads carry ids, codes and statuses, never names. An event's territory (region, municipality, school)
decides which subscriptions receive it (services.routes.webhooks.repository.fan_out); an event that no active
subscription would receive is not written at all (`_listened`): generating a region's routes with nobody
subscribed costs no outbox rows, no fan-out. Ids of events that
could be emitted twice (a route generated again, a control point checked every few minutes, an export
rewritten with the same bytes) derive from what they are about, so a repeat is dropped."""

from __future__ import annotations

import enum
import uuid
from typing import Any

import orjson
from sqlalchemy import text

from kit.auth import Principal


class EventType(enum.StrEnum):
    route_generated = "route.generated"
    route_status_changed = "route.status_changed"
    route_returned_for_correction = "route.returned_for_correction"
    route_control_point_due = "route.control_point_due"
    audit_completed = "audit.completed"
    export_ready = "export.ready"


# What each event means, for the subscription form (Russian: people read it).
EVENT_LABELS: dict[EventType, str] = {
    EventType.route_generated: "маршрут сформирован",
    EventType.route_status_changed: "статус маршрута изменён",
    EventType.route_returned_for_correction: "маршрут возвращён на доработку",
    EventType.route_control_point_due: "приближается контрольная точка маршрута",
    EventType.audit_completed: "аудит маршрута завершён",
    EventType.export_ready: "ежемесячная выгрузка готова",
}
# Exports belong to a municipality or the region: a school's subscription never receives them.
NOT_FOR_SCHOOLS = frozenset({EventType.export_ready})
RETURN_ACTION = "return_for_correction"
EVENT_NAMESPACE = uuid.UUID("0b7e4d5c-2f3a-4e61-9a8b-5c6d7e8f9a01")


def receives(etype: str, region: str, municipality: str, organisation: str) -> str:
    """SQL: subscription `s` receives an event of type `etype` over this territory (each argument an SQL
    expression): it is active, takes the type, and its territory contains the event's. The one rule, for
    writing an event (`_listened`) and for the fan-out."""
    return (
        f"s.active AND {etype} = ANY(s.events) AND (s.region IS NULL OR s.region = {region}) "
        f"AND (s.municipality IS NULL OR s.municipality = {municipality}) "
        f"AND (s.organisation IS NULL OR s.organisation = {organisation})"
    )


def _listened(etype: str, region: str, municipality: str, organisation: str) -> str:
    """SQL: some subscription receives the event (see `receives`)."""
    subscribed = receives(etype, region, municipality, organisation)
    return f"EXISTS (SELECT 1 FROM routes.webhook_subscriptions s WHERE {subscribed})"


_INSERT = text(
    "INSERT INTO routes.webhook_events (id, type, region, municipality, organisation, payload) "
    "SELECT v.* FROM (VALUES (CAST(:id AS uuid), CAST(:type AS text), CAST(:region AS text), "
    "CAST(:municipality AS text), CAST(:organisation AS text), CAST(:payload AS jsonb))) "
    "AS v(id, type, region, municipality, organisation, payload) WHERE "
    + _listened("v.type", "v.region", "v.municipality", "v.organisation")
    + " ON CONFLICT (id) DO NOTHING"
)


def _route_ids(route: dict[str, Any]) -> dict[str, Any]:
    return {
        "route_id": str(route["id"]),
        "teacher_id": str(route["teacher_id"]),
        "region": route["region"],
        "municipality": route["municipality"],
        "organisation": route["organisation"],
    }


async def _emit(
    conn: Any, etype: EventType, route: dict[str, Any], data: dict[str, Any], key: str | None = None
) -> None:
    event_id = uuid.uuid5(EVENT_NAMESPACE, f"{etype}/{key}") if key else uuid.uuid4()
    await conn.execute(
        _INSERT,
        {
            "id": event_id,
            "type": etype.value,
            "region": route["region"],
            "municipality": route["municipality"],
            "organisation": route["organisation"],
            "payload": orjson.dumps({**_route_ids(route), **data}).decode(),
        },
    )


async def status_changed(conn: Any, route: dict[str, Any], action: str, source: str, target: str) -> None:
    """`route.status_changed` (and `route.returned_for_correction` for a return) of a route as updated."""
    data = {"from": source, "to": target, "action": action, "version": route["version"]}
    await _emit(conn, EventType.route_status_changed, route, data)
    if action == RETURN_ACTION:
        await _emit(conn, EventType.route_returned_for_correction, route, data)


async def audit_completed(conn: Any, route: dict[str, Any], principal: Principal) -> None:
    """`audit.completed` of a route the audit service has just marked audited (once per audit)."""
    data = {"audit_id": str(route["audit_id"]), "total": route["audit_total"], "status": route["status"]}
    await _emit(conn, EventType.audit_completed, route, data, key=f"{route['id']}/{route['audit_id']}")


_GENERATED = text(
    "INSERT INTO routes.webhook_events (id, type, region, municipality, organisation, payload) "
    "SELECT md5('route.generated/' || r.id::text)::uuid, 'route.generated', r.region, r.municipality, "
    "r.organisation, jsonb_build_object('route_id', r.id, 'teacher_id', r.teacher_id, 'region', r.region, "
    "'municipality', r.municipality, 'organisation', r.organisation, 'status', r.status, 'group', r.grp, "
    "'period_key', r.period_key) "
    "FROM routes.routes r WHERE r.id = ANY(CAST(:ids AS uuid[])) AND "
    + _listened("'route.generated'", "r.region", "r.municipality", "r.organisation")
    + " ON CONFLICT (id) DO NOTHING"
)


async def routes_generated(conn: Any, route_ids: list[Any]) -> None:
    """`route.generated` of routes just inserted (one statement for a whole feed page)."""
    if route_ids:
        await conn.execute(_GENERATED, {"ids": [str(i) for i in route_ids]})


_EXPORTS = text(
    "INSERT INTO routes.webhook_events (id, type, region, municipality, organisation, payload) "
    "SELECT md5('export.ready/' || e.id::text || '/' || e.sha256)::uuid, 'export.ready', e.region, "
    "NULLIF(e.municipality, ''), NULL, jsonb_build_object('export_id', e.id, 'month', e.month, "
    "'region', e.region, 'municipality', NULLIF(e.municipality, ''), 'format', e.format, 'rows', e.rows, "
    "'sha256', e.sha256) "
    "FROM routes.exports e WHERE e.month = :month AND "
    + _listened("'export.ready'", "e.region", "NULLIF(e.municipality, '')", "NULL")
    + " ON CONFLICT (id) DO NOTHING"
)


async def exports_ready(conn: Any, month: str) -> None:
    """`export.ready` of every file recorded for the month (a file rewritten with the same bytes: no repeat)."""
    await conn.execute(_EXPORTS, {"month": month})


_CONTROL = text(
    "INSERT INTO routes.webhook_events (id, type, region, municipality, organisation, payload) "
    "SELECT md5('route.control_point_due/' || r.id::text || '/' || r.next_control_on::text)::uuid, "
    "'route.control_point_due', r.region, r.municipality, r.organisation, jsonb_build_object('route_id', r.id, "
    "'teacher_id', r.teacher_id, 'region', r.region, 'municipality', r.municipality, 'organisation', "
    "r.organisation, 'status', r.status, 'control_on', r.next_control_on, "
    "'days_left', r.next_control_on - CURRENT_DATE) "
    "FROM routes.routes r WHERE r.status = ANY(CAST(:statuses AS text[])) "
    "AND r.next_control_on BETWEEN CURRENT_DATE AND CURRENT_DATE + CAST(:days AS integer) AND "
    + _listened("'route.control_point_due'", "r.region", "r.municipality", "r.organisation")
    + " ON CONFLICT (id) DO NOTHING"
)


async def control_points_due(conn: Any, statuses: list[str], days: int) -> int:
    """`route.control_point_due` of running routes whose next control point is at most `days` away (once each)."""
    result = await conn.execute(_CONTROL, {"statuses": statuses, "days": days})
    return int(result.rowcount or 0)
