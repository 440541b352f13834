"""Mentors and the methodological active: register, read, change, (de)activate, history, import."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status

from kit.auth import CurrentPrincipal, Principal, Role
from kit.db import DbSession
from kit.errors import Conflict, Forbidden, NotFound, PreconditionFailed, problem_responses
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from kit.versioning import ensure_current, etag, parse_if_match, require_if_match
from services.resources.api.common import write_region
from services.resources.api.importing import IMPORT_MEDIA, begin_import, finish_import
from services.resources.imports import (
    MENTOR_ALIASES,
    MENTOR_COLUMNS,
    MENTOR_REQUIRED,
    MentorImportRow,
    row_error,
    validate_rows,
)
from services.resources.repository import MentorRepository, copy_rows
from services.resources.schemas import (
    ImportResult,
    MembershipCreate,
    MembershipRead,
    MentorCreate,
    MentorPage,
    MentorRead,
    MentorUpdate,
)
from services.resources.vocab import MembershipAction, MentorRole, MentorStatus, Mode, Subject

router = APIRouter(prefix="/api/v1/mentors", tags=["mentors"], responses=problem_responses(401, 403, 422))


def ensure_mentor_editor(principal: Principal, municipality: str) -> None:
    """Regional staff keep the whole active; a municipal service keeps its own municipality's."""
    if principal.is_regional:
        return
    if principal.role == Role.municipal_methodologist and principal.municipality == municipality:
        return
    if principal.role == Role.municipal_methodologist:
        raise Forbidden("mentors of another municipality are kept by their own service", code="out-of-scope")
    raise Forbidden("your role may not change the methodological active", code="role-forbidden")


def this_year() -> int:
    return datetime.now(UTC).year


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MentorRead,
    summary="Register a teacher as a mentor or methodist",
    responses=problem_responses(409),
)
async def create_mentor(
    body: MentorCreate, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    region = write_region(principal)
    ensure_mentor_editor(principal, body.municipality)
    repo = MentorRepository(session)
    if await repo.teacher_registered(region, body.teacher_id):
        raise Conflict("this teacher is already registered in the active", code="mentor-exists")
    values = body.model_dump()
    values["subjects"] = [str(s) for s in values["subjects"]]
    row = await repo.insert({**values, "region": region})
    await repo.add_membership(
        {
            "mentor_id": row["id"],
            "year": body.joined_year or this_year(),
            "action": MembershipAction.entered.value,
            "assessment": body.joined_assessment,
            "recorded_by": principal.sub,
        }
    )
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
    after = decode_cursor(cursor, 2)
    filters = {
        "municipality": municipality,
        "subject": subject,
        "competency": competency,
        "mode": mode,
        "role": role,
        "has_free": has_free,
        "status": status_,
    }
    rows = await MentorRepository(session).page(principal.region, filters=filters, after=after, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["municipality"], str(rows[-1]["id"])])
    return {"items": rows, "next_cursor": next_cursor}


@router.get(
    "/by-teacher/{teacher_id}",
    response_model=MentorRead,
    summary="Find the mentor record of a teacher",
    responses=problem_responses(404),
)
async def get_mentor_by_teacher(
    teacher_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await MentorRepository(session).get_by_teacher(principal.region, teacher_id)
    if row is None:
        raise NotFound("mentor not found", code="mentor-not-found")
    response.headers["ETag"] = etag(row["version"])
    return row


@router.get("/{mentor_id}", response_model=MentorRead, summary="Read a mentor", responses=problem_responses(404))
async def get_mentor(
    mentor_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await MentorRepository(session).get(principal.region, mentor_id)
    if row is None:
        raise NotFound("mentor not found", code="mentor-not-found")
    response.headers["ETag"] = etag(row["version"])
    return row


@router.patch(
    "/{mentor_id}",
    response_model=MentorRead,
    summary="Change a mentor (If-Match optional; capacity never below the current load)",
    responses=problem_responses(404, 409, 412),
)
async def update_mentor(
    mentor_id: uuid.UUID,
    body: MentorUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    repo = MentorRepository(session)
    current = await repo.get(principal.region, mentor_id)
    if current is None:
        raise NotFound("mentor not found", code="mentor-not-found")
    ensure_mentor_editor(principal, current["municipality"])
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "municipality" in changes:
        ensure_mentor_editor(principal, changes["municipality"])
    if "subjects" in changes:
        changes["subjects"] = [str(s) for s in changes["subjects"]]
    expected = parse_if_match(if_match)
    if not changes:
        ensure_current(expected, current["version"], "the mentor")
        response.headers["ETag"] = etag(current["version"])
        return current
    row = await repo.update(mentor_id, changes, expected)
    if row is None:
        if changes.get("capacity") is not None and changes["capacity"] < current["load"]:
            raise Conflict("capacity cannot fall below the mentees already held", code="capacity-below-load")
        raise PreconditionFailed("the mentor changed since you read it", code="stale-version")
    response.headers["ETag"] = etag(row["version"])
    return row


async def _set_status(
    mentor_id: uuid.UUID,
    to: MentorStatus,
    action: MembershipAction,
    principal: Principal,
    session: Any,
    response: Response,
    if_match: str | None,
) -> dict[str, Any]:
    repo = MentorRepository(session)
    current = await repo.get(principal.region, mentor_id)
    if current is None:
        raise NotFound("mentor not found", code="mentor-not-found")
    ensure_mentor_editor(principal, current["municipality"])
    expected = require_if_match(if_match)
    if current["status"] == to:
        ensure_current(expected, current["version"], "the mentor")
        response.headers["ETag"] = etag(current["version"])
        return current
    row = await repo.update(mentor_id, {"status": to.value}, expected)
    if row is None:
        raise PreconditionFailed("the mentor changed since you read it", code="stale-version")
    await repo.add_membership(
        {"mentor_id": mentor_id, "year": this_year(), "action": action.value, "recorded_by": principal.sub}
    )
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
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    return await _set_status(
        mentor_id, MentorStatus.inactive, MembershipAction.left, principal, session, response, if_match
    )


@router.post(
    "/{mentor_id}/activate",
    response_model=MentorRead,
    summary="Bring a mentor back into the active (If-Match required)",
    responses=problem_responses(404, 412, 428),
)
async def activate_mentor(
    mentor_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    return await _set_status(
        mentor_id, MentorStatus.active, MembershipAction.returned, principal, session, response, if_match
    )


@router.get(
    "/{mentor_id}/history",
    response_model=list[MembershipRead],
    summary="Membership history: entered, confirmed, left, returned (by year and assessment)",
    responses=problem_responses(404),
)
async def list_mentor_history(
    mentor_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> list[dict[str, Any]]:
    repo = MentorRepository(session)
    if await repo.get(principal.region, mentor_id) is None:
        raise NotFound("mentor not found", code="mentor-not-found")
    return await repo.memberships(mentor_id)


@router.post(
    "/{mentor_id}/history",
    status_code=status.HTTP_201_CREATED,
    response_model=MembershipRead,
    summary="Record a membership event (e.g. confirmed in a year by an assessment)",
    responses=problem_responses(404),
)
async def add_mentor_history(
    mentor_id: uuid.UUID, body: MembershipCreate, principal: CurrentPrincipal, session: DbSession
) -> dict[str, Any]:
    repo = MentorRepository(session)
    current = await repo.get(principal.region, mentor_id)
    if current is None:
        raise NotFound("mentor not found", code="mentor-not-found")
    ensure_mentor_editor(principal, current["municipality"])
    return await repo.add_membership(
        {**body.model_dump(mode="json"), "mentor_id": mentor_id, "recorded_by": principal.sub}
    )


MENTOR_IMPORT_SQL = """
region varchar(32), teacher_id uuid, municipality varchar(32), role varchar(16), subjects varchar(32)[],
competencies varchar(32)[], level smallint, mode varchar(16), capacity integer, joined_year smallint,
joined_assessment varchar(64)
"""
MENTOR_IMPORT_COLUMNS = (
    "region",
    "teacher_id",
    "municipality",
    "role",
    "subjects",
    "competencies",
    "level",
    "mode",
    "capacity",
    "joined_year",
    "joined_assessment",
)
MENTOR_UPDATED = ("municipality", "role", "subjects", "competencies", "level", "mode", "capacity")


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
    principal: CurrentPrincipal,
    session: DbSession,
    mode: Literal["all", "partial"] = Query(default="all"),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    run = await begin_import(
        request,
        principal,
        session,
        what="mentors",
        mode=mode,
        idempotency_key=idempotency_key,
        allowed=MENTOR_COLUMNS,
        required=MENTOR_REQUIRED,
        aliases=MENTOR_ALIASES,
    )
    if isinstance(run, Response):
        return run
    region, table = run.region, run.table
    good, errors = validate_rows(table, MentorImportRow)
    repo = MentorRepository(session)
    existing = await repo.by_teacher_ids(region, [r.teacher_id for _n, r in good])
    bad_rows = {e.row for e in errors}
    seen: dict[uuid.UUID, int] = {}
    records: list[tuple[Any, ...]] = []
    own = principal.municipality if principal.role == Role.municipal_methodologist else None
    for number, r in good:
        problem: tuple[str, str, str] | None = None
        prior = existing.get(r.teacher_id)
        if r.teacher_id in seen:
            problem = ("teacher_id", "duplicate-in-batch", f"teacher repeats row {seen[r.teacher_id]}")
        elif own is not None and (r.municipality != own or (prior is not None and prior["municipality"] != own)):
            problem = ("municipality", "out-of-scope", "only mentors of your municipality")
        elif prior is not None and r.capacity < prior["load"]:
            problem = ("capacity", "capacity-below-load", "capacity is below the mentees already held")
        seen.setdefault(r.teacher_id, number)
        if problem is not None:
            errors.append(row_error(number, *problem))
            bad_rows.add(number)
            continue
        records.append(
            (
                region,
                r.teacher_id,
                r.municipality,
                r.role.value,
                [str(s) for s in r.subjects],
                list(r.competencies),
                r.level,
                r.mode.value,
                r.capacity,
                r.joined_year,
                r.joined_assessment,
            )
        )
    return await finish_import(
        run, records, errors, bad_rows, lambda recs: _upsert_mentors(session, recs, principal.sub), changed="the active"
    )


async def _upsert_mentors(session: Any, records: list[tuple[Any, ...]], recorded_by: str) -> tuple[int, int]:
    temp = "tmp_mentor_import"
    driver = await copy_rows(session, temp, MENTOR_IMPORT_SQL, MENTOR_IMPORT_COLUMNS, records)
    cols = ", ".join(MENTOR_IMPORT_COLUMNS)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in MENTOR_UPDATED)
    changed = " OR ".join(f"m.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in MENTOR_UPDATED)
    rows = await driver.fetch(
        f"INSERT INTO resources.mentors AS m ({cols}) SELECT {cols} FROM {temp} "
        f"ON CONFLICT (region, teacher_id) DO UPDATE SET {sets}, version = m.version + 1, updated_at = now() "
        f"WHERE {changed} RETURNING m.id, m.version, m.joined_year, m.joined_assessment"
    )
    new = [r for r in rows if r["version"] == 1]
    if new:
        await driver.executemany(
            "INSERT INTO resources.mentor_memberships (mentor_id, year, action, assessment, recorded_by) "
            "VALUES ($1, $2, 'entered', $3, $4)",
            [(r["id"], r["joined_year"] or this_year(), r["joined_assessment"], recorded_by) for r in new],
        )
    return len(new), len(rows) - len(new)
