"""Depersonalising a teacher (152-FZ): the registry row, the feed that tells the routes service, the log."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import PreconditionFailed
from kit.pagination import decode_cursor, encode_cursor, key_int
from kit.versioning import parse_if_match
from services.assessment.repositories.personal_data import PersonalDataRepository
from services.assessment.service.teachers import STALE_TEACHER_DETAIL, get_teacher

DEPERSONALISED = "depersonalised"


async def depersonalise_teacher(
    session: AsyncSession, principal: Principal, teacher_id: uuid.UUID, if_match: str | None
) -> dict[str, Any]:
    """Remove the teacher's name and portal id everywhere; If-Match is optional (412 when it names an older version).

    The registry keeps the opaque id, placement and aggregates, results keep their scores. Every result
    of the teacher goes on the change feed again, so the routes service drops the name from its routes
    (and the next monthly export has none). Repeating it changes nothing more and is logged again."""
    current = await get_teacher(session, principal, teacher_id)
    repo = PersonalDataRepository(session)
    row = await repo.depersonalise(teacher_id, parse_if_match(if_match))
    if row is None:
        raise PreconditionFailed(STALE_TEACHER_DETAIL, code="stale-version")
    await repo.announce(teacher_id)
    await repo.log(principal, DEPERSONALISED, teacher_id, str(current["region"]))
    return row


async def personal_data_log(
    session: AsyncSession, principal: Principal, teacher_id: uuid.UUID | None, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A page of the log in the caller's region, newest first."""
    after = decode_cursor(cursor, [key_int])
    rows = await PersonalDataRepository(session).entries(principal, teacher_id, after[0] if after else None, limit + 1)
    next_cursor = encode_cursor([rows[limit - 1]["id"]]) if len(rows) > limit else None
    return {"items": rows[:limit], "next_cursor": next_cursor}
