"""Personal data (152-FZ): depersonalise a teacher everywhere, and the log of who did it."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Header, Query, Response

from kit.db import DbSession
from kit.errors import problem_responses
from kit.pagination import MAX_LIMIT
from kit.versioning import etag
from services.assessment.auth import Depersonaliser, PersonalDataAuditor
from services.assessment.schemas import PersonalDataLogPage, TeacherRead
from services.assessment.service import personal_data as service

router = APIRouter(prefix="/api/v1", tags=["personal-data"], responses=problem_responses(401, 403, 422))

DEPERSONALISE_DOC = """Administrators only. The registry row loses the name and the portal's external id (an
opaque `depersonalised-…` id takes its place; the teacher's id, placement, subjects and aggregates stay),
results keep their scores without a name. Every result of the teacher is announced on the change feed
again: the routes service then removes the name from the teacher's routes and their print, and the next
monthly export shows none. The operation is recorded in the personal data log (who, when, which teacher
id; no personal values). It cannot be undone; repeating it changes nothing more. `If-Match` is optional."""


@router.post(
    "/teachers/{teacher_id}/depersonalise",
    response_model=TeacherRead,
    summary="Depersonalise a teacher everywhere (152-FZ)",
    description=DEPERSONALISE_DOC,
    responses=problem_responses(404, 412),
)
async def depersonalise_teacher(
    teacher_id: uuid.UUID,
    principal: Depersonaliser,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    row = await service.depersonalise_teacher(session, principal, teacher_id, if_match)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.get(
    "/assessment/personal-data-log",
    response_model=PersonalDataLogPage,
    summary="Read the personal data log of your region (newest first)",
)
async def list_personal_data_log(
    principal: PersonalDataAuditor,
    session: DbSession,
    teacher_id: uuid.UUID | None = None,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    return await service.personal_data_log(session, principal, teacher_id, cursor, limit)
