"""Routes: read, list, lifecycle transitions, edits, self-check, history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.routing import BaseRoute

from kit.auth import CurrentPrincipal, Principal, Role
from kit.client import UpstreamError
from kit.db import DbSession
from kit.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    UpstreamUnavailable,
    ValidationFailed,
    problem_responses,
)
from kit.jsonutil import dumps
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from kit.versioning import ensure_current, etag, require_if_match
from services.routes.clients import AssessmentResults, snapshot_from_change
from services.routes.content import (
    TASK_FIELDS_GENERATED,
    apply_overrides,
    find_task,
    next_control_on,
    route_view,
)
from services.routes.pipeline import generate_routes
from services.routes.printing import render_html
from services.routes.repository import RouteRepository
from services.routes.schemas import (
    AuditedRequest,
    GenerateRequest,
    GenerateResult,
    HistoryEntry,
    OutcomePage,
    RecommendationCreate,
    RequestUpdate,
    RoutePage,
    RouteRead,
    RouteStats,
    SelfCheckUpdate,
    TaskUpdate,
    TransitionRequest,
)
from services.routes.selfcheck import AUTO_CRITERIA
from services.routes.workflow import ACTIVE, EDITABLE, Action, Status, TransitionRefused, find_transition

router = APIRouter(prefix="/api/v1/routes", tags=["routes"], responses=problem_responses(401, 403, 422))
CONTENT_VERSIONED = frozenset({Status.in_progress})


async def load(
    repo: RouteRepository, principal: Principal, route_id: uuid.UUID, expected: int | None
) -> dict[str, Any]:
    row = await repo.get(principal, route_id, for_update=expected is not None)
    if row is None:
        raise NotFound("route not found", code="route-not-found")
    ensure_current(expected, row["version"], "the route")
    return row


@dataclass(frozen=True)
class Change:
    """A route about to change: loaded in scope, locked, at the version the caller's If-Match names."""

    repo: RouteRepository
    row: dict[str, Any]
    expected: int


async def route_for_change(
    route_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    if_match: str | None = Header(default=None, description="The ETag you read (428 without, 412 when stale)"),
) -> Change:
    expected = require_if_match(if_match)
    repo = RouteRepository(session)
    return Change(repo, await load(repo, principal, route_id, expected), expected)


RouteForChange = Annotated[Change, Depends(route_for_change)]


def respond(row: dict[str, Any], principal: Principal, response: Response) -> dict[str, Any]:
    response.headers["ETag"] = etag(row["version"])
    return route_view(row, principal)


@router.get("", response_model=RoutePage, summary="List routes in your scope (newest first, keyset pages)")
async def list_routes(
    principal: CurrentPrincipal,
    session: DbSession,
    status: Status | None = None,
    group: int | None = Query(default=None, ge=1, le=4),
    subject: str | None = Query(default=None, max_length=32),
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
    teacher_id: uuid.UUID | None = None,
    overdue: bool = Query(default=False, description="Only active routes with a control point past due"),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    after = decode_cursor(cursor, 2)
    rows = await RouteRepository(session).search(
        principal,
        filters={
            "status": status.value if status else None,
            "group": group,
            "subject": subject,
            "municipality": municipality,
            "organisation": organisation,
            "teacher_id": teacher_id,
        },
        overdue_on=datetime.now(UTC).date() if overdue else None,
        after=(str(after[0]), str(after[1])) if after else None,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["created_at"].isoformat(), str(rows[-1]["id"])])
    return {"items": rows, "next_cursor": next_cursor}


@router.get("/mine", response_model=RoutePage, summary="The calling teacher's own routes (personal cabinet)")
async def list_my_routes(principal: CurrentPrincipal, session: DbSession) -> Response:
    if principal.role != Role.teacher:
        raise Forbidden("only a teacher has own routes", code="role-forbidden")
    rows = await RouteRepository(session).search(principal, filters={}, overdue_on=None, after=None, limit=MAX_LIMIT)
    return Response(dumps({"items": rows, "next_cursor": None}), media_type="application/json")


@router.get("/stats", response_model=RouteStats, summary="Counts for KPIs (scoped)")
async def route_stats(
    principal: CurrentPrincipal,
    session: DbSession,
    municipality: str | None = Query(default=None, max_length=32),
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, int]:
    if principal.role in (Role.teacher, Role.school_admin):
        raise Forbidden("statistics are for municipal and regional roles", code="role-forbidden")
    return await RouteRepository(session).stats(principal, municipality, date_from, date_to)


@router.get("/outcomes", response_model=OutcomePage, summary="Per-route outcomes for effectiveness analysis")
async def route_outcomes(
    principal: CurrentPrincipal,
    session: DbSession,
    municipality: str | None = Query(default=None, max_length=32),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=200, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    if principal.role in (Role.teacher, Role.school_admin):
        raise Forbidden("outcomes are for municipal and regional roles", code="role-forbidden")
    after = decode_cursor(cursor, 1)
    rows = await RouteRepository(session).outcomes(principal, municipality, str(after[0]) if after else None, limit + 1)
    items = []
    for r in rows[:limit]:
        goals = r["content"].get("sections", {}).get("goals", [])
        kinds = sorted(
            {
                f.get("kind")
                for g in goals
                for t in g.get("tasks", [])
                for f in t.get("forms", [])
                if t.get("chosen_resource_id") and f.get("resource_id") == t.get("chosen_resource_id")
            }
            - {None}
        )
        items.append(
            {
                "route_id": r["id"],
                "teacher_id": r["teacher_id"],
                "municipality": r["municipality"],
                "group": r["grp"],
                "subject": r["subject"],
                "status": r["status"],
                "completed_at": r["completed_at"],
                "resource_kinds": kinds,
                "mentor_id": r["mentor_id"],
                "deficits": r["content"].get("sections", {}).get("competency_profile", {}).get("deficits", []),
            }
        )
    next_cursor = encode_cursor([str(rows[limit - 1]["id"])]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "/generate",
    response_model=GenerateResult,
    summary="Generate (or regenerate drafts of) routes for one teacher or a whole campaign now",
    description="Routes are generated automatically from the assessment change feed; this asks for it "
    "at once. Idempotent: one route per teacher and half-year; drafts are regenerated keeping manual "
    "changes, routes under review or running are left alone.",
    responses=problem_responses(404, 503),
)
async def generate_routes_now(
    body: GenerateRequest, request: Request, principal: CurrentPrincipal, session: DbSession
) -> dict[str, int]:
    if principal.role not in (Role.regional_specialist, Role.admin, Role.service, Role.municipal_methodologist):
        raise Forbidden("routes are generated by the centre or the municipal service", code="role-forbidden")
    if (body.teacher_id is None) == (body.campaign_id is None):
        raise ValidationFailed(
            "give either teacher_id or campaign_id",
            errors=[FieldError(loc=["body"], code="one-of", message="exactly one of teacher_id, campaign_id")],
        )
    filters = {"teacher_id": str(body.teacher_id)} if body.teacher_id else {"campaign_id": str(body.campaign_id)}
    try:
        items = await AssessmentResults(request.app.state.gateway_client).changes(**filters)
    except UpstreamError as e:
        if e.status == 404:
            raise NotFound("teacher or campaign not found", code="not-found") from None
        raise UpstreamUnavailable("the assessment service did not answer", code="upstream-unavailable") from None
    snaps = [snapshot_from_change(i) for i in items]
    snaps = [
        s for s in snaps if principal.sees(region=s.region, municipality=s.municipality, organisation=s.organisation)
    ]
    if body.teacher_id and not snaps:
        raise NotFound("no results of this teacher in your scope", code="not-found")
    today = datetime.now(UTC).date()
    max_age = request.app.state.settings.max_result_age_days
    await RouteRepository(session).lock_generation(wait=True)
    outcome = await generate_routes(session, snaps, request.app.state.resource_map, today, principal, max_age)
    return outcome.as_dict()


@router.get(
    "/{route_id}",
    response_model=RouteRead,
    summary="Read a route",
    responses={
        **problem_responses(404),
        304: {"description": "Not modified: the If-None-Match you sent names the current version"},
    },
)
async def get_route(
    route_id: uuid.UUID,
    principal: CurrentPrincipal,
    request: Request,
    if_none_match: str | None = Header(
        default=None, description="The ETag of your copy: 304 without a body while the route has not changed"
    ),
) -> Response:
    # The portal's hottest read (services.routes.reader; ReadLane answers its successes before FastAPI).
    answer = await request.app.state.route_reader.read(principal, route_id, if_none_match)
    if answer is None:
        raise NotFound("route not found", code="route-not-found")
    status_code, headers, body = answer
    return Response(body, status_code=status_code, headers={k.decode(): v.decode() for k, v in headers})


def get_route_operation() -> BaseRoute:
    """The documented GET /routes/{route_id} (services.routes.reader.ReadLane answers its successes)."""
    return next(r for r in router.routes if getattr(r, "name", None) == get_route.__name__)


@router.get(
    "/{route_id}/print",
    response_class=HTMLResponse,
    summary="Printable route in Russian (HTML; print to PDF from the browser)",
    responses={**problem_responses(404), 200: {"content": {"text/html": {}}}},
)
async def print_route(route_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> HTMLResponse:
    row = await load(RouteRepository(session), principal, route_id, None)
    return HTMLResponse(render_html(route_view(row, principal)))


@router.get("/{route_id}/history", response_model=list[HistoryEntry], summary="Immutable history of a route")
async def route_history(route_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> list[dict[str, Any]]:
    repo = RouteRepository(session)
    await load(repo, principal, route_id, None)
    return await repo.history(route_id)


@router.get("/{route_id}/versions", summary="Content versions of a route (corrections while it runs)")
async def route_versions(route_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> list[dict[str, Any]]:
    repo = RouteRepository(session)
    await load(repo, principal, route_id, None)
    return await repo.versions(route_id)


@router.post(
    "/{route_id}/transitions",
    response_model=RouteRead,
    summary="Move a route along the regional regulation (If-Match required)",
    responses=problem_responses(404, 409, 412, 428),
)
async def transition_route(
    route_id: uuid.UUID,
    body: TransitionRequest,
    principal: CurrentPrincipal,
    change: RouteForChange,
    response: Response,
) -> dict[str, Any]:
    repo, row, expected = change.repo, change.row, change.expected
    try:
        t = find_transition(body.action, Status(row["status"]), principal)
    except TransitionRefused as e:
        if e.status == 403:
            raise Forbidden(str(e), code="transition-forbidden") from None
        raise Conflict(str(e), code="transition-not-allowed") from None
    values: dict[str, Any] = {"status": t.target.value}
    errors: list[FieldError] = []
    if t.needs_comment and not body.comment:
        errors.append(FieldError(loc=["body", "comment"], code="required", message="a return needs a comment"))
    if t.action == Action.approve:
        if not body.tutor or not body.tutor.get("name"):
            errors.append(FieldError(loc=["body", "tutor"], code="required", message="approval names the tutor"))
        else:
            values["tutor"] = body.tutor
    if t.action == Action.complete:
        if not body.reflection:
            errors.append(FieldError(loc=["body", "reflection"], code="required", message="write a reflection"))
        if not body.evidence:
            errors.append(FieldError(loc=["body", "evidence"], code="required", message="attach evidence of results"))
        if not errors:
            content = dict(row["content"])
            sections = dict(content["sections"])
            sections["reflection"] = {"text": body.reflection, "products": body.evidence}
            content["sections"] = sections
            values["content"] = content
            values["completed_at"] = datetime.now(UTC)
    if errors:
        raise ValidationFailed("the transition needs more information", errors=errors)
    updated = await repo.update_fields(route_id, values, expected_version=expected)
    if updated is None:
        raise PreconditionFailed("the route changed since you read it", code="stale-version")
    await repo.add_event(
        route_id,
        principal,
        t.action.value,
        from_status=t.source.value,
        to_status=t.target.value,
        comment=body.comment,
        content_version=updated["content_version"],
    )
    return respond(updated, principal, response)


@router.post(
    "/{route_id}/audited",
    response_model=RouteRead,
    summary="Mark a completed route audited (the audit service; idempotent per audit)",
    responses=problem_responses(404, 409),
)
async def mark_route_audited(
    route_id: uuid.UUID, body: AuditedRequest, principal: CurrentPrincipal, session: DbSession, response: Response
) -> dict[str, Any]:
    if principal.role != Role.service:
        raise Forbidden("only the audit service marks routes audited", code="role-forbidden")
    repo = RouteRepository(session)
    row = await load(repo, principal, route_id, None)
    if row["status"] in (Status.audited, Status.archived) and row["audit_id"] == body.audit_id:
        return respond(row, principal, response)
    if row["status"] != Status.completed:
        raise Conflict(f"only a completed route can be audited (it is {row['status']})", code="transition-not-allowed")
    updated = await repo.update_fields(
        route_id,
        {
            "status": Status.audited.value,
            "audit_id": body.audit_id,
            "audit_total": body.total,
            "audited_at": body.completed_at,
        },
        expected_version=row["version"],
    )
    if updated is None:
        raise Conflict("the route changed meanwhile; retry", code="stale-version")
    await repo.add_event(
        route_id,
        principal,
        "audited",
        from_status=Status.completed.value,
        to_status=Status.audited.value,
        comment=f"audit {body.audit_id}: {body.total}/20",
    )
    return respond(updated, principal, response)


def _can_edit(principal: Principal, row: dict[str, Any]) -> None:
    status = Status(row["status"])
    if status not in EDITABLE:
        raise Conflict(f"a route in '{status.value}' cannot be changed", code="route-not-editable")
    if principal.role == Role.service:
        raise Forbidden("services do not edit routes", code="role-forbidden")


async def _save_content(
    repo: RouteRepository,
    principal: Principal,
    row: dict[str, Any],
    content: dict[str, Any],
    overrides: list[dict[str, Any]],
    expected: int,
    reason: str,
    action: str,
) -> dict[str, Any]:
    """Store new content; while the route runs, a correction becomes a new content version."""
    values: dict[str, Any] = {"content": content, "overrides": overrides, "next_control_on": next_control_on(content)}
    versioned = Status(row["status"]) in CONTENT_VERSIONED
    if versioned:
        values["content_version"] = row["content_version"] + 1
    updated = await repo.update_fields(row["id"], values, expected_version=expected)
    if updated is None:
        raise PreconditionFailed("the route changed since you read it", code="stale-version")
    if versioned:
        await repo.add_version(row["id"], row["content_version"], row["content"], "before correction", principal.sub)
        await repo.add_version(row["id"], updated["content_version"], content, reason, principal.sub)
    await repo.add_event(row["id"], principal, action, comment=reason, content_version=updated["content_version"])
    return updated


@router.put(
    "/{route_id}/request",
    response_model=RouteRead,
    summary="The teacher writes the professional request (section 4)",
    responses=problem_responses(404, 409, 412, 428),
)
async def update_professional_request(
    route_id: uuid.UUID,
    body: RequestUpdate,
    principal: CurrentPrincipal,
    change: RouteForChange,
    response: Response,
) -> dict[str, Any]:
    repo, row, expected = change.repo, change.row, change.expected
    if principal.role != Role.teacher:
        raise Forbidden("the professional request is written by the teacher", code="role-forbidden")
    _can_edit(principal, row)
    value = {"text": body.text, "interests": body.interests}
    overrides = [o for o in row["overrides"] if o.get("target") != "request"]
    overrides.append({"target": "request", "value": value, "by": principal.sub, "at": datetime.now(UTC).isoformat()})
    content = apply_overrides(row["content"], [overrides[-1]])
    updated = await _save_content(repo, principal, row, content, overrides, expected, "запрос педагога", "request")
    return respond(updated, principal, response)


@router.post(
    "/{route_id}/recommendations",
    response_model=RouteRead,
    summary="The centre adds a recommendation (section 6)",
    responses=problem_responses(404, 409, 412, 428),
)
async def add_recommendation(
    route_id: uuid.UUID,
    body: RecommendationCreate,
    principal: CurrentPrincipal,
    change: RouteForChange,
    response: Response,
) -> dict[str, Any]:
    repo, row, expected = change.repo, change.row, change.expected
    if principal.role not in (Role.regional_specialist, Role.municipal_methodologist, Role.admin):
        raise Forbidden("recommendations come from the centre or the municipal service", code="role-forbidden")
    _can_edit(principal, row)
    rec = {"text": body.text, "reason": {"rule": "рекомендация специалиста", "by": principal.sub}}
    override = {"target": "recommendation", "value": rec, "by": principal.sub, "at": datetime.now(UTC).isoformat()}
    content = apply_overrides(row["content"], [override])
    updated = await _save_content(
        repo, principal, row, content, [*row["overrides"], override], expected, "рекомендация", "recommendation"
    )
    return respond(updated, principal, response)


@router.patch(
    "/{route_id}/tasks/{task_id}",
    response_model=RouteRead,
    summary="Change a task: correct generated fields (with a reason), choose a form, report progress",
    responses=problem_responses(404, 409, 412, 428),
)
async def update_task(
    route_id: uuid.UUID,
    task_id: str,
    body: TaskUpdate,
    principal: CurrentPrincipal,
    change: RouteForChange,
    response: Response,
) -> dict[str, Any]:
    repo, row, expected = change.repo, change.row, change.expected
    _can_edit(principal, row)
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    if not changes:
        raise ValidationFailed(
            "nothing to change", errors=[FieldError(loc=["body"], code="empty", message="no fields")]
        )
    content = apply_overrides(row["content"], [])
    task = find_task(content, task_id)
    if task is None:
        raise NotFound("task not found in this route", code="task-not-found")
    generated_changes = {k: v for k, v in changes.items() if k in TASK_FIELDS_GENERATED}
    if generated_changes and not body.reason:
        raise ValidationFailed(
            "changing generated content needs a reason",
            errors=[FieldError(loc=["body", "reason"], code="required", message="give the reason of the change")],
        )
    if (
        generated_changes
        and principal.role == Role.teacher
        and Status(row["status"]) not in (Status.draft, Status.in_progress)
    ):
        raise Forbidden("the route is under review; ask your tutor to correct it", code="role-forbidden")
    progress = {k: v for k, v in changes.items() if k in ("done", "evidence")}
    if progress and (Status(row["status"]) not in ACTIVE or principal.role not in (Role.teacher, Role.school_admin)):
        raise Conflict("progress is reported by the teacher while the route runs", code="route-not-active")
    if "chosen_resource_id" in changes and changes["chosen_resource_id"] is not None:
        offered = {f.get("resource_id") for f in task.get("forms", [])}
        if changes["chosen_resource_id"] not in offered:
            raise ValidationFailed(
                "choose one of the offered forms",
                errors=[
                    FieldError(loc=["body", "chosen_resource_id"], code="not-offered", message="not among the forms")
                ],
            )
    overrides = list(row["overrides"])
    now = datetime.now(UTC).isoformat()
    for field, value in changes.items():
        if isinstance(value, date):
            value = value.isoformat()
        task[field] = value
        overrides = [
            o
            for o in overrides
            if not (o.get("target") == "task" and o.get("task_id") == task_id and o.get("field") == field)
        ]
        overrides.append(
            {
                "target": "task",
                "task_id": task_id,
                "field": field,
                "value": value,
                "reason": body.reason,
                "by": principal.sub,
                "at": now,
            }
        )
    if "ends_on" in changes:
        task.setdefault("control_point", {})["date"] = task["ends_on"]
    reason = body.reason or ("выбор формы" if "chosen_resource_id" in changes else "отчёт о выполнении")
    updated = await _save_content(repo, principal, row, content, overrides, expected, reason, f"task:{task_id}")
    return respond(updated, principal, response)


@router.put(
    "/{route_id}/self-check",
    response_model=RouteRead,
    summary="Score the criteria people judge (2, 3, 5, 7, 10)",
    responses=problem_responses(404, 409, 412, 428),
)
async def score_self_check(
    route_id: uuid.UUID,
    body: SelfCheckUpdate,
    principal: CurrentPrincipal,
    change: RouteForChange,
    response: Response,
) -> dict[str, Any]:
    repo, row, expected = change.repo, change.row, change.expected
    if principal.role == Role.service:
        raise Forbidden("services do not score routes", code="role-forbidden")
    bad = [n for n in body.scores if n in AUTO_CRITERIA or not 1 <= n <= 10]
    if bad:
        raise ValidationFailed(
            "these criteria are scored by the machine or do not exist",
            errors=[
                FieldError(loc=["body", "scores", n], code="not-manual", message="criterion not scored by people")
                for n in bad
            ],
        )
    manual = {**row["self_check_manual"], **{str(k): v for k, v in body.scores.items()}}
    updated = await repo.update_fields(route_id, {"self_check_manual": manual}, expected_version=expected)
    if updated is None:
        raise PreconditionFailed("the route changed since you read it", code="stale-version")
    await repo.add_event(
        route_id, principal, "self_check", comment=", ".join(f"{k}={v}" for k, v in sorted(body.scores.items()))
    )
    return respond(updated, principal, response)
