"""The catalogue: create, read, update, archive, list and search resources; bulk import."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from kit.pagination import MAX_LIMIT
from kit.versioning import etag
from services.resources.api.import_media import IMPORT_MEDIA
from services.resources.auth import ResourceAuthor, ResourceImporter
from services.resources.deps import Settings
from services.resources.imports import RESOURCE_COLUMNS
from services.resources.schemas import ImportResult, ResourceCreate, ResourcePage, ResourceRead, ResourceUpdate
from services.resources.service import imports
from services.resources.service import resources as service
from services.resources.vocab import LearningType, Mode, OwnerScope, ResourceKind, ResourceStatus, Subject

router = APIRouter(prefix="/api/v1/resources", tags=["resources"], responses=problem_responses(401, 403, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ResourceRead,
    summary="Add a resource (regional: any; municipal: local ones; teacher: own peer resource)",
    responses=problem_responses(409),
)
async def create_resource(
    body: ResourceCreate, principal: ResourceAuthor, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.create_resource(session, principal, body)
    response.headers["ETag"] = etag(row["version"])
    response.headers["Location"] = f"/api/v1/resources/{row['id']}"
    return row


@router.get("", response_model=ResourcePage, summary="List or search the catalogue (keyset pages)")
async def list_resources(
    principal: CurrentPrincipal,
    session: DbSession,
    q: str | None = Query(default=None, min_length=2, max_length=200, description="Full-text search (Russian)"),
    kind: ResourceKind | None = None,
    subject: Subject | None = None,
    competency: str | None = Query(default=None, max_length=32),
    level: int | None = Query(default=None, ge=1, le=4, description="Suits this group (or all groups)"),
    learning_type: LearningType | None = None,
    mode: Mode | None = None,
    municipality: str | None = Query(default=None, max_length=32, description="Available there (incl. online)"),
    owner_scope: OwnerScope | None = None,
    owner_teacher_id: uuid.UUID | None = None,
    available_from: date | None = None,
    available_to: date | None = None,
    has_free: bool = Query(default=False, description="Only resources with free seats"),
    status_: Literal["active", "archived", "all"] = Query(default="active", alias="status"),
    sort: Literal["title", "newest", "relevance"] = Query(default="title", description="relevance needs q"),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    filters = {
        "q": q,
        "kind": kind,
        "subject": subject,
        "competency": competency,
        "level": level,
        "learning_type": learning_type,
        "mode": mode,
        "municipality": municipality,
        "owner_scope": owner_scope,
        "owner_teacher_id": owner_teacher_id,
        "available_from": available_from,
        "available_to": available_to,
        "has_free": has_free,
        "status": status_,
    }
    return await service.list_resources(session, principal, filters, sort=sort, cursor=cursor, limit=limit)


@router.get("/{resource_id}", response_model=ResourceRead, summary="Read a resource", responses=problem_responses(404))
async def get_resource(
    resource_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await service.get_resource(session, principal, resource_id)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.patch(
    "/{resource_id}",
    response_model=ResourceRead,
    summary="Change a resource (If-Match required; capacity never below the reserved seats)",
    responses=problem_responses(404, 409, 412, 428),
)
async def update_resource(
    resource_id: uuid.UUID,
    body: ResourceUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    row = await service.update_resource(session, principal, resource_id, body, if_match)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.post(
    "/{resource_id}/archive",
    response_model=ResourceRead,
    summary="Archive a resource: it leaves matching; reservations stay (If-Match required)",
    responses=problem_responses(404, 412, 428),
)
async def archive_resource(
    resource_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    row = await service.set_status(session, principal, resource_id, ResourceStatus.archived, if_match)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.post(
    "/{resource_id}/restore",
    response_model=ResourceRead,
    summary="Bring an archived resource back (If-Match required)",
    responses=problem_responses(404, 412, 428),
)
async def restore_resource(
    resource_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    row = await service.set_status(session, principal, resource_id, ResourceStatus.active, if_match)
    response.headers["ETag"] = etag(row["version"])
    return row


@router.post(
    "/import",
    response_model=ImportResult,
    summary="Import resources from CSV, XLSX or JSON, upserting by external_id (Idempotency-Key required)",
    description=(
        "Body: `text/csv` (UTF-8 with or without BOM, or Windows-1251; `;` or `,` separated), an XLSX "
        'workbook (first sheet), or `application/json` (`{"rows": [...]}` or a list of row objects). '
        "Columns: " + ", ".join(RESOURCE_COLUMNS) + " (Russian headers are accepted too). Lists "
        "(competencies, subjects, levels, municipalities) are separated by `,` `;` or `|`. "
        "`mode=all` (default) stores nothing when any row is bad and answers 422 with every bad row; "
        "`mode=partial` stores the good rows and reports the rest in `errors`. Municipal methodologists "
        "import their municipality's local resources only."
    ),
    openapi_extra={"requestBody": {"required": True, "content": IMPORT_MEDIA}},
    responses=problem_responses(400, 409, 413, 415),
)
async def import_resources(
    request: Request,
    principal: ResourceImporter,
    session: DbSession,
    settings: Settings,
    mode: Literal["all", "partial"] = Query(default="all"),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    upload = imports.ImportRequest(await request.body(), request.headers.get("content-type"), mode, idempotency_key)
    return await imports.import_resources(session, principal, settings, upload)
