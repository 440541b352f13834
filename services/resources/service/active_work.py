"""Expert work and training of the methodological active (issue 15, points 6 and 7).

Expert work: the regional centre assigns a member to a duty (checking extended answers of assessment
participants, judging contest works, selecting effective regional practices) in a subject for a period with a
load, naming the schools whose works are checked; a member never checks their own school's works
(`expert_work.assignment_problems`). Counts per member, subject and duty answer within the caller's scope.

Training: the regional centre enrols members and candidates in courses of the resource map of the same region;
an enrolment is completed with If-Match. Everyone reads them in their scope (a teacher their own).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.errors import Conflict, FieldError, NotFound, PreconditionFailed, ValidationFailed
from kit.pagination import decode_cursor, encode_cursor, key_date, key_id
from kit.versioning import require_if_match
from services.resources.active_repository import ActiveRepository
from services.resources.active_summary import subject_label
from services.resources.active_vocab import (
    DUTIES,
    DUTY_LABELS_RU,
    ENROLMENT_LABELS_RU,
    STATUS_LABELS_RU,
    TRAINING_KINDS,
    ActiveStatus,
)
from services.resources.active_work_repository import ActiveWorkRepository
from services.resources.active_work_schemas import AssignmentCreate, CompletionCreate, EnrolmentCreate
from services.resources.expert_work import assignment_problems
from services.resources.service.active import NOT_FOUND_DETAIL, today
from services.resources.service.regions import write_region

ASSIGNMENT_NOT_FOUND = "Поручение экспертной работы не найдено"
ENROLMENT_NOT_FOUND = "Запись на обучение не найдена"


def page_after(cursor: str | None) -> tuple[date, uuid.UUID] | None:
    after = decode_cursor(cursor, [key_date, key_id])
    return (date.fromisoformat(after[0]), uuid.UUID(after[1])) if after else None


def paged(rows: list[dict[str, Any]], limit: int, key: str, present: Any) -> dict[str, Any]:
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1][key].isoformat(), str(rows[-1]["id"])])
    return {"items": [present(r) for r in rows], "next_cursor": next_cursor}


async def member_or_404(session: AsyncSession, principal: Principal, member_id: uuid.UUID) -> dict[str, Any]:
    member = await ActiveRepository(session).get(principal, member_id)
    if member is None:
        raise NotFound(NOT_FOUND_DETAIL, code="member-not-found")
    return member


# ---------------------------------------------------------------- expert work


def present_assignment(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "duty_label": DUTY_LABELS_RU[row["duty"]],
        "subject_label": subject_label(row["subject"]),
        "unit": DUTIES[row["duty"]]["unit_ru"],
    }


async def create_assignment(session: AsyncSession, principal: Principal, body: AssignmentCreate) -> dict[str, Any]:
    """Assign a member to an expert duty; refused (422, every reason named) for a candidate or one who left, a
    reversed period, a load above the duty's maximum, no schools for a duty that checks works, or the member's
    own school among them."""
    region = write_region(principal)
    member = await member_or_404(session, principal, body.member_id)
    schools = list(dict.fromkeys(body.schools))
    problems = assignment_problems(
        status=member["status"],
        member_school=member["organisation"],
        duty=body.duty.value,
        load=body.load,
        schools=schools,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
    )
    if problems:
        raise ValidationFailed(
            "Поручение не оформлено: исправьте его, ничего не сохранено",
            code="assignment-refused",
            errors=[FieldError(loc=["body", f], code=c, message=m) for f, c, m in problems],
        )
    repo = ActiveWorkRepository(session)
    new_id = await repo.add_assignment(
        {
            "region": region,
            "member_id": body.member_id,
            "duty": body.duty.value,
            "subject": body.subject.value,
            "starts_on": body.starts_on,
            "ends_on": body.ends_on,
            "load": body.load,
            "schools": schools,
            "note": body.note,
            "created_by": principal.sub,
        }
    )
    return await get_assignment(session, principal, new_id)


async def get_assignment(session: AsyncSession, principal: Principal, assignment_id: uuid.UUID) -> dict[str, Any]:
    row = await ActiveWorkRepository(session).assignment(principal, assignment_id)
    if row is None:
        raise NotFound(ASSIGNMENT_NOT_FOUND, code="assignment-not-found")
    return present_assignment(row)


async def list_assignments(
    session: AsyncSession, principal: Principal, filters: dict[str, Any], cursor: str | None, limit: int
) -> dict[str, Any]:
    rows = await ActiveWorkRepository(session).assignments(principal, filters, page_after(cursor), limit + 1)
    return paged(rows, limit, "starts_on", present_assignment)


def totals(rows: list[dict[str, Any]], key: str, label: Any) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        t = out.setdefault(str(r[key]), {"key": str(r[key]), "label": label(r[key]), "assignments": 0, "load": 0})
        t["assignments"] += int(r["assignments"])
        t["load"] += int(r["load"])
    return sorted(out.values(), key=lambda t: t["label"])


async def duty_counts(session: AsyncSession, principal: Principal, filters: dict[str, Any]) -> dict[str, Any]:
    """Assignments and load per member, subject and duty in the caller's scope (in the year when asked)."""
    rows = await ActiveWorkRepository(session).assignment_counts(principal, filters)
    items = [
        {
            **r,
            "assignments": int(r["assignments"]),
            "load": int(r["load"]),
            "subject_label": subject_label(r["subject"]),
            "duty_label": DUTY_LABELS_RU[r["duty"]],
        }
        for r in rows
    ]
    members: dict[uuid.UUID, dict[str, Any]] = {}
    for r in items:
        m = members.setdefault(
            r["member_id"],
            {k: r[k] for k in ("member_id", "teacher_id", "municipality")} | {"assignments": 0, "load": 0},
        )
        m["assignments"] += r["assignments"]
        m["load"] += r["load"]
    return {
        "year": filters.get("year"),
        "items": items,
        "by_member": list(members.values()),
        "by_subject": totals(items, "subject", subject_label),
        "by_duty": totals(items, "duty", DUTY_LABELS_RU.__getitem__),
    }


# ---------------------------------------------------------------- training


def present_enrolment(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "member_status_label": STATUS_LABELS_RU[row["member_status"]],
        "status_label": ENROLMENT_LABELS_RU[row["status"]],
    }


def course_problem(course: dict[str, Any] | None) -> FieldError | None:
    loc: list[str | int] = ["body", "resource_id"]
    if course is None:
        return FieldError(loc=loc, code="resource-not-found", message="В ресурсной карте региона нет такого ресурса")
    if course["kind"] not in TRAINING_KINDS:
        return FieldError(loc=loc, code="not-a-course", message="Зачисляют только на курсы ресурсной карты")
    if course["status"] != "active":
        return FieldError(loc=loc, code="resource-archived", message="Курс снят с ресурсной карты")
    return None


async def enrol(session: AsyncSession, principal: Principal, body: EnrolmentCreate) -> dict[str, Any]:
    """Enrol a member or candidate in a course of the region's resource map (409 when already enrolled)."""
    region = write_region(principal)
    member = await member_or_404(session, principal, body.member_id)
    repo = ActiveWorkRepository(session)
    errors = []
    if member["status"] == ActiveStatus.left:
        errors.append(
            FieldError(
                loc=["body", "member_id"],
                code="member-left",
                message="Выбывшего из актива не зачисляют на обучение",
            )
        )
    problem = course_problem(await repo.course(region, body.resource_id))
    if problem is not None:
        errors.append(problem)
    if errors:
        raise ValidationFailed("Запись на обучение не оформлена, ничего не сохранено", errors=errors)
    new_id = await repo.add_enrolment(
        {
            "region": region,
            "member_id": body.member_id,
            "resource_id": body.resource_id,
            "status": "enrolled",
            "enrolled_on": body.enrolled_on or today(),
            "created_by": principal.sub,
        }
    )
    if new_id is None:
        raise Conflict("Педагог уже записан на этот курс", code="already-enrolled")
    return await get_enrolment(session, principal, new_id)


async def get_enrolment(session: AsyncSession, principal: Principal, enrolment_id: uuid.UUID) -> dict[str, Any]:
    row = await ActiveWorkRepository(session).enrolment(principal, enrolment_id)
    if row is None:
        raise NotFound(ENROLMENT_NOT_FOUND, code="enrolment-not-found")
    return present_enrolment(row)


async def list_enrolments(
    session: AsyncSession, principal: Principal, filters: dict[str, Any], cursor: str | None, limit: int
) -> dict[str, Any]:
    rows = await ActiveWorkRepository(session).enrolments(principal, filters, page_after(cursor), limit + 1)
    return paged(rows, limit, "enrolled_on", present_enrolment)


async def complete_enrolment(
    session: AsyncSession,
    principal: Principal,
    enrolment_id: uuid.UUID,
    body: CompletionCreate,
    if_match: str | None,
) -> dict[str, Any]:
    """The member completed the course (If-Match required; 409 when already completed)."""
    write_region(principal)
    current = await get_enrolment(session, principal, enrolment_id)
    expected = require_if_match(if_match)
    if current["status"] == "completed":
        raise Conflict("Обучение уже отмечено завершённым", code="already-completed")
    when = body.completed_on or today()
    if when < current["enrolled_on"]:
        raise ValidationFailed(
            "Дата завершения раньше даты зачисления",
            errors=[FieldError(loc=["body", "completed_on"], code="before-enrolment", message="Раньше зачисления")],
        )
    if not await ActiveWorkRepository(session).complete(enrolment_id, when, expected):
        raise PreconditionFailed(
            "Запись на обучение изменилась с тех пор, как вы её прочитали: прочитайте её заново",
            code="stale-version",
        )
    return await get_enrolment(session, principal, enrolment_id)
