"""Webhook subscriptions: create (the secret shown once), list, read, delete, and the delivery log.

A subscription's territory is the caller's own: the region for regional roles, the municipality for a
municipal methodologist, the school for a school admin (services.routes.auth.WebhookKeeper). Outside the
caller's scope a subscription answers 404."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from kit.auth import Principal, Role
from kit.errors import FieldError, NotFound, ValidationFailed
from kit.pagination import decode_cursor, encode_cursor, key_id, key_int, key_time
from services.routes.config import RoutesSettings
from services.routes.webhooks.addresses import RefusedAddress, resolve_checked, url_problem
from services.routes.webhooks.events import EVENT_LABELS, NOT_FOR_SCHOOLS
from services.routes.webhooks.repository import WebhookRepository, keyset
from services.routes.webhooks.schemas import WebhookCreate
from services.routes.webhooks.signing import new_secret

# A name that does not resolve now is accepted (it is checked again at every delivery); this long at most.
RESOLVE_SECONDS = 3.0
NOT_FOUND = "Подписка не найдена"


def _refuse(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(loc=["body", field], code=code, message=message)])


async def _check_url(url: str, allow_private: bool) -> None:
    problem = url_problem(url, allow_private)
    if problem:
        raise _refuse("url", "url-not-allowed", problem)
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        await asyncio.wait_for(resolve_checked(host, port, allow_private), RESOLVE_SECONDS)
    except RefusedAddress:
        raise _refuse(
            "url", "url-not-allowed", "Имя узла указывает на адрес во внутренней сети: доставка туда запрещена"
        ) from None
    except (OSError, TimeoutError):
        pass


def _territory(principal: Principal) -> dict[str, str | None]:
    if principal.role == Role.school_admin:
        return {
            "region": principal.region,
            "municipality": principal.municipality,
            "organisation": principal.organisation,
        }
    if principal.role == Role.municipal_methodologist:
        return {"region": principal.region, "municipality": principal.municipality, "organisation": None}
    return {"region": principal.region, "municipality": None, "organisation": None}


async def create(conn: Any, principal: Principal, settings: RoutesSettings, body: WebhookCreate) -> dict[str, Any]:
    territory = _territory(principal)
    events = list(dict.fromkeys(body.events))
    if territory["organisation"] is not None and NOT_FOR_SCHOOLS & set(events):
        names = ", ".join(f"«{EVENT_LABELS[e]}»" for e in events if e in NOT_FOR_SCHOOLS)
        raise _refuse("events", "event-not-for-schools", f"Школе не отправляются события: {names}")
    await _check_url(body.url, settings.webhooks_allow_private)
    row = await WebhookRepository(conn).insert(
        {
            **territory,
            "url": body.url,
            "events": [e.value for e in events],
            "description": body.description,
            "secret": new_secret(),
            "created_by": principal.sub,
        }
    )
    return row


async def get(conn: Any, principal: Principal, subscription_id: uuid.UUID) -> dict[str, Any]:
    row = await WebhookRepository(conn).get(principal, subscription_id)
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


async def list_subscriptions(conn: Any, principal: Principal, cursor: str | None, limit: int) -> dict[str, Any]:
    after = decode_cursor(cursor, [key_time, key_id])
    key = (datetime.fromisoformat(after[0]), uuid.UUID(after[1])) if after else None
    rows = await WebhookRepository(conn).search(principal, key, limit)
    last = keyset(rows, limit)
    return {
        "items": rows,
        "next_cursor": encode_cursor([last["created_at"].isoformat(), str(last["id"])]) if last else None,
    }


async def delete(conn: Any, principal: Principal, subscription_id: uuid.UUID) -> None:
    if not await WebhookRepository(conn).delete(principal, subscription_id):
        raise NotFound(NOT_FOUND)


async def deliveries(
    conn: Any, principal: Principal, subscription_id: uuid.UUID, cursor: str | None, limit: int
) -> dict[str, Any]:
    await get(conn, principal, subscription_id)
    after = decode_cursor(cursor, [key_int])
    rows = await WebhookRepository(conn).deliveries(subscription_id, after[0] if after else None, limit)
    last = keyset(rows, limit)
    return {"items": rows, "next_cursor": encode_cursor([last["id"]]) if last else None}
