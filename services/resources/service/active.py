"""The regional methodological active (issue 15): members and candidates in the caller's scope, their status
history, candidates from an ОМК campaign's results, inclusion of a batch by one order, removal with a reason.

Candidates are computed when the regional centre asks (`POST /active/candidates?campaign_id=`), not from the
change feed: results of a campaign arrive in several uploads and corrections, and the centre knows when they
are in; the computation then reads the campaign, every result and each participant's registry record once,
stores the candidates with the criteria that held at that moment, and can be repeated (it recomputes).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import Conflict, FieldError, NotFound, PreconditionFailed, UpstreamUnavailable, ValidationFailed
from kit.pagination import decode_cursor, encode_cursor, key_id, key_text
from kit.versioning import require_if_match
from services.resources.active_repository import ActiveRepository
from services.resources.active_schemas import InclusionCreate, RemovalCreate
from services.resources.active_vocab import BASIS_LABELS_RU, STATUS_LABELS_RU, ActiveStatus, BasisKind
from services.resources.clients import RegistryClient, ResultLevel, TeacherInfo, Unavailable
from services.resources.entry_criteria import (
    CAMPAIGN_SOURCES,
    LEVEL_LABELS_RU,
    POLICIES,
    EntryRules,
    entry_criteria,
    passes_gate,
    rules_for,
)
from services.resources.service.regions import write_region
from services.resources.vocab import SUBJECT_LABELS_RU

STALE_MEMBER_DETAIL = (
    "Данные члена актива изменились с тех пор, как вы их прочитали: прочитайте их заново и повторите изменение"
)
NOT_FOUND_DETAIL = "Член методического актива не найден"


def assessment_down() -> UpstreamUnavailable:
    return UpstreamUnavailable("Сервис оценки сейчас недоступен: повторите позже", code="assessment-unavailable")


def today() -> date:
    return datetime.now(UTC).date()


def present(row: dict[str, Any]) -> dict[str, Any]:
    """A member as the API answers it: codes with their Russian labels, the order and the basis as objects."""
    order = None
    if row.get("order_id") is not None:
        order = {"id": row["order_id"], "number": row["order_number"], "date": row["order_date"]}
    level = row.get("basis_level")
    return {
        **{k: row[k] for k in ("id", "region", "teacher_id", "municipality", "organisation", "subjects")},
        "subject_labels": [SUBJECT_LABELS_RU.get(s, s) for s in row["subjects"]],
        "status": row["status"],
        "status_label": STATUS_LABELS_RU[row["status"]],
        "since": row["since"],
        "order": order,
        "basis": {
            "kind": row["basis_kind"],
            "label": BASIS_LABELS_RU[row["basis_kind"]],
            "campaign": row.get("basis_campaign"),
            "level": level,
            "level_label": LEVEL_LABELS_RU.get(level) if level else None,
        },
        **{k: row.get(k) for k in ("criteria", "left_reason", "mentor_id", "version", "created_at", "updated_at")},
    }


async def list_members(
    session: AsyncSession, principal: Principal, filters: dict[str, Any], *, cursor: str | None, limit: int
) -> dict[str, Any]:
    """Members and candidates in the caller's scope: the region, the municipality, the school, or oneself."""
    after = decode_cursor(cursor, [key_text, key_id])
    rows = await ActiveRepository(session).page(principal, filters=filters, after=after, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["municipality"], str(rows[-1]["id"])])
    return {"items": [present(r) for r in rows], "next_cursor": next_cursor}


async def get_member(session: AsyncSession, principal: Principal, member_id: uuid.UUID) -> dict[str, Any]:
    row = await ActiveRepository(session).get(principal, member_id)
    if row is None:
        raise NotFound(NOT_FOUND_DETAIL, code="member-not-found")
    return present(row)


async def member_history(session: AsyncSession, principal: Principal, member_id: uuid.UUID) -> list[dict[str, Any]]:
    await get_member(session, principal, member_id)
    out = []
    for e in await ActiveRepository(session).events(member_id):
        order = None
        if e["order_id"] is not None:
            order = {"id": e["order_id"], "number": e["order_number"], "date": e["order_date"]}
        out.append({**e, "order": order, "status_label": STATUS_LABELS_RU[e["status_to"]]})
    return out


# ---------------------------------------------------------------- candidates from a campaign


async def read_campaign(registry: RegistryClient, region: str, campaign_id: uuid.UUID) -> tuple[list[ResultLevel], str]:
    """The campaign's results and their teachers from the assessment service (404 / 422 / 503 as problems)."""
    try:
        campaign = await registry.campaign(campaign_id, region)
        if campaign is None:
            raise NotFound("Кампания оценки не найдена", code="campaign-not-found")
        if campaign.source not in CAMPAIGN_SOURCES:
            raise ValidationFailed(
                "Кандидатов в актив отбирают по результатам оценки методических компетенций (ОМК); "
                "выбранная кампания — другая оценка",
                code="not-an-omk-campaign",
            )
        results = await registry.campaign_results(campaign_id, region)
        return results, campaign.subject
    except Unavailable as e:
        raise assessment_down() from e


async def compute_candidates(
    session: AsyncSession,
    principal: Principal,
    registry: RegistryClient,
    campaign_id: uuid.UUID,
    policy: str | None,
) -> dict[str, Any]:
    """Store as candidates the campaign's participants the region's rule admits, each with its criteria."""
    region = write_region(principal)
    rules = rules_for(policy)
    results, subject = await read_campaign(registry, region, campaign_id)
    admitted = [r for r in results if passes_gate(r.level, rules)]
    try:
        teachers = await registry.teachers([r.teacher_id for r in admitted], region)
    except Unavailable as e:
        raise assessment_down() from e
    repo = ActiveRepository(session)
    existing = await repo.by_teachers(region, [r.teacher_id for r in admitted])
    counts = {"added": 0, "updated": 0, "already_members": 0}
    touched: list[uuid.UUID] = []
    for r in admitted:
        outcome = await store_candidate(
            repo, principal, r, teachers.get(r.teacher_id), existing.get(r.teacher_id), campaign_id, subject, rules
        )
        counts[outcome[0]] += 1
        if outcome[1] is not None:
            touched.append(outcome[1])
    return {
        "campaign_id": campaign_id,
        "policy": rules.policy,
        "policy_label": POLICIES[rules.policy]["label_ru"],
        "participants": len(results),
        **counts,
        "items": [present(row) for row in await repo.reread(touched)],
    }


async def store_candidate(
    repo: ActiveRepository,
    principal: Principal,
    result: ResultLevel,
    teacher: TeacherInfo | None,
    current: dict[str, Any] | None,
    campaign_id: uuid.UUID,
    subject: str,
    rules: EntryRules,
) -> tuple[str, uuid.UUID | None]:
    """Insert or refresh one candidate; a member stays a member. Returns (what happened, the member id)."""
    criteria = [
        c.as_json()
        for c in entry_criteria(
            result.level,
            teacher.qualification_category if teacher else None,
            teacher.experience_years if teacher else None,
            rules,
        )
    ]
    basis: dict[str, Any] = {
        "basis_kind": BasisKind.omk.value,
        "basis_campaign": str(campaign_id),
        "basis_level": result.level,
        "criteria": criteria,
        "municipality": teacher.municipality if teacher else result.municipality,
        "organisation": teacher.organisation if teacher else result.organisation,
    }
    if current is not None and current["status"] == ActiveStatus.member:
        return "already_members", None
    if current is None:
        member_id = await repo.insert(
            {
                **basis,
                "region": principal.region,
                "teacher_id": result.teacher_id,
                "subjects": [subject],
                "status": ActiveStatus.candidate.value,
                "since": today(),
            }
        )
        status_from, outcome = None, "added"
    else:
        member_id, status_from = current["id"], current["status"]
        subjects = sorted(set(current["subjects"]) | {subject})
        changes: dict[str, Any] = {**basis, "subjects": subjects}
        if status_from == ActiveStatus.left:
            changes |= {"status": ActiveStatus.candidate.value, "since": today(), "left_reason": None, "order_id": None}
        await repo.update(member_id, changes, None)
        outcome = "updated"
    if status_from != ActiveStatus.candidate:
        await repo.add_event(
            {
                "member_id": member_id,
                "status_from": status_from,
                "status_to": ActiveStatus.candidate.value,
                "happened_on": today(),
                "reason": "Отобран по результатам оценки методических компетенций",
                "recorded_by": principal.sub,
            }
        )
    return outcome, member_id


# ---------------------------------------------------------------- inclusion and removal


def inclusion_problems(body: InclusionCreate, found: dict[uuid.UUID, dict[str, Any]]) -> list[FieldError]:
    """Why members of the batch cannot be included: absent, already members, or read before a change."""
    errors: list[FieldError] = []
    seen: set[uuid.UUID] = set()
    for i, m in enumerate(body.members):
        row = found.get(m.id)
        loc: list[str | int] = ["body", "members", i]
        if m.id in seen:
            errors.append(FieldError(loc=loc, code="duplicate", message="Педагог указан в списке дважды"))
        elif row is None:
            errors.append(FieldError(loc=loc, code="member-not-found", message=NOT_FOUND_DETAIL))
        elif row["status"] == ActiveStatus.member:
            errors.append(FieldError(loc=loc, code="already-member", message="Педагог уже член актива"))
        seen.add(m.id)
    return errors


async def include_by_order(session: AsyncSession, principal: Principal, body: InclusionCreate) -> dict[str, Any]:
    """One order includes a batch of candidates (or those who left); all or none, each as it was read."""
    region = write_region(principal)
    repo = ActiveRepository(session)
    found = await repo.get_many(region, [m.id for m in body.members])
    errors = inclusion_problems(body, found)
    if errors:
        raise ValidationFailed("Приказ не оформлен: исправьте список, ничего не сохранено", errors=errors)
    stale = [i for i, m in enumerate(body.members) if found[m.id]["version"] != m.version]
    if stale:
        raise PreconditionFailed(STALE_MEMBER_DETAIL, code="stale-version")
    order = await repo.order(region, body.order.number, body.order.date, principal.sub)
    for m in body.members:
        await repo.update(
            m.id,
            {
                "status": ActiveStatus.member.value,
                "since": body.order.date,
                "order_id": order["id"],
                "left_reason": None,
            },
            m.version,
        )
        await repo.add_event(
            {
                "member_id": m.id,
                "status_from": found[m.id]["status"],
                "status_to": ActiveStatus.member.value,
                "happened_on": body.order.date,
                "order_id": order["id"],
                "recorded_by": principal.sub,
            }
        )
    included = [present(r) for r in await repo.reread([m.id for m in body.members])]
    return {"order": {"id": order["id"], "number": order["number"], "date": order["issued_on"]}, "included": included}


async def remove_member(
    session: AsyncSession, principal: Principal, member_id: uuid.UUID, body: RemovalCreate, if_match: str | None
) -> dict[str, Any]:
    """A member (or candidate) leaves the active with a reason (If-Match required); their mentoring stops."""
    region = write_region(principal)
    repo = ActiveRepository(session)
    current = await get_member(session, principal, member_id)
    expected = require_if_match(if_match)
    if current["status"] == ActiveStatus.left:
        raise Conflict("Педагог уже выбыл из актива", code="already-left")
    when = body.date or today()
    order_id = None
    if body.order is not None:
        order_id = (await repo.order(region, body.order.number, body.order.date, principal.sub))["id"]
    changes = {"status": ActiveStatus.left.value, "since": when, "left_reason": body.reason}
    if not await repo.update(member_id, changes, expected):
        raise PreconditionFailed(STALE_MEMBER_DETAIL, code="stale-version")
    await repo.add_event(
        {
            "member_id": member_id,
            "status_from": current["status"],
            "status_to": ActiveStatus.left.value,
            "happened_on": when,
            "order_id": order_id,
            "reason": body.reason,
            "recorded_by": principal.sub,
        }
    )
    await repo.stop_mentoring(member_id, when.year, body.reason, principal.sub)
    return await get_member(session, principal, member_id)
