"""Route audit: start from a completed route, review the ten criteria, complete, tell the routes service."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request, Response, status

from kit.auth import CurrentPrincipal, Principal, Role
from kit.client import UpstreamError
from kit.db import DbSession
from kit.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed, problem_responses
from kit.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from kit.versioning import ensure_current, etag, parse_if_match, require_if_match
from services.audit.api.common import (
    AUDITORS,
    BadUpstreamAnswer,
    ensure_role,
    outbox_of,
    settings_of,
    upstream_of,
)
from services.audit.clients import UpstreamShapeError, fetch_route
from services.audit.repository import AuditRepository
from services.audit.schemas import (
    AuditCreate,
    AuditPage,
    AuditRead,
    AuditStats,
    CriterionRead,
    GroupRuleRead,
    ReviewWrite,
)
from services.audit.scoring import (
    GroupRules,
    Procedure,
    Review,
    disagreements,
    final_scores,
    procedure_for,
    requirement,
    weakest_criteria,
)
from services.audit.vocab import CRITERIA_COUNT, criteria

router = APIRouter(prefix="/api/v1/audits", tags=["audits"], responses=problem_responses(401, 403, 422))

READERS = AUDITORS | {Role.service, Role.school_admin, Role.teacher}
STATS_READERS = AUDITORS | {Role.service, Role.school_admin}


def rules_of(request: Request) -> GroupRules:
    s = settings_of(request)
    return GroupRules(
        double_review_groups=frozenset(s.double_review_groups),
        allow_named_second_check=s.allow_named_second_check,
        sample_shares=dict(s.sample_shares),
        sample_salt=s.sample_salt,
    )


def _reviews(rows: list[dict[str, Any]]) -> list[Review]:
    return [Review(r["auditor"], tuple(r["scores"]), r["second_check"] is not None) for r in rows]


def _delivery(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {"status": "not_started"}
    return {
        "status": row["status"],
        "attempts": row["attempts"],
        "last_attempt_at": row["last_attempt_at"],
        "next_attempt_at": row["next_attempt_at"] if row["status"] == "pending" else None,
        "last_status": row["last_status"],
        "last_error": row["last_error"],
        "delivered_at": row["delivered_at"],
    }


async def _read(repo: AuditRepository, row: dict[str, Any], rules: GroupRules) -> dict[str, Any]:
    review_rows = await repo.reviews(row["id"])
    labels = {c.number: c.label for c in criteria()}
    meta = {m["number"]: m for m in row["self_check_meta"]}
    req = requirement(Procedure(row["procedure"]), _reviews(review_rows), row["self_check_scores"], rules)
    final = row["final_scores"]
    return {
        **{
            k: row[k]
            for k in (
                "id",
                "route_id",
                "route_version",
                "teacher_id",
                "region",
                "municipality",
                "organisation",
                "subject",
                "group",
                "procedure",
                "sampled",
                "status",
                "self_check_total",
                "total",
                "created_by",
                "created_at",
                "completed_by",
                "completed_at",
                "version",
            )
        },
        "disagreements": list(row["disagreements"]),
        "prefill": [
            {
                "number": n,
                "label": labels[n],
                "self_score": row["self_check_scores"][n - 1],
                "auto": bool(meta.get(n, {}).get("auto", False)),
                "reason": meta.get(n, {}).get("reason"),
            }
            for n in range(1, CRITERIA_COUNT + 1)
        ],
        "reviews": [
            {
                "auditor": r["auditor"],
                "auditor_name": r["auditor_name"],
                "criteria": [
                    {"number": i + 1, "score": s, "comment": (r["comments"] or [None] * CRITERIA_COUNT)[i]}
                    for i, s in enumerate(r["scores"])
                ],
                "total": sum(r["scores"]),
                "second_check": r["second_check"],
                "created_at": r["created_at"],
                "updated_at": r["updated_at"],
            }
            for r in review_rows
        ],
        "requirement": {
            "met": req.met,
            "reviews_required": req.reviews_required,
            "reviews_done": req.reviews_done,
            "detail": req.detail,
        },
        "criteria": (
            [{"number": i + 1, "label": labels[i + 1], "score": s} for i, s in enumerate(final)] if final else None
        ),
        "delivery": _delivery(await repo.delivery(row["id"])),
    }


@router.get("/criteria", response_model=list[CriterionRead], summary="The ten route-analysis criteria (0/1/2)")
async def list_criteria(principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return [
        {"number": c.number, "label": c.label, "score_labels": list(c.score_labels), "max_score": c.max_score}
        for c in criteria()
    ]


@router.get("/rules", response_model=list[GroupRuleRead], summary="How closely each group's routes are reviewed")
async def list_group_rules(principal: CurrentPrincipal, request: Request) -> list[dict[str, Any]]:
    rules = rules_of(request)
    out: list[dict[str, Any]] = []
    for group in (1, 2, 3, 4):
        if group in rules.double_review_groups:
            out.append(
                {
                    "group": group,
                    "procedure": Procedure.double,
                    "named_second_check_allowed": rules.allow_named_second_check,
                }
            )
        elif group in rules.sample_shares:
            out.append({"group": group, "procedure": Procedure.full, "sample_share": rules.sample_shares[group]})
        else:
            out.append({"group": group, "procedure": Procedure.full})
    return out


@router.get("/stats", response_model=AuditStats, summary="Average per criterion and weakest criteria, by group")
async def audit_stats(
    principal: CurrentPrincipal,
    session: DbSession,
    by: Literal["municipality", "organisation", "auditor"] = "municipality",
    municipality: str | None = Query(default=None, max_length=32),
    date_from: date | None = Query(default=None, description="Audits completed on or after"),
    date_to: date | None = Query(default=None, description="Audits completed on or before"),
) -> dict[str, Any]:
    ensure_role(principal, STATS_READERS, "read audit statistics")
    overall, groups = await AuditRepository(session).stats(
        principal, by=by, municipality=municipality, date_from=date_from, date_to=date_to
    )
    labels = {c.number: c.label for c in criteria()}

    def group(key: str, label: str | None, r: dict[str, Any]) -> dict[str, Any]:
        avgs = [float(r[f"c{i}"]) if r[f"c{i}"] is not None else None for i in range(1, CRITERIA_COUNT + 1)]
        return {
            "key": key,
            "label": label,
            "audits": int(r["audits"]),
            "average_total": round(float(r["average_total"]), 2) if r["average_total"] is not None else None,
            "criteria": [
                {"number": i + 1, "label": labels[i + 1], "average": round(a, 3) if a is not None else None}
                for i, a in enumerate(avgs)
            ],
            "weakest": weakest_criteria(avgs),
        }

    return {
        "by": by,
        "overall": group("all", None, overall),
        "groups": [group(str(g["key"]), g["label"], g) for g in groups],
    }


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AuditRead,
    summary="Start the audit of a completed route (pre-filled from its self-check)",
    responses=problem_responses(404, 409, 502, 503),
)
async def start_audit(
    body: AuditCreate, principal: CurrentPrincipal, session: DbSession, request: Request, response: Response
) -> dict[str, Any]:
    ensure_role(principal, AUDITORS, "audit routes")
    try:
        route = await fetch_route(upstream_of(request), body.route_id)
    except UpstreamShapeError as e:
        raise BadUpstreamAnswer("the routes service answered in an unexpected shape") from e
    except UpstreamError as e:
        raise BadUpstreamAnswer(f"the routes service answered {e.status}") from e
    if route is None or not principal.sees(
        region=route.region, municipality=route.municipality, organisation=route.organisation
    ):
        raise NotFound("route not found", code="route-not-found")
    repo = AuditRepository(session)
    existing = await repo.find_by_route(principal, route.id)
    if existing is not None:
        raise Conflict("this route already has an audit", code="audit-exists", extra={"audit_id": str(existing["id"])})
    if route.status != "completed":
        raise Conflict("only a completed route can be audited", code="route-not-completed")
    rules = rules_of(request)
    procedure, sampled = procedure_for(route.group, route.id, rules)
    row = await repo.insert(
        {
            "route_id": route.id,
            "route_version": route.version,
            "teacher_id": route.teacher_id,
            "region": route.region,
            "municipality": route.municipality,
            "organisation": route.organisation,
            "subject": route.subject,
            "group": route.group,
            "procedure": procedure.value,
            "sampled": sampled,
            "self_check_scores": route.self_check_scores,
            "self_check_meta": route.self_check_meta,
            "self_check_total": route.self_check_total,
            "created_by": principal.sub,
        }
    )
    if not row:
        raise Conflict("this route already has an audit", code="audit-exists")
    response.headers["ETag"] = etag(row["version"])
    response.headers["Location"] = f"/api/v1/audits/{row['id']}"
    return await _read(repo, row, rules)


@router.get("", response_model=AuditPage, summary="List audits in your scope (newest first, keyset pages)")
async def list_audits(
    principal: CurrentPrincipal,
    session: DbSession,
    municipality: str | None = Query(default=None, max_length=32),
    organisation: str | None = Query(default=None, max_length=32),
    status_: Literal["open", "completed"] | None = Query(default=None, alias="status"),
    group: int | None = Query(default=None, ge=1, le=4),
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    ensure_role(principal, READERS, "read audits")
    after = decode_cursor(cursor, 2)
    try:
        key = (str(after[0]), str(uuid.UUID(str(after[1])))) if after else None
        if key:
            datetime.fromisoformat(key[0])
    except ValueError:
        raise ValidationFailed("invalid cursor", code="invalid-cursor") from None
    rows = await AuditRepository(session).list_audits(
        principal,
        municipality=municipality,
        organisation=organisation,
        status=status_,
        group=group,
        after=key,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last["created_at"].isoformat(), str(last["id"])])
    return {"items": rows, "next_cursor": next_cursor}


async def _audit_or_404(
    repo: AuditRepository, principal: Principal, audit_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any]:
    row = await repo.get(principal, audit_id, lock=lock)
    if row is None:
        raise NotFound("audit not found", code="audit-not-found")
    return row


@router.get(
    "/{audit_id}",
    response_model=AuditRead,
    summary="Read an audit with its reviews and delivery state",
    responses=problem_responses(404),
)
async def get_audit(
    audit_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, request: Request, response: Response
) -> dict[str, Any]:
    ensure_role(principal, READERS, "read audits")
    repo = AuditRepository(session)
    row = await _audit_or_404(repo, principal, audit_id)
    response.headers["ETag"] = etag(row["version"])
    return await _read(repo, row, rules_of(request))


@router.put(
    "/{audit_id}/reviews/mine",
    response_model=AuditRead,
    summary="Write or replace your review of the ten criteria (If-Match optional)",
    responses=problem_responses(404, 409, 412),
)
async def put_my_review(
    audit_id: uuid.UUID,
    body: ReviewWrite,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    response: Response,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    ensure_role(principal, AUDITORS, "audit routes")
    repo = AuditRepository(session)
    row = await _audit_or_404(repo, principal, audit_id, lock=True)
    if row["status"] != "open":
        raise Conflict("the audit is completed", code="audit-completed")
    rules = rules_of(request)
    if body.second_check is not None and not rules.allow_named_second_check:
        raise ValidationFailed(
            "named second checks are not allowed here",
            code="second-check-not-allowed",
        )
    expected = parse_if_match(if_match)
    ensure_current(expected, row["version"], "the audit")
    await repo.upsert_review(
        {
            "audit_id": audit_id,
            "auditor": principal.sub,
            "auditor_name": principal.name,
            "scores": [c.score for c in body.criteria],
            "comments": [c.comment or None for c in body.criteria],
            "second_check": body.second_check.model_dump() if body.second_check else None,
        }
    )
    version = await repo.bump(audit_id, row["version"], {})
    if version is None:
        raise PreconditionFailed("the audit changed since you read it", code="stale-version")
    row = await _audit_or_404(repo, principal, audit_id)
    response.headers["ETag"] = etag(row["version"])
    return await _read(repo, row, rules)


@router.post(
    "/{audit_id}/complete",
    response_model=AuditRead,
    summary="Complete the audit (If-Match required); the route is then moved to audited",
    responses=problem_responses(404, 409, 412, 428),
)
async def complete_audit(
    audit_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    ensure_role(principal, AUDITORS, "audit routes")
    expected = require_if_match(if_match)
    repo = AuditRepository(session)
    row = await _audit_or_404(repo, principal, audit_id, lock=True)
    if row["status"] != "open":
        raise Conflict("the audit is already completed", code="audit-completed")
    ensure_current(expected, row["version"], "the audit")
    rules = rules_of(request)
    reviews = _reviews(await repo.reviews(audit_id))
    req = requirement(Procedure(row["procedure"]), reviews, row["self_check_scores"], rules)
    if not req.met:
        raise Conflict(req.detail, code="audit-incomplete")
    final = final_scores(reviews, row["self_check_scores"])
    total = sum(final)
    now = datetime.now(UTC)
    version = await repo.bump(
        audit_id,
        expected,
        {
            "status": "completed",
            "final_scores": final,
            "total": total,
            "disagreements": disagreements(reviews),
            "completed_by": principal.sub,
            "completed_at": now,
        },
    )
    if version is None:
        raise PreconditionFailed("the audit changed since you read it", code="stale-version")
    await repo.add_outbox(
        audit_id, row["route_id"], {"audit_id": str(audit_id), "total": total, "completed_at": now.isoformat()}
    )
    # Runs after the response, i.e. after this transaction committed, so the worker sees the row.
    background.add_task(outbox_of(request).kick)
    row = await _audit_or_404(repo, principal, audit_id)
    response.headers["ETag"] = etag(row["version"])
    return await _read(repo, row, rules)


@router.post(
    "/{audit_id}/delivery/retry",
    response_model=AuditRead,
    summary="Try telling the routes service again now (after a refusal, or to skip the backoff)",
    responses=problem_responses(404, 409),
)
async def retry_delivery(
    audit_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    background: BackgroundTasks,
) -> dict[str, Any]:
    ensure_role(
        principal, frozenset({Role.regional_specialist, Role.admin, Role.municipal_methodologist}), "retry deliveries"
    )
    repo = AuditRepository(session)
    row = await _audit_or_404(repo, principal, audit_id)
    if not await repo.retry_delivery(audit_id):
        raise Conflict("nothing to deliver: the audit is open or already delivered", code="nothing-to-deliver")
    background.add_task(outbox_of(request).kick)
    return await _read(repo, row, rules_of(request))
