"""Routes: read, list, lifecycle transitions, edits, self-check, history."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Header, Query, Response
from starlette.routing import BaseRoute

from kit.auth import CurrentPrincipal, Principal
from kit.db import DbSession
from kit.errors import NotFound, problem_responses
from kit.jsonutil import dumps
from kit.pagination import MAX_LIMIT
from kit.versioning import etag
from services.routes.auth import (
    Analyst,
    AuditRecorder,
    Editor,
    Generator,
    Recommender,
    RequestWriter,
    RouteOwner,
    SelfCheckScorer,
    StatsReader,
)
from services.routes.content import route_view
from services.routes.deps import Gateway, Reader, ResourceMap, RouteForChange, Settings
from services.routes.printing import DOCX_MEDIA_TYPE
from services.routes.schemas import (
    AuditedRequest,
    GenerateRequest,
    GenerateResult,
    HistoryEntry,
    OutcomePage,
    PrintFormat,
    RecommendationCreate,
    RequestUpdate,
    RoutePage,
    RouteRead,
    SelfCheckUpdate,
    TaskUpdate,
    TransitionRequest,
)
from services.routes.service import editing, generating, lifecycle, reading
from services.routes.service import stats as stats_service
from services.routes.stats_schemas import RouteStats
from services.routes.workflow import Status

router = APIRouter(prefix="/api/v1/routes", tags=["routes"], responses=problem_responses(401, 403, 422))


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
    filters = {
        "status": status.value if status else None,
        "group": group,
        "subject": subject,
        "municipality": municipality,
        "organisation": organisation,
        "teacher_id": teacher_id,
    }
    return await reading.list_routes(session, principal, filters, overdue=overdue, cursor=cursor, limit=limit)


@router.get("/mine", response_model=RoutePage, summary="The calling teacher's own routes (personal cabinet)")
async def list_my_routes(principal: RouteOwner, session: DbSession) -> Response:
    return Response(dumps(await reading.own_routes(session, principal)), media_type="application/json")


@router.get(
    "/stats",
    response_model=RouteStats,
    summary="Route statistics in your scope: KPI counts and the school's workspace",
    description="Counts for the KPIs, routes by status and support group, overdue control points and the tutors' "
    "load; a school deputy gets their school's.",
)
async def route_stats(
    principal: StatsReader,
    session: DbSession,
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32, description="One school"),
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, Any]:
    return await stats_service.stats(
        session,
        principal,
        municipality=municipality,
        organisation=organisation,
        date_from=date_from,
        date_to=date_to,
    )


@router.get("/outcomes", response_model=OutcomePage, summary="Per-route outcomes for effectiveness analysis")
async def route_outcomes(
    principal: Analyst,
    session: DbSession,
    municipality: str | None = Query(default=None, max_length=32),
    mentored: bool | None = Query(
        default=None, description="only the routes with a mentor (true) or without one (false); all when absent"
    ),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=200, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    return await reading.outcomes(session, principal, municipality, cursor, limit, mentored=mentored)


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
    body: GenerateRequest,
    principal: Generator,
    session: DbSession,
    client: Gateway,
    resource_map: ResourceMap,
    settings: Settings,
) -> dict[str, int]:
    outcome = await generating.generate_now(session, principal, body, client, resource_map, settings)
    return outcome.as_dict()


@router.get(
    "/{route_id}",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Read a route",
    responses={
        **problem_responses(404),
        304: {"description": "Not modified: the If-None-Match you sent names the current version"},
    },
)
async def get_route(
    route_id: uuid.UUID,
    principal: CurrentPrincipal,
    reader: Reader,
    if_none_match: str | None = Header(
        default=None, description="The ETag of your copy: 304 without a body while the route has not changed"
    ),
) -> Response:
    # The portal's hottest read (services.routes.reader; RouteRead answers its successes before FastAPI).
    answer = await reader.read(principal, route_id, if_none_match)
    if answer is None:
        raise NotFound("Маршрут не найден", code="route-not-found")
    status_code, headers, body = answer
    return Response(body, status_code=status_code, headers={k.decode(): v.decode() for k, v in headers})


def get_route_operation() -> BaseRoute:
    """The documented GET /routes/{route_id} (services.routes.reader.RouteRead answers its successes)."""
    return next(r for r in router.routes if getattr(r, "name", None) == get_route.__name__)


@router.get(
    "/{route_id}/print",
    response_class=Response,
    summary="The route as a document in the ИОМ format: HTML (default), DOCX or PDF (A4)",
    description="Personal, professional and competency profiles, the professional request, the goals-and-tasks "
    "table, control points, recommendations, reflection, the self-check sheet and the approvals, in Russian, "
    "with the school and municipality by name. DOCX is made from a Word template a methodologist may edit.",
    responses={
        **problem_responses(404),
        200: {"content": {"text/html": {}, DOCX_MEDIA_TYPE: {}, "application/pdf": {}}},
    },
)
async def print_route(
    route_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    resource_map: ResourceMap,
    format: PrintFormat = Query(default=PrintFormat.html, description="html, docx or pdf"),
) -> Response:
    printed = await reading.printable(session, principal, route_id, format.value, resource_map.directory)
    headers = {}
    if format != PrintFormat.html:
        headers["Content-Disposition"] = f'attachment; filename="iom-{route_id}.{printed.extension}"'
    return Response(printed.body, media_type=printed.media_type, headers=headers)


@router.get("/{route_id}/history", response_model=list[HistoryEntry], summary="Immutable history of a route")
async def route_history(route_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> list[dict[str, Any]]:
    return await reading.history(session, principal, route_id)


@router.get("/{route_id}/versions", summary="Content versions of a route (corrections while it runs)")
async def route_versions(route_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> list[dict[str, Any]]:
    return await reading.versions(session, principal, route_id)


@router.post(
    "/{route_id}/transitions",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Move a route along the regional regulation (If-Match required)",
    responses=problem_responses(404, 409, 412, 428),
)
async def transition_route(
    route_id: uuid.UUID,
    body: TransitionRequest,
    principal: CurrentPrincipal,
    change: RouteForChange,
    client: Gateway,
    response: Response,
) -> dict[str, Any]:
    return respond(await lifecycle.transition(change, principal, body, client), principal, response)


@router.post(
    "/{route_id}/audited",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Mark a completed route audited (the audit service; idempotent per audit)",
    responses=problem_responses(404, 409),
)
async def mark_route_audited(
    route_id: uuid.UUID, body: AuditedRequest, principal: AuditRecorder, session: DbSession, response: Response
) -> dict[str, Any]:
    return respond(await lifecycle.mark_audited(session, principal, route_id, body), principal, response)


@router.put(
    "/{route_id}/request",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="The teacher writes the professional request (section 4)",
    responses=problem_responses(404, 409, 412, 428),
)
async def update_professional_request(
    route_id: uuid.UUID,
    body: RequestUpdate,
    change: RouteForChange,  # in scope and current first (404, 428, 412), then the role (403)
    principal: RequestWriter,
    response: Response,
) -> dict[str, Any]:
    return respond(await editing.write_request(change, principal, body), principal, response)


@router.post(
    "/{route_id}/recommendations",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="The centre adds a recommendation (section 6)",
    responses=problem_responses(404, 409, 412, 428),
)
async def add_recommendation(
    route_id: uuid.UUID,
    body: RecommendationCreate,
    change: RouteForChange,  # in scope and current first (404, 428, 412), then the role (403)
    principal: Recommender,
    response: Response,
) -> dict[str, Any]:
    return respond(await editing.add_recommendation(change, principal, body), principal, response)


@router.patch(
    "/{route_id}/tasks/{task_id}",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Change a task: correct generated fields (with a reason), choose a form, report progress",
    responses=problem_responses(404, 409, 412, 428),
)
async def update_task(
    route_id: uuid.UUID,
    task_id: str,
    body: TaskUpdate,
    change: RouteForChange,  # in scope and current first (404, 428, 412), then the role (403)
    principal: Editor,
    response: Response,
) -> dict[str, Any]:
    return respond(await editing.update_task(change, principal, task_id, body), principal, response)


@router.put(
    "/{route_id}/self-check",
    response_model=RouteRead,
    response_model_exclude_unset=True,
    summary="Score the criteria people judge (2, 3, 5, 7, 10)",
    responses=problem_responses(404, 409, 412, 428),
)
async def score_self_check(
    route_id: uuid.UUID,
    body: SelfCheckUpdate,
    change: RouteForChange,  # in scope and current first (404, 428, 412), then the role (403)
    principal: SelfCheckScorer,
    response: Response,
) -> dict[str, Any]:
    return respond(await editing.score_self_check(change, principal, body), principal, response)
