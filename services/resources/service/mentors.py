"""Mentors and the methodological active: register, read, change, (de)activate, history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from kit.pagination import decode_cursor, encode_cursor, key_id, key_text
from kit.versioning import ensure_current, require_if_match
from services.resources.active_repository import ActiveRepository
from services.resources.repository import MentorRepository
from services.resources.schemas import MembershipCreate, MentorCreate, MentorUpdate
from services.resources.service.regions import write_region
from services.resources.vocab import MembershipAction, MentorStatus

STALE_MENTOR_DETAIL = (
    "Данные наставника изменились с тех пор, как вы их прочитали: прочитайте их заново и повторите изменение"
)


def this_year() -> int:
    return datetime.now(UTC).year


def ensure_keeps_municipality(principal: Principal, municipality: str) -> None:
    """Regional staff keep the whole active; a municipal service keeps its own municipality's (403 otherwise).

    The role itself is checked by `auth.MentorKeeper`.
    """
    if principal.is_regional or principal.municipality == municipality:
        return
    raise Forbidden("Наставников другого муниципалитета ведёт его муниципальная служба", code="out-of-scope")


async def create_mentor(session: AsyncSession, principal: Principal, body: MentorCreate) -> dict[str, Any]:
    region = write_region(principal)
    ensure_keeps_municipality(principal, body.municipality)
    repo = MentorRepository(session)
    if await repo.teacher_registered(region, body.teacher_id):
        raise Conflict("Этот педагог уже включён в методический актив", code="mentor-exists")
    values = body.model_dump()
    values["subjects"] = [str(s) for s in values["subjects"]]
    # A mentor is a member of the methodological active (one list): the teacher's member, made one if needed.
    member_id = await ActiveRepository(session).member_for_mentor(
        region, body.teacher_id, body.municipality, values["subjects"], principal.sub
    )
    row = await repo.insert({**values, "region": region, "member_id": member_id})
    await repo.add_membership(
        {
            "mentor_id": row["id"],
            "year": body.joined_year or this_year(),
            "action": MembershipAction.entered.value,
            "assessment": body.joined_assessment,
            "recorded_by": principal.sub,
        }
    )
    return row


async def list_mentors(
    session: AsyncSession, principal: Principal, filters: dict[str, Any], *, cursor: str | None, limit: int
) -> dict[str, Any]:
    after = decode_cursor(cursor, [key_text, key_id])
    rows = await MentorRepository(session).page(principal.region, filters=filters, after=after, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["municipality"], str(rows[-1]["id"])])
    return {"items": rows, "next_cursor": next_cursor}


async def get_mentor_by_teacher(session: AsyncSession, principal: Principal, teacher_id: uuid.UUID) -> dict[str, Any]:
    row = await MentorRepository(session).get_by_teacher(principal.region, teacher_id)
    if row is None:
        raise NotFound("Наставник не найден", code="mentor-not-found")
    return row


async def get_mentor(session: AsyncSession, principal: Principal, mentor_id: uuid.UUID) -> dict[str, Any]:
    row = await MentorRepository(session).get(principal.region, mentor_id)
    if row is None:
        raise NotFound("Наставник не найден", code="mentor-not-found")
    return row


async def update_mentor(
    session: AsyncSession, principal: Principal, mentor_id: uuid.UUID, body: MentorUpdate, if_match: str | None
) -> dict[str, Any]:
    """Apply a change (If-Match required); capacity never falls below the current load."""
    current = await get_mentor(session, principal, mentor_id)
    ensure_keeps_municipality(principal, current["municipality"])
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "municipality" in changes:
        ensure_keeps_municipality(principal, changes["municipality"])
    if "subjects" in changes:
        changes["subjects"] = [str(s) for s in changes["subjects"]]
    expected = require_if_match(if_match)
    if not changes:
        ensure_current(expected, current["version"], STALE_MENTOR_DETAIL)
        return current
    row = await MentorRepository(session).update(mentor_id, changes, expected)
    if row is None:
        if changes.get("capacity") is not None and changes["capacity"] < current["load"]:
            raise Conflict(
                "Число мест не может быть меньше числа уже закреплённых подопечных", code="capacity-below-load"
            )
        raise PreconditionFailed(STALE_MENTOR_DETAIL, code="stale-version")
    return row


async def set_status(
    session: AsyncSession,
    principal: Principal,
    mentor_id: uuid.UUID,
    to: MentorStatus,
    action: MembershipAction,
    if_match: str | None,
) -> dict[str, Any]:
    """Take a mentor out of the active or bring them back (If-Match required), recorded in the history."""
    repo = MentorRepository(session)
    current = await get_mentor(session, principal, mentor_id)
    ensure_keeps_municipality(principal, current["municipality"])
    expected = require_if_match(if_match)
    if current["status"] == to:
        ensure_current(expected, current["version"], STALE_MENTOR_DETAIL)
        return current
    row = await repo.update(mentor_id, {"status": to.value}, expected)
    if row is None:
        raise PreconditionFailed(STALE_MENTOR_DETAIL, code="stale-version")
    if to == MentorStatus.active:  # mentoring again means a member of the active again (by the role of mentor)
        await ActiveRepository(session).member_for_mentor(
            row["region"], row["teacher_id"], row["municipality"], row["subjects"], principal.sub
        )
    await repo.add_membership(
        {"mentor_id": mentor_id, "year": this_year(), "action": action.value, "recorded_by": principal.sub}
    )
    return row


async def list_history(session: AsyncSession, principal: Principal, mentor_id: uuid.UUID) -> list[dict[str, Any]]:
    await get_mentor(session, principal, mentor_id)
    return await MentorRepository(session).memberships(mentor_id)


async def add_history(
    session: AsyncSession, principal: Principal, mentor_id: uuid.UUID, body: MembershipCreate
) -> dict[str, Any]:
    current = await get_mentor(session, principal, mentor_id)
    ensure_keeps_municipality(principal, current["municipality"])
    return await MentorRepository(session).add_membership(
        {**body.model_dump(mode="json"), "mentor_id": mentor_id, "recorded_by": principal.sub}
    )
