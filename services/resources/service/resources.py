"""The catalogue: create, read, list, change, archive and restore resources."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import Conflict, FieldError, NotFound, PreconditionFailed, ValidationFailed
from kit.pagination import (
    cursor_key,
    decode_cursor,
    encode_cursor,
    invalid_cursor,
    key_any,
    key_id,
    key_number,
    key_text,
    key_time,
)
from kit.versioning import ensure_current, require_if_match
from services.resources.ownership import ensure_can_edit, local_municipalities, ownership_for_create
from services.resources.repository import ResourceRepository
from services.resources.schemas import ResourceCreate, ResourceUpdate, check_resource
from services.resources.service.regions import write_region
from services.resources.vocab import ResourceStatus

STALE_RESOURCE_DETAIL = "Ресурс изменился с тех пор, как вы его прочитали: прочитайте его заново и повторите изменение"

NULLABLE_FIELDS = frozenset({"event_format", "provider", "hours", "starts_on", "ends_on", "capacity", "url"})


def with_free(row: dict[str, Any]) -> dict[str, Any]:
    """Rows carry capacity - reserved as `free`; null capacity means no limit."""
    if row.get("capacity") is None:
        row["free"] = None
    return row


# the kind of the sort key in a catalogue cursor, by the order it pages in
SORT_KEY_KINDS = {"title": key_text, "newest": key_time, "relevance": key_number}


async def create_resource(session: AsyncSession, principal: Principal, body: ResourceCreate) -> dict[str, Any]:
    region = write_region(principal)
    owner = ownership_for_create(principal, body)
    repo = ResourceRepository(session)
    if body.external_id and await repo.external_id_taken(region, body.external_id):
        raise Conflict("Ресурс с таким кодом уже есть", code="external-id-taken")
    values = body.model_dump(exclude={"owner_teacher_id"})
    values.update(owner)
    values.update(region=region, created_by=principal.sub)
    values["subjects"] = [str(s) for s in values["subjects"]]
    return with_free(await repo.insert(values))


async def list_resources(
    session: AsyncSession,
    principal: Principal,
    filters: dict[str, Any],
    *,
    sort: str,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """A keyset page of the catalogue; relevance without a query sorts by title."""
    after = decode_cursor(cursor, [key_text, key_any, key_id])
    if after is not None and after[0] != sort:
        raise invalid_cursor(detail="Курсор относится к другому порядку сортировки: начните с первой страницы")
    effective_sort = sort if (sort != "relevance" or filters.get("q")) else "title"
    key_after = [cursor_key(SORT_KEY_KINDS[effective_sort], after[1]), after[2]] if after else None
    rows = await ResourceRepository(session).page(
        principal.region, filters=filters, sort=effective_sort, after=key_after, limit=limit + 1
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        key: Any = {"title": last["title"], "newest": last["created_at"].isoformat()}.get(effective_sort)
        if effective_sort == "relevance":
            key = last["rank"]
        next_cursor = encode_cursor([sort, key, str(last["id"])])
    return {"items": [with_free(r) for r in rows], "next_cursor": next_cursor}


async def get_resource(session: AsyncSession, principal: Principal, resource_id: uuid.UUID) -> dict[str, Any]:
    row = await ResourceRepository(session).get(principal.region, resource_id)
    if row is None:
        raise NotFound("Ресурс не найден", code="resource-not-found")
    return with_free(row)


def _changes(principal: Principal, body: ResourceUpdate) -> dict[str, Any]:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k in NULLABLE_FIELDS}
    if "municipalities" in changes and not principal.is_regional:
        changes["municipalities"] = local_municipalities(principal, changes["municipalities"])
    if "subjects" in changes:
        changes["subjects"] = [str(s) for s in changes["subjects"]]
    return changes


async def update_resource(
    session: AsyncSession, principal: Principal, resource_id: uuid.UUID, body: ResourceUpdate, if_match: str | None
) -> dict[str, Any]:
    """Apply a change (If-Match required); capacity never falls below the reserved seats."""
    repo = ResourceRepository(session)
    current = await get_resource(session, principal, resource_id)
    ensure_can_edit(principal, current)
    expected = require_if_match(if_match)
    changes = _changes(principal, body)
    merged = {**current, **changes}
    try:
        check_resource(merged["kind"], merged["event_format"], merged["starts_on"], merged["ends_on"])
    except ValueError as e:
        raise ValidationFailed(str(e), errors=[FieldError(loc=["body"], code="inconsistent", message=str(e))]) from e
    if not changes:
        ensure_current(expected, current["version"], STALE_RESOURCE_DETAIL)
        return current
    row = await repo.update(resource_id, changes, expected)
    if row is None:
        if changes.get("capacity") is not None and changes["capacity"] < current["reserved"]:
            raise Conflict("Число мест не может быть меньше уже забронированных", code="capacity-below-reserved")
        raise PreconditionFailed(STALE_RESOURCE_DETAIL, code="stale-version")
    return with_free(row)


async def set_status(
    session: AsyncSession, principal: Principal, resource_id: uuid.UUID, to: ResourceStatus, if_match: str | None
) -> dict[str, Any]:
    """Archive or restore a resource (If-Match required); the same status again changes nothing."""
    current = await get_resource(session, principal, resource_id)
    ensure_can_edit(principal, current)
    expected = require_if_match(if_match)
    if current["status"] == to:
        ensure_current(expected, current["version"], STALE_RESOURCE_DETAIL)
        return current
    row = await ResourceRepository(session).update(resource_id, {"status": to.value}, expected)
    if row is None:
        raise PreconditionFailed(STALE_RESOURCE_DETAIL, code="stale-version")
    return with_free(row)
