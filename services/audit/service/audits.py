"""Route audit: start from a completed route, review the ten criteria, complete, queue news for the routes service."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.client import UpstreamError
from kit.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from kit.pagination import decode_cursor, encode_cursor, key_id, key_time
from kit.versioning import ensure_current, parse_if_match, require_if_match
from services.audit.clients import BadUpstreamAnswer, Upstream, UpstreamShapeError, fetch_route
from services.audit.procedure import (
    GroupRules,
    Procedure,
    Review,
    disagreements,
    final_scores,
    procedure_for,
    requirement,
    weakest_criteria,
)
from services.audit.repository import AuditRepository
from services.audit.schemas import ReviewWrite
from services.audit.vocab import CRITERIA_COUNT, criteria

STALE_AUDIT_DETAIL = "Аудит изменился с тех пор, как вы его прочитали: прочитайте его заново и повторите изменение"

_AUDIT_FIELDS = (
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


def criteria_list() -> list[dict[str, Any]]:
    return [
        {"number": c.number, "label": c.label, "score_labels": list(c.score_labels), "max_score": c.max_score}
        for c in criteria()
    ]


def _labels() -> dict[int, str]:
    return {c.number: c.label for c in criteria()}


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


def _prefill(row: dict[str, Any], labels: dict[int, str]) -> list[dict[str, Any]]:
    meta = {m["number"]: m for m in row["self_check_meta"]}
    return [
        {
            "number": n,
            "label": labels[n],
            "self_score": row["self_check_scores"][n - 1],
            "auto": bool(meta.get(n, {}).get("auto", False)),
            "reason": meta.get(n, {}).get("reason"),
        }
        for n in range(1, CRITERIA_COUNT + 1)
    ]


def _review_json(r: dict[str, Any]) -> dict[str, Any]:
    comments = r["comments"] or [None] * CRITERIA_COUNT
    return {
        "auditor": r["auditor"],
        "auditor_name": r["auditor_name"],
        "criteria": [{"number": i + 1, "score": s, "comment": comments[i]} for i, s in enumerate(r["scores"])],
        "total": sum(r["scores"]),
        "second_check": r["second_check"],
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
    }


async def audit_view(repo: AuditRepository, row: dict[str, Any], rules: GroupRules) -> dict[str, Any]:
    """An audit as AuditRead shows it: the pre-fill, the reviews, what is still required, the delivery."""
    return view_of(row, await repo.reviews(row["id"]), await repo.delivery(row["id"]), rules)


def view_of(
    row: dict[str, Any], review_rows: list[dict[str, Any]], delivery: dict[str, Any] | None, rules: GroupRules
) -> dict[str, Any]:
    """The audit's view from its row, its reviews and its delivery row (the hot read uses it too)."""
    labels = _labels()
    req = requirement(Procedure(row["procedure"]), _reviews(review_rows), row["self_check_scores"], rules)
    final = row["final_scores"]
    return {
        **{k: row[k] for k in _AUDIT_FIELDS},
        "disagreements": list(row["disagreements"]),
        "prefill": _prefill(row, labels),
        "reviews": [_review_json(r) for r in review_rows],
        "requirement": {
            "met": req.met,
            "reviews_required": req.reviews_required,
            "reviews_done": req.reviews_done,
            "detail": req.detail,
        },
        "criteria": (
            [{"number": i + 1, "label": labels[i + 1], "score": s} for i, s in enumerate(final)] if final else None
        ),
        "delivery": _delivery(delivery),
    }


async def _audit_or_404(
    repo: AuditRepository, principal: Principal, audit_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any]:
    row = await repo.get(principal, audit_id, lock=lock)
    if row is None:
        raise NotFound("Аудит не найден", code="audit-not-found")
    return row


def _stats_group(key: str, label: str | None, r: dict[str, Any], labels: dict[int, str]) -> dict[str, Any]:
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


async def audit_stats(
    session: AsyncSession,
    principal: Principal,
    *,
    by: str,
    municipality: str | None,
    date_from: date | None,
    date_to: date | None,
) -> dict[str, Any]:
    overall, groups = await AuditRepository(session).stats(
        principal, by=by, municipality=municipality, date_from=date_from, date_to=date_to
    )
    labels = _labels()
    return {
        "by": by,
        "overall": _stats_group("all", None, overall, labels),
        "groups": [_stats_group(str(g["key"]), g["label"], g, labels) for g in groups],
    }


async def start_audit(
    session: AsyncSession, upstream: Upstream, rules: GroupRules, principal: Principal, route_id: uuid.UUID
) -> dict[str, Any]:
    """Open the audit of a completed route in scope, pre-filled from the route's self-check."""
    try:
        route = await fetch_route(upstream, route_id)
    except UpstreamShapeError as e:
        raise BadUpstreamAnswer("Сервис маршрутов ответил в неожиданном формате") from e
    except UpstreamError as e:
        raise BadUpstreamAnswer(f"Сервис маршрутов ответил ошибкой (код {e.status})") from e
    if route is None or not principal.sees(
        region=route.region, municipality=route.municipality, organisation=route.organisation
    ):
        raise NotFound("Маршрут не найден", code="route-not-found")
    repo = AuditRepository(session)
    existing = await repo.find_by_route(principal, route.id)
    if existing is not None:
        raise Conflict("У этого маршрута уже есть аудит", code="audit-exists", extra={"audit_id": str(existing["id"])})
    if route.status != "completed":
        raise Conflict("Аудит проводится только для завершённого маршрута", code="route-not-completed")
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
        raise Conflict("У этого маршрута уже есть аудит", code="audit-exists")
    return await audit_view(repo, row, rules)


def _audits_cursor(cursor: str | None) -> tuple[str, str] | None:
    after = decode_cursor(cursor, [key_time, key_id])
    return (after[0], after[1]) if after else None


async def list_audits(
    session: AsyncSession,
    principal: Principal,
    *,
    municipality: str | None,
    organisation: str | None,
    status: str | None,
    group: int | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    key = _audits_cursor(cursor)
    rows = await AuditRepository(session).list_audits(
        principal,
        municipality=municipality,
        organisation=organisation,
        status=status,
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


async def get_audit(
    session: AsyncSession, rules: GroupRules, principal: Principal, audit_id: uuid.UUID
) -> dict[str, Any]:
    repo = AuditRepository(session)
    return await audit_view(repo, await _audit_or_404(repo, principal, audit_id), rules)


async def put_review(
    session: AsyncSession,
    rules: GroupRules,
    principal: Principal,
    audit_id: uuid.UUID,
    body: ReviewWrite,
    if_match: str | None,
) -> dict[str, Any]:
    """Write or replace the caller's review of an open audit (If-Match optional)."""
    repo = AuditRepository(session)
    row = await _audit_or_404(repo, principal, audit_id, lock=True)
    if row["status"] != "open":
        raise Conflict("Аудит уже завершён", code="audit-completed")
    if body.second_check is not None and not rules.allow_named_second_check:
        raise ValidationFailed("Именная повторная проверка здесь не допускается", code="second-check-not-allowed")
    ensure_current(parse_if_match(if_match), row["version"], STALE_AUDIT_DETAIL)
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
    if await repo.bump(audit_id, row["version"], {}) is None:
        raise PreconditionFailed(STALE_AUDIT_DETAIL, code="stale-version")
    return await audit_view(repo, await _audit_or_404(repo, principal, audit_id), rules)


async def complete_audit(
    session: AsyncSession, rules: GroupRules, principal: Principal, audit_id: uuid.UUID, if_match: str | None
) -> dict[str, Any]:
    """Complete an audit whose group rule is met and queue "route audited" in the outbox (If-Match required).

    The caller kicks the outbox worker once this transaction is committed.
    """
    expected = require_if_match(if_match)
    repo = AuditRepository(session)
    row = await _audit_or_404(repo, principal, audit_id, lock=True)
    if row["status"] != "open":
        raise Conflict("Аудит уже завершён", code="audit-completed")
    ensure_current(expected, row["version"], STALE_AUDIT_DETAIL)
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
        raise PreconditionFailed(STALE_AUDIT_DETAIL, code="stale-version")
    await repo.add_outbox(
        audit_id, row["route_id"], {"audit_id": str(audit_id), "total": total, "completed_at": now.isoformat()}
    )
    return await audit_view(repo, await _audit_or_404(repo, principal, audit_id), rules)


async def retry_delivery(
    session: AsyncSession, rules: GroupRules, principal: Principal, audit_id: uuid.UUID
) -> dict[str, Any]:
    """Make a completed audit's delivery due now (the caller kicks the outbox worker after the commit)."""
    repo = AuditRepository(session)
    row = await _audit_or_404(repo, principal, audit_id)
    if not await repo.retry_delivery(audit_id):
        raise Conflict("Передавать нечего: аудит ещё открыт или уже передан", code="nothing-to-deliver")
    return await audit_view(repo, row, rules)
