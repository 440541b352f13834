"""Editing a route's content: the teacher's request, the centre's recommendations, tasks, self-check scores.

While a route runs, a change of its content is a correction: a new content version, the old one kept."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from kit.auth import Principal
from kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from kit.russian import count
from services.routes.authoring import check_texts
from services.routes.content import apply_overrides, find_task, next_control_on
from services.routes.labels import STATUS_RU
from services.routes.schemas import RecommendationCreate, RequestUpdate, SelfCheckUpdate, TaskUpdate
from services.routes.selfcheck import AUTO_CRITERIA
from services.routes.service import seats
from services.routes.service.route_access import Change
from services.routes.task_edits import check_task_change
from services.routes.workflow import EDITABLE, Status

CONTENT_VERSIONED = frozenset({Status.in_progress})


def ensure_editable(row: dict[str, Any]) -> None:
    status = Status(row["status"])
    if status not in EDITABLE:
        raise Conflict(f"Маршрут в статусе «{STATUS_RU[status]}» изменить нельзя", code="route-not-editable")


async def save_content(
    change: Change,
    principal: Principal,
    content: dict[str, Any],
    overrides: list[dict[str, Any]],
    reason: str,
    action: str,
) -> dict[str, Any]:
    """Store new content; while the route runs, a correction becomes a new content version. Forms newly chosen
    reserve their seats first (409 with alternatives when full: nothing stored); seats no task chooses any more
    (another form chosen, the task removed) are released after."""
    repo, row = change.repo, change.row
    to_release = await seats.reserve_chosen(change.seats, row, content) if change.seats else []
    values: dict[str, Any] = {"content": content, "overrides": overrides, "next_control_on": next_control_on(content)}
    versioned = Status(row["status"]) in CONTENT_VERSIONED
    if versioned:
        values["content_version"] = row["content_version"] + 1
    updated = await change.update(values)
    if versioned:
        await repo.add_version(row["id"], row["content_version"], row["content"], "before correction", principal.sub)
        await repo.add_version(row["id"], updated["content_version"], content, reason, principal.sub)
    await repo.add_event(row["id"], principal, action, comment=reason, content_version=updated["content_version"])
    if change.seats and to_release:
        await seats.release(change.seats, row, to_release)
    return updated


async def write_request(change: Change, principal: Principal, body: RequestUpdate) -> dict[str, Any]:
    """The teacher's professional request (section 4), replacing the previous one."""
    row = change.row
    ensure_editable(row)
    value = {"text": body.text, "interests": body.interests}
    overrides = [o for o in row["overrides"] if o.get("target") != "request"]
    overrides.append({"target": "request", "value": value, "by": principal.sub, "at": datetime.now(UTC).isoformat()})
    content = apply_overrides(row["content"], [overrides[-1]])
    return await save_content(change, principal, content, overrides, "запрос педагога", "request")


async def add_recommendation(change: Change, principal: Principal, body: RecommendationCreate) -> dict[str, Any]:
    """A recommendation of the centre or the municipal service (section 6)."""
    row = change.row
    ensure_editable(row)
    rec = {"text": body.text, "reason": {"rule": "рекомендация специалиста", "by": principal.sub}}
    override = {"target": "recommendation", "value": rec, "by": principal.sub, "at": datetime.now(UTC).isoformat()}
    content = apply_overrides(row["content"], [override])
    return await save_content(
        change, principal, content, [*row["overrides"], override], "рекомендация", "recommendation"
    )


def _task_overrides(
    overrides: list[dict[str, Any]], task_id: str, values: dict[str, Any], reason: str | None, by: str
) -> list[dict[str, Any]]:
    """The manual changes of a route with this task's fields replaced by the new values."""
    now = datetime.now(UTC).isoformat()
    kept = [
        o
        for o in overrides
        if not (o.get("target") == "task" and o.get("task_id") == task_id and o.get("field") in values)
    ]
    changed = [
        {"target": "task", "task_id": task_id, "field": f, "value": v, "reason": reason, "by": by, "at": now}
        for f, v in values.items()
    ]
    return kept + changed


async def update_task(change: Change, principal: Principal, task_id: str, body: TaskUpdate) -> dict[str, Any]:
    """Correct generated fields of a task (with a reason), choose its form or report its progress."""
    row = change.row
    ensure_editable(row)
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    if not changes:
        raise ValidationFailed(
            "Нечего изменять: запрос не содержит изменений",
            errors=[FieldError(loc=["body"], code="empty", message="Укажите хотя бы одно поле")],
        )
    content = apply_overrides(row["content"], [])
    task = find_task(content, task_id)
    if task is None:
        raise NotFound("В этом маршруте нет такой задачи", code="task-not-found")
    check_task_change(principal, Status(row["status"]), task, changes, body.reason)
    # A formulation or result form a person writes is checked like a free task (length, no empty part).
    check_texts({k: changes[k] for k in ("formulation", "result_form") if k in changes})
    values = {k: v.isoformat() if isinstance(v, date) else v for k, v in changes.items()}
    task.update(values)
    if "ends_on" in values:
        task.setdefault("control_point", {})["date"] = task["ends_on"]
    overrides = _task_overrides(list(row["overrides"]), task_id, values, body.reason, principal.sub)
    reason = body.reason or ("выбор формы" if "chosen_resource_id" in changes else "отчёт о выполнении")
    return await save_content(change, principal, content, overrides, reason, f"task:{task_id}")


async def score_self_check(change: Change, principal: Principal, body: SelfCheckUpdate) -> dict[str, Any]:
    """Scores of the criteria people judge; the machine's criteria are refused, and so is any change once
    the route is completed (its self-check is frozen then: the audit starts from it)."""
    repo, row = change.repo, change.row
    status = Status(row["status"])
    if status not in EDITABLE:
        raise Conflict(
            f"Самопроверка маршрута в статусе «{STATUS_RU[status]}» закреплена при завершении и не изменяется",
            code="self-check-frozen",
        )
    bad = [n for n in body.scores if n in AUTO_CRITERIA or not 1 <= n <= 10]
    if bad:
        raise ValidationFailed(
            "Эти критерии оцениваются автоматически или их нет",
            errors=[
                FieldError(
                    loc=["body", "scores", n], code="not-manual", message="Этот критерий оценивается автоматически"
                )
                for n in bad
            ],
        )
    manual = {**row["self_check_manual"], **{str(k): v for k, v in body.scores.items()}}
    updated = await change.update({"self_check_manual": manual})
    scored = ", ".join(f"критерий {k} — {count(v, 'балл', 'балла', 'баллов')}" for k, v in sorted(body.scores.items()))
    await repo.add_event(row["id"], principal, "self_check", comment=f"самопроверка: {scored}")
    return updated
