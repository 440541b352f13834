"""Mentors and the methodological active: register, read, change, (de)activate, history, import."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from kit.pagination import MAX_LIMIT
from kit.versioning import etag
from services.resources.api.import_media import IMPORT_MEDIA
from services.resources.auth import MentorImporter, MentorKeeper
from services.resources.deps import Settings
from services.resources.imports import MENTOR_COLUMNS
from services.resources.schemas import (
    ImportResult,
    MembershipCreate,
    MembershipRead,
    MentorCreate,
    MentorPage,
    MentorRead,
    MentorUpdate,
)
from services.resources.service import imports
from services.resources.service import mentors as service
from services.resources.vocab import MembershipAction, MentorRole, MentorStatus, Mode, Subject

router = APIRouter(prefix="/api/v1/mentors", tags=["mentors"], responses=problem_responses(401, 403, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MentorRead,
    summary="Register a teacher as a mentor or methodist",
    responses=problem_responses(409),
)
async def create_mentor(
    body: MentorCreate, principal: MentorKeeper, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.create_mentor(session, principal, body)
    response.headers["ETag"] = etag(row["version"])
    response.headers["Location"] = f"/api/v1/mentors/{row['id']}"
    return row


@router.get("", response_model=MentorPage, summary="List mentors and methodists (keyset pages by municipality)")
async def list_mentors(
    principal: CurrentPrincipal,
    session: DbSession,
    municipality: str | None = Query(default=None, max_length=32),
    subject: Subject | None = None,
    competency: str | None = Query(default=None, max_length=32),
    mode: Mode | None = None,
    role: MentorRole | None = None,
    has_free: bool = Query(default=False, description="Only mentors with free slots"),
    status_: Literal["active", "inactive", "all"] = Query(default="active", alias="status"),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    filters = {
        "municipality": municipality,
        "subject": subject,
        "competency": competency,
        "mode": mode,
        "role": role,
        "has_free": has_free,
        "status": status_,
    }
    return await service.list_mentors(session, principal, filters, cursor=cursor, limit=limit)


@router.get(
    "/by-teacher/{teacher_id}",
    response_model=MentorRead,
    summary="Find the mentor record of a teacher",
    responses=problem_responses(404),
)
async def get_mentor_by_teacher(
    teacher_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.get_mentor_by_teacher(session, principal, teacher_id)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.get("/{mentor_id}", response_model=MentorRead, summary="Read a mentor", responses=problem_responses(404))
async def get_mentor(
    mentor_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.get_mentor(session, principal, mentor_id)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.patch(
    "/{mentor_id}",
    response_model=MentorRead,
    summary="Change a mentor (If-Match required; capacity never below the current load)",
    responses=problem_responses(404, 409, 412, 428),
)
async def update_mentor(
    mentor_id: uuid.UUID,
    body: MentorUpdate,
    principal: MentorKeeper,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    row = await service.update_mentor(session, principal, mentor_id, body, if_match)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.post(
    "/{mentor_id}/deactivate",
    response_model=MentorRead,
    summary="Take a mentor out of the active (kept mentees stay; If-Match required)",
    responses=problem_responses(404, 412, 428),
)
async def deactivate_mentor(
    mentor_id: uuid.UUID,
    principal: MentorKeeper,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    row = await service.set_status(
        session, principal, mentor_id, MentorStatus.inactive, MembershipAction.left, if_match
    )
    response.headers["ETag"] = etag(row["version"])
    return row


@router.post(
    "/{mentor_id}/activate",
    response_model=MentorRead,
    summary="Bring a mentor back into the active (If-Match required)",
    responses=problem_responses(404, 412, 428),
)
async def activate_mentor(
    mentor_id: uuid.UUID,
    principal: MentorKeeper,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    row = await service.set_status(
        session, principal, mentor_id, MentorStatus.active, MembershipAction.returned, if_match
    )
    response.headers["ETag"] = etag(row["version"])
    return row


@router.get(
    "/{mentor_id}/history",
    response_model=list[MembershipRead],
    summary="Membership history: entered, confirmed, left, returned (by year and assessment)",
    responses=problem_responses(404),
)
async def list_mentor_history(
    mentor_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> list[dict[str, Any]]:
    return await service.list_history(session, principal, mentor_id)


@router.post(
    "/{mentor_id}/history",
    status_code=status.HTTP_201_CREATED,
    response_model=MembershipRead,
    summary="Record a membership event (e.g. confirmed in a year by an assessment)",
    responses=problem_responses(404),
)
async def add_mentor_history(
    mentor_id: uuid.UUID, body: MembershipCreate, principal: MentorKeeper, session: DbSession
) -> dict[str, Any]:
    return await service.add_history(session, principal, mentor_id, body)


@router.post(
    "/import",
    response_model=ImportResult,
    summary="Import mentors from CSV, XLSX or JSON, upserting by teacher_id (Idempotency-Key required)",
    description=(
        "Same formats and guarantees as the resource import. Columns: "
        + ", ".join(MENTOR_COLUMNS)
        + ". New mentors get an `entered` history event (joined_year, joined_assessment). `mode=all` "
        "(default) stores nothing when any row is bad; `mode=partial` stores the good rows."
    ),
    openapi_extra={"requestBody": {"required": True, "content": IMPORT_MEDIA}},
    responses=problem_responses(400, 409, 413, 415),
)
async def import_mentors(
    request: Request,
    principal: MentorImporter,
    session: DbSession,
    settings: Settings,
    mode: Literal["all", "partial"] = Query(default="all"),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    upload = imports.ImportRequest(await request.body(), request.headers.get("content-type"), mode, idempotency_key)
    return await imports.import_mentors(session, principal, settings, upload)
