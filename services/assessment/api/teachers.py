"""The teacher registry: create, read, update, list, bulk upsert by external id."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Header, Query, Response, status

from kit.auth import CurrentPrincipal, Principal, Role
from kit.db import DbSession
from kit.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
    problem_responses,
)
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from kit.versioning import ensure_current, etag, parse_if_match
from services.assessment.repositories.directory import DirectoryRepository
from services.assessment.repositories.teachers import TeacherRepository
from services.assessment.schemas import BulkResult, TeacherBulk, TeacherCreate, TeacherPage, TeacherRead, TeacherUpdate
from services.assessment.vocab import Subject, normalize_name

router = APIRouter(prefix="/api/v1/teachers", tags=["teachers"], responses=problem_responses(401, 403, 422))

WRITERS = frozenset(
    {Role.regional_specialist, Role.admin, Role.service, Role.municipal_methodologist, Role.school_admin}
)


def ensure_writer(principal: Principal) -> None:
    if principal.role not in WRITERS:
        raise Forbidden("your role may not change the registry", code="role-forbidden")


async def placement(
    session: Any, principal: Principal, organisation: str, municipality: str, *, row: int | None = None
) -> str:
    """Check the organisation exists, belongs to the municipality and is in the writer's scope; return region."""
    orgs = await DirectoryRepository(session).organisations_by_code([organisation])
    return check_placement(orgs, principal, organisation, municipality, row=row)


def check_placement(
    orgs: dict[str, dict[str, Any]], principal: Principal, organisation: str, municipality: str, *, row: int | None
) -> str:
    org = orgs.get(organisation)
    loc: list[str | int] = ["body", "teachers", row - 1] if row else ["body"]
    if org is None or org["municipality_code"] != municipality:
        raise ValidationFailed(
            "unknown organisation or it is not in the given municipality",
            errors=[
                FieldError(
                    loc=[*loc, "organisation"],
                    code="unknown-organisation",
                    message="organisation is unknown or belongs to another municipality",
                    row=row,
                    column="organisation",
                )
            ],
        )
    if not principal.sees(region=org["region"], municipality=municipality, organisation=organisation, teacher_id=None):
        raise Forbidden("the teacher would be outside your scope", code="out-of-scope")
    return str(org["region"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TeacherRead,
    summary="Register a teacher",
    responses=problem_responses(409),
)
async def create_teacher(
    body: TeacherCreate, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    ensure_writer(principal)
    region = await placement(session, principal, body.organisation, body.municipality)
    repo = TeacherRepository(session)
    if await repo.external_id_exists(body.external_id):
        raise Conflict("a teacher with this external id already exists", code="external-id-taken")
    row = await repo.insert(_row_values(body, region))
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
    after = decode_cursor(cursor, 2)
    rows = await TeacherRepository(session).search(
        principal,
        municipality=municipality,
        organisation=organisation,
        subject=subject.value if subject else None,
        q=q,
        after=(str(after[0]), str(after[1])) if after else None,
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
        raise NotFound("teacher not found", code="teacher-not-found")
    response.headers["ETag"] = etag(row["version"])
    return row


@router.get("/{teacher_id}", response_model=TeacherRead, summary="Read a teacher", responses=problem_responses(404))
async def get_teacher(
    teacher_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await TeacherRepository(session).get(principal, teacher_id)
    if row is None:
        raise NotFound("teacher not found", code="teacher-not-found")
    response.headers["ETag"] = etag(row["version"])
    return row


@router.patch(
    "/{teacher_id}",
    response_model=TeacherRead,
    summary="Change a teacher's registry fields (If-Match optional)",
    responses=problem_responses(404, 412),
)
async def update_teacher(
    teacher_id: uuid.UUID,
    body: TeacherUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    repo = TeacherRepository(session)
    current = await repo.get(principal, teacher_id)
    if current is None:
        raise NotFound("teacher not found", code="teacher-not-found")
    ensure_writer(principal)
    expected = parse_if_match(if_match)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    values: dict[str, Any] = {}
    if "municipality" in changes or "organisation" in changes:
        mun = changes.get("municipality", current["municipality"])
        org = changes.get("organisation", current["organisation"])
        values["region"] = await placement(session, principal, org, mun)
        values["municipality_code"], values["organisation_code"] = mun, org
    if "full_name" in changes:
        values["full_name"] = changes["full_name"]
        values["search_name"] = normalize_name(changes["full_name"])
    for f in ("position", "qualification_category", "experience_years"):
        if f in changes:
            values[f] = changes[f]
    if "subjects" in changes:
        values["subjects"] = [str(s) for s in changes["subjects"]]
    if not values:
        ensure_current(expected, current["version"], "the teacher")
        response.headers["ETag"] = etag(current["version"])
        return current
    row = await repo.update(teacher_id, values, expected)
    if row is None:
        raise PreconditionFailed("the teacher changed since you read it", code="stale-version")
    response.headers["ETag"] = etag(row["version"])
    return row


@router.post(
    "/bulk",
    response_model=BulkResult,
    summary="Create or update many teachers by external id (all or nothing)",
)
async def bulk_upsert_teachers(body: TeacherBulk, principal: CurrentPrincipal, session: DbSession) -> BulkResult:
    ensure_writer(principal)
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(body.teachers, start=1):
        if t.external_id in seen:
            errors.append(
                FieldError(
                    loc=["body", "teachers", i - 1, "external_id"],
                    code="duplicate-in-batch",
                    message=f"external id repeats row {seen[t.external_id]}",
                    row=i,
                    column="external_id",
                )
            )
        else:
            seen[t.external_id] = i
    orgs = await DirectoryRepository(session).organisations_by_code([t.organisation for t in body.teachers])
    repo = TeacherRepository(session)
    # A registered teacher changes only in the hands of someone who sees where the teacher is now: a
    # school (or another region) cannot claim a teacher, and with them their assessment history.
    existing = await repo.placements([t.external_id for t in body.teachers])
    rows: list[dict[str, Any]] = []
    for i, t in enumerate(body.teachers, start=1):
        now = existing.get(t.external_id)
        if now is not None and not principal.sees(
            region=now["region"],
            municipality=now["municipality_code"],
            organisation=now["organisation_code"],
            teacher_id=str(now["id"]),
        ):
            errors.append(
                FieldError(
                    loc=["body", "teachers", i - 1, "external_id"],
                    code="teacher-out-of-scope",
                    message="a teacher with this external id is registered outside your scope",
                    row=i,
                    column="external_id",
                )
            )
            continue
        try:
            region = check_placement(orgs, principal, t.organisation, t.municipality, row=i)
        except ValidationFailed as e:
            errors.extend(e.errors or [])
            continue
        rows.append(_row_values(t, region))
    if errors:
        raise ValidationFailed(f"{len({e.row for e in errors})} rows rejected; nothing was stored", errors=errors)
    inserted, updated = await repo.bulk_upsert(rows)
    return BulkResult(inserted=inserted, updated=updated, unchanged=len(rows) - inserted - updated)


def _row_values(t: TeacherCreate, region: str) -> dict[str, Any]:
    return {
        "external_id": t.external_id,
        "full_name": t.full_name,
        "search_name": normalize_name(t.full_name),
        "region": region,
        "municipality_code": t.municipality,
        "organisation_code": t.organisation,
        "position": t.position,
        "subjects": [str(s) for s in t.subjects],
        "qualification_category": str(t.qualification_category),
        "experience_years": t.experience_years,
    }
