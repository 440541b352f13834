"""The teacher registry: create, read, update, list, bulk upsert by external id."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Header, Query, Response, status

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import NotFound, problem_responses
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor, key_id, key_text
from kit.versioning import etag
from services.assessment.auth import RegistryWriter
from services.assessment.repositories.teachers import TeacherRepository
from services.assessment.schemas import BulkResult, TeacherBulk, TeacherCreate, TeacherPage, TeacherRead, TeacherUpdate
from services.assessment.service import teachers as service
from services.assessment.vocab import Subject

router = APIRouter(prefix="/api/v1/teachers", tags=["teachers"], responses=problem_responses(401, 403, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TeacherRead,
    summary="Register a teacher",
    description="An external id registered outside your scope answers 403 like a teacher placed outside it.",
    responses=problem_responses(409),
)
async def create_teacher(
    body: TeacherCreate, principal: RegistryWriter, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.create_teacher(session, principal, body)
    response.headers["ETag"] = etag(row["version"])
    response.headers["Location"] = f"/api/v1/teachers/{row['id']}"
    return row


@router.get("", response_model=TeacherPage, summary="List teachers in your scope (keyset pages, by name)")
async def list_teachers(
    principal: CurrentPrincipal,
    session: DbSession,
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
    subject: Subject | None = None,
    q: str | None = Query(default=None, min_length=1, max_length=100, description="Part of the name, any case"),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    after = decode_cursor(cursor, [key_text, key_id])
    rows = await TeacherRepository(session).search(
        principal,
        municipality=municipality,
        organisation=organisation,
        subject=subject.value if subject else None,
        q=q,
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last["search_name"], str(last["id"])])
    return {"items": rows, "next_cursor": next_cursor}


@router.get(
    "/by-external-id/{external_id}",
    response_model=TeacherRead,
    summary="Find a teacher by the portal's external id",
    responses=problem_responses(404),
)
async def get_teacher_by_external_id(
    external_id: str, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await TeacherRepository(session).get_by_external_id(principal, external_id)
    if row is None:
        raise NotFound("Педагог не найден", code="teacher-not-found")
    response.headers["ETag"] = etag(row["version"])
    return row


@router.get("/{teacher_id}", response_model=TeacherRead, summary="Read a teacher", responses=problem_responses(404))
async def get_teacher(
    teacher_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.get_teacher(session, principal, teacher_id)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.patch(
    "/{teacher_id}",
    response_model=TeacherRead,
    summary="Change a teacher's registry fields (If-Match required)",
    responses=problem_responses(404, 412, 428),
)
async def update_teacher(
    teacher_id: uuid.UUID,
    body: TeacherUpdate,
    principal: RegistryWriter,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None, description="The ETag you read: 428 without, 412 when stale"),
) -> dict[str, Any]:
    row = await service.update_teacher(session, principal, teacher_id, body, if_match)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.post(
    "/bulk",
    response_model=BulkResult,
    summary="Create or update many teachers by external id (all or nothing)",
)
async def bulk_upsert_teachers(body: TeacherBulk, principal: RegistryWriter, session: DbSession) -> BulkResult:
    return await service.bulk_upsert_teachers(session, principal, body)
