"""Route audit: start from a completed route, review the ten criteria, complete, tell the routes service."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, BackgroundTasks, Header, Query, Response, status

from kit.auth import CurrentPrincipal
from kit.db import DbSession
from kit.errors import problem_responses
from kit.pagination import MAX_LIMIT
from kit.versioning import etag
from services.audit.auth import Auditor, AuditReader, AuditStatsReader, DeliveryRetrier
from services.audit.deps import Outbox, Rules, UpstreamClient
from services.audit.procedure import group_table
from services.audit.schemas import (
    AuditCreate,
    AuditPage,
    AuditRead,
    AuditStats,
    CriterionRead,
    GroupRuleRead,
    ReviewWrite,
)
from services.audit.service import audits as service

router = APIRouter(prefix="/api/v1/audits", tags=["audits"], responses=problem_responses(401, 403, 422))


def _with_etag(response: Response, audit: dict[str, Any]) -> dict[str, Any]:
    response.headers["ETag"] = etag(audit["version"])
    return audit


@router.get("/criteria", response_model=list[CriterionRead], summary="The ten route-analysis criteria (0/1/2)")
async def list_criteria(principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return service.criteria_list()


@router.get("/rules", response_model=list[GroupRuleRead], summary="How closely each group's routes are reviewed")
async def list_group_rules(principal: CurrentPrincipal, rules: Rules) -> list[dict[str, Any]]:
    return group_table(rules)


@router.get("/stats", response_model=AuditStats, summary="Average per criterion and weakest criteria, by group")
async def audit_stats(
    principal: AuditStatsReader,
    session: DbSession,
    by: Literal["municipality", "organisation", "auditor"] = "municipality",
    municipality: str | None = Query(default=None, max_length=32),
    date_from: date | None = Query(default=None, description="Audits completed on or after"),
    date_to: date | None = Query(default=None, description="Audits completed on or before"),
) -> dict[str, Any]:
    return await service.audit_stats(
        session, principal, by=by, municipality=municipality, date_from=date_from, date_to=date_to
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AuditRead,
    summary="Start the audit of a completed route (pre-filled from its self-check)",
    responses=problem_responses(404, 409, 502, 503),
)
async def start_audit(
    body: AuditCreate,
    principal: Auditor,
    session: DbSession,
    upstream: UpstreamClient,
    rules: Rules,
    response: Response,
) -> dict[str, Any]:
    audit = await service.start_audit(session, upstream, rules, principal, body.route_id)
    response.headers["Location"] = f"/api/v1/audits/{audit['id']}"
    return _with_etag(response, audit)


@router.get("", response_model=AuditPage, summary="List audits in your scope (newest first, keyset pages)")
async def list_audits(
    principal: AuditReader,
    session: DbSession,
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
    status_: Literal["open", "completed"] | None = Query(default=None, alias="status"),
    group: int | None = Query(default=None, ge=1, le=4),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    return await service.list_audits(
        session,
        principal,
        municipality=municipality,
        organisation=organisation,
        status=status_,
        group=group,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/{audit_id}",
    response_model=AuditRead,
    summary="Read an audit with its reviews and delivery state",
    responses=problem_responses(404),
)
async def get_audit(
    audit_id: uuid.UUID, principal: AuditReader, session: DbSession, rules: Rules, response: Response
) -> dict[str, Any]:
    return _with_etag(response, await service.get_audit(session, rules, principal, audit_id))


@router.put(
    "/{audit_id}/reviews/mine",
    response_model=AuditRead,
    summary="Write or replace your review of the ten criteria (If-Match optional)",
    responses=problem_responses(404, 409, 412),
)
async def put_my_review(
    audit_id: uuid.UUID,
    body: ReviewWrite,
    principal: Auditor,
    session: DbSession,
    rules: Rules,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    return _with_etag(response, await service.put_review(session, rules, principal, audit_id, body, if_match))


@router.post(
    "/{audit_id}/complete",
    response_model=AuditRead,
    summary="Complete the audit (If-Match required); the route is then moved to audited",
    responses=problem_responses(404, 409, 412, 428),
)
async def complete_audit(
    audit_id: uuid.UUID,
    principal: Auditor,
    session: DbSession,
    rules: Rules,
    outbox: Outbox,
    response: Response,
    background: BackgroundTasks,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    audit = await service.complete_audit(session, rules, principal, audit_id, if_match)
    # Runs after the response, i.e. after this transaction committed, so the worker sees the row.
    background.add_task(outbox.kick)
    return _with_etag(response, audit)


@router.post(
    "/{audit_id}/delivery/retry",
    response_model=AuditRead,
    summary="Try telling the routes service again now (after a refusal, or to skip the backoff)",
    responses=problem_responses(404, 409),
)
async def retry_delivery(
    audit_id: uuid.UUID,
    principal: DeliveryRetrier,
    session: DbSession,
    rules: Rules,
    outbox: Outbox,
    background: BackgroundTasks,
) -> dict[str, Any]:
    audit = await service.retry_delivery(session, rules, principal, audit_id)
    background.add_task(outbox.kick)
    return audit
