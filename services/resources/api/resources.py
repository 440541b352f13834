"""The catalogue: create, read, update, archive, list and search resources; bulk import."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status

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
from kit.versioning import ensure_current, etag, parse_if_match, require_if_match
from services.resources.api.common import with_free, write_region
from services.resources.api.importing import IMPORT_MEDIA, begin_import, finish_import
from services.resources.imports import (
    RESOURCE_ALIASES,
    RESOURCE_COLUMNS,
    RESOURCE_REQUIRED,
    ResourceImportRow,
    row_error,
    validate_rows,
)
from services.resources.repository import ResourceRepository, copy_rows
from services.resources.schemas import (
    ImportResult,
    ResourceCreate,
    ResourcePage,
    ResourceRead,
    ResourceUpdate,
    check_resource,
)
from services.resources.vocab import LearningType, Mode, OwnerScope, ResourceKind, ResourceStatus, Subject

router = APIRouter(prefix="/api/v1/resources", tags=["resources"], responses=problem_responses(401, 403, 422))

NULLABLE_FIELDS = frozenset({"event_format", "provider", "hours", "starts_on", "ends_on", "capacity", "url"})


def ownership_for_create(principal: Principal, body: ResourceCreate) -> dict[str, Any]:
    """Who owns a new resource, refusing (403) what the caller's role may not create."""
    if principal.is_regional:
        if body.kind == ResourceKind.peer_resource:
            if body.owner_teacher_id is None:
                raise ValidationFailed(
                    "a peer resource needs the teacher who offers it",
                    errors=[
                        FieldError(
                            loc=["body", "owner_teacher_id"], code="missing", message="required for kind=peer_resource"
                        )
                    ],
                )
            return {
                "owner_scope": OwnerScope.teacher,
                "owner_teacher_id": body.owner_teacher_id,
                "owner_municipality": None,
            }
        if body.owner_teacher_id is not None:
            raise ValidationFailed(
                "only peer resources have an owner teacher",
                errors=[
                    FieldError(
                        loc=["body", "owner_teacher_id"], code="not-allowed", message="only for kind=peer_resource"
                    )
                ],
            )
        return {"owner_scope": OwnerScope.region, "owner_teacher_id": None, "owner_municipality": None}
    if principal.role == Role.municipal_methodologist and principal.municipality:
        if body.kind == ResourceKind.peer_resource or body.owner_teacher_id is not None:
            raise Forbidden("peer resources are offered by teachers themselves", code="role-forbidden")
        if any(m != principal.municipality for m in body.municipalities):
            raise Forbidden("municipal services add resources of their own municipality only", code="out-of-scope")
        return {
            "owner_scope": OwnerScope.municipality,
            "owner_municipality": principal.municipality,
            "owner_teacher_id": None,
            "municipalities": [principal.municipality],
        }
    if principal.role == Role.teacher and principal.teacher_id:
        if body.kind != ResourceKind.peer_resource:
            raise Forbidden("teachers offer their own resources (kind=peer_resource)", code="role-forbidden")
        if body.owner_teacher_id is not None and str(body.owner_teacher_id) != principal.teacher_id:
            raise Forbidden("teachers offer only their own resources", code="out-of-scope")
        own = [principal.municipality] if principal.municipality else []
        if any(m not in own for m in body.municipalities):
            raise Forbidden("a teacher's resource is held in their own municipality (or online)", code="out-of-scope")
        return {
            "owner_scope": OwnerScope.teacher,
            "owner_teacher_id": uuid.UUID(principal.teacher_id),
            "owner_municipality": None,
            "municipalities": body.municipalities or own,
        }
    raise Forbidden("your role may not add to the resource map", code="role-forbidden")


def can_edit(principal: Principal, row: dict[str, Any]) -> bool:
    if principal.is_regional:
        return True
    if principal.role == Role.municipal_methodologist:
        return row["owner_scope"] == OwnerScope.municipality and row["owner_municipality"] == principal.municipality
    if principal.role == Role.teacher:
        return row["owner_scope"] == OwnerScope.teacher and str(row["owner_teacher_id"]) == principal.teacher_id
    return False


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ResourceRead,
    summary="Add a resource (regional: any; municipal: local ones; teacher: own peer resource)",
    responses=problem_responses(409),
)
async def create_resource(
    body: ResourceCreate, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    region = write_region(principal)
    owner = ownership_for_create(principal, body)
    repo = ResourceRepository(session)
    if body.external_id and await repo.external_id_taken(region, body.external_id):
        raise Conflict("a resource with this external id already exists", code="external-id-taken")
    values = body.model_dump(exclude={"owner_teacher_id"})
    values.update(owner)
    values.update(region=region, created_by=principal.sub)
    values["subjects"] = [str(s) for s in values["subjects"]]
    row = with_free(await repo.insert(values))
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
    after = decode_cursor(cursor, 3)
    if after is not None and after[0] != sort:
        raise ValidationFailed(
            "the cursor belongs to another sort order",
            errors=[FieldError(loc=["query", "cursor"], code="invalid-cursor", message="cursor is not valid")],
        )
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
    effective_sort = sort if (sort != "relevance" or q) else "title"
    rows = await ResourceRepository(session).page(
        principal.region, filters=filters, sort=effective_sort, after=after[1:] if after else None, limit=limit + 1
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


@router.get("/{resource_id}", response_model=ResourceRead, summary="Read a resource", responses=problem_responses(404))
async def get_resource(
    resource_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    row = await ResourceRepository(session).get(principal.region, resource_id)
    if row is None:
        raise NotFound("resource not found", code="resource-not-found")
    response.headers["ETag"] = etag(row["version"])
    return with_free(row)


@router.patch(
    "/{resource_id}",
    response_model=ResourceRead,
    summary="Change a resource (If-Match optional; capacity never below the reserved seats)",
    responses=problem_responses(404, 409, 412),
)
async def update_resource(
    resource_id: uuid.UUID,
    body: ResourceUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    repo = ResourceRepository(session)
    current = await repo.get(principal.region, resource_id)
    if current is None:
        raise NotFound("resource not found", code="resource-not-found")
    if not can_edit(principal, current):
        raise Forbidden("you may not change this resource", code="not-owner")
    expected = parse_if_match(if_match)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k in NULLABLE_FIELDS}
    if "municipalities" in changes and not principal.is_regional:
        own = principal.municipality
        if any(m != own for m in changes["municipalities"]):
            raise Forbidden("local resources stay in your municipality", code="out-of-scope")
        # Emptying the list would make a local resource region-wide: it stays where its owner is.
        changes["municipalities"] = changes["municipalities"] or ([own] if own else [])
    if "subjects" in changes:
        changes["subjects"] = [str(s) for s in changes["subjects"]]
    merged = {**current, **changes}
    try:
        check_resource(merged["kind"], merged["event_format"], merged["starts_on"], merged["ends_on"])
    except ValueError as e:
        raise ValidationFailed(str(e), errors=[FieldError(loc=["body"], code="inconsistent", message=str(e))]) from e
    if not changes:
        ensure_current(expected, current["version"], "the resource")
        response.headers["ETag"] = etag(current["version"])
        return with_free(current)
    row = await repo.update(resource_id, changes, expected)
    if row is None:
        if changes.get("capacity") is not None and changes["capacity"] < current["reserved"]:
            raise Conflict("capacity cannot fall below the seats already reserved", code="capacity-below-reserved")
        raise PreconditionFailed("the resource changed since you read it", code="stale-version")
    response.headers["ETag"] = etag(row["version"])
    return with_free(row)


async def _transition(
    resource_id: uuid.UUID,
    to: ResourceStatus,
    principal: Principal,
    session: Any,
    response: Response,
    if_match: str | None,
) -> dict[str, Any]:
    repo = ResourceRepository(session)
    current = await repo.get(principal.region, resource_id)
    if current is None:
        raise NotFound("resource not found", code="resource-not-found")
    if not can_edit(principal, current):
        raise Forbidden("you may not change this resource", code="not-owner")
    expected = require_if_match(if_match)
    if current["status"] == to:
        ensure_current(expected, current["version"], "the resource")
        response.headers["ETag"] = etag(current["version"])
        return with_free(current)
    row = await repo.update(resource_id, {"status": to.value}, expected)
    if row is None:
        raise PreconditionFailed("the resource changed since you read it", code="stale-version")
    response.headers["ETag"] = etag(row["version"])
    return with_free(row)


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
    return await _transition(resource_id, ResourceStatus.archived, principal, session, response, if_match)


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
    return await _transition(resource_id, ResourceStatus.active, principal, session, response, if_match)


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
    principal: CurrentPrincipal,
    session: DbSession,
    mode: Literal["all", "partial"] = Query(default="all"),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    run = await begin_import(
        request,
        principal,
        session,
        what="resources",
        mode=mode,
        idempotency_key=idempotency_key,
        allowed=RESOURCE_COLUMNS,
        required=RESOURCE_REQUIRED,
        aliases=RESOURCE_ALIASES,
    )
    if isinstance(run, Response):
        return run
    region, table = run.region, run.table
    good, errors = validate_rows(table, ResourceImportRow)
    repo = ResourceRepository(session)
    existing = await repo.by_external_ids(region, [r.external_id for _n, r in good])
    seen: dict[str, int] = {}
    records: list[tuple[Any, ...]] = []
    bad_rows = {e.row for e in errors}
    for number, r in good:
        problem: tuple[str | None, str, str] | None = None
        if r.external_id in seen:
            problem = ("external_id", "duplicate-in-batch", f"external id repeats row {seen[r.external_id]}")
        elif r.kind == ResourceKind.peer_resource:
            problem = ("kind", "not-importable", "peer resources are offered by teachers themselves")
        elif r.owner_teacher_id is not None:
            problem = ("owner_teacher_id", "not-importable", "owners are not imported")
        else:
            prior = existing.get(r.external_id)
            owner = principal.municipality if principal.role == Role.municipal_methodologist else None
            if owner is not None and any(m != owner for m in r.municipalities):
                problem = ("municipalities", "out-of-scope", "only your municipality's local resources")
            elif prior is not None and owner is not None and prior["owner_municipality"] != owner:
                problem = ("external_id", "out-of-scope", "this resource belongs to another catalogue owner")
            elif prior is not None and r.capacity is not None and r.capacity < prior["reserved"]:
                problem = ("capacity", "capacity-below-reserved", "capacity is below the seats already reserved")
        seen.setdefault(r.external_id, number)
        if problem is not None:
            errors.append(row_error(number, *problem))
            bad_rows.add(number)
            continue
        owner_mun = principal.municipality if principal.role == Role.municipal_methodologist else None
        records.append(
            (
                region,
                r.external_id,
                r.kind.value,
                r.event_format.value if r.event_format else None,
                r.title,
                r.description,
                r.provider,
                r.hours,
                r.federal_registry,
                list(r.competencies),
                [str(s) for s in r.subjects],
                list(r.levels),
                r.learning_type.value,
                r.mode.value,
                list(r.municipalities) or ([owner_mun] if owner_mun else []),
                r.starts_on,
                r.ends_on,
                r.capacity,
                r.url,
                OwnerScope.municipality.value if owner_mun else OwnerScope.region.value,
                owner_mun,
                principal.sub,
            )
        )
    return await finish_import(
        run, records, errors, bad_rows, lambda recs: _upsert_resources(session, recs), changed="the catalogue"
    )


IMPORT_COLUMNS_SQL = """
region varchar(32), external_id varchar(64), kind varchar(32), event_format varchar(32), title text,
description text, provider text, hours integer, federal_registry boolean, competencies varchar(32)[],
subjects varchar(32)[], levels smallint[], learning_type varchar(16), mode varchar(16),
municipalities varchar(32)[], starts_on date, ends_on date, capacity integer, url text,
owner_scope varchar(16), owner_municipality varchar(32), created_by varchar(200)
"""
IMPORT_COLUMNS = (
    "region",
    "external_id",
    "kind",
    "event_format",
    "title",
    "description",
    "provider",
    "hours",
    "federal_registry",
    "competencies",
    "subjects",
    "levels",
    "learning_type",
    "mode",
    "municipalities",
    "starts_on",
    "ends_on",
    "capacity",
    "url",
    "owner_scope",
    "owner_municipality",
    "created_by",
)
UPDATED_COLUMNS = (
    "kind",
    "event_format",
    "title",
    "description",
    "provider",
    "hours",
    "federal_registry",
    "competencies",
    "subjects",
    "levels",
    "learning_type",
    "mode",
    "municipalities",
    "starts_on",
    "ends_on",
    "capacity",
    "url",
)


async def _upsert_resources(session: Any, records: list[tuple[Any, ...]]) -> tuple[int, int]:
    """COPY into a temp table, then one upsert by (region, external_id); return (inserted, updated)."""
    temp = "tmp_resource_import"
    driver = await copy_rows(session, temp, IMPORT_COLUMNS_SQL, IMPORT_COLUMNS, records)
    cols = ", ".join(IMPORT_COLUMNS)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in UPDATED_COLUMNS)
    changed = " OR ".join(f"r.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in UPDATED_COLUMNS)
    rows = await driver.fetch(
        f"INSERT INTO resources.resources AS r ({cols}) SELECT {cols} FROM {temp} "
        f"ON CONFLICT (region, external_id) DO UPDATE SET {sets}, version = r.version + 1, updated_at = now() "
        f"WHERE {changed} RETURNING r.version"
    )
    inserted = sum(1 for r in rows if r["version"] == 1)
    return inserted, len(rows) - inserted
