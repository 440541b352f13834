"""Authoring a route by the regulation (steps 1-3, and corrections while it runs): the professional profile,
goals and tasks, written by the teacher or by the school deputy for a teacher of the school.

Every change is an override (services.routes.content.apply_overrides), so it survives a regeneration of the
draft; it is stored through editing.save_content (If-Match, the history, a new content version while the route
runs). The rules (when, what a text must be, the constructor) are services.routes.authoring."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from kit.auth import Principal
from kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.routes.authoring import (
    check_texts,
    constructed_task,
    constructor_view,
    course_fits,
    may_author,
    rules,
)
from services.routes.authoring_schemas import GoalCreate, GoalUpdate, ProfessionalProfileUpdate, TaskCreate
from services.routes.content import apply_overrides, find_goal, find_task
from services.routes.control_points import presented
from services.routes.labels import STATUS_RU
from services.routes.service.editing import save_content
from services.routes.service.route_access import Change
from services.routes.workflow import Action, Status


def constructor() -> dict[str, Any]:
    """The task constructor and the problem-statement templates, in Russian, from the reference data."""
    return constructor_view()


async def _returned(change: Change) -> bool:
    """Whether the route's last step was a return for correction."""
    steps = [h for h in await change.repo.history(change.row["id"]) if h["from_status"] is not None]
    return bool(steps) and steps[-1]["action"] == Action.return_for_correction.value


async def _authorable(change: Change) -> dict[str, Any]:
    """The route's content as it stands (409 when the route is not open to its author now)."""
    row = change.row
    status = Status(row["status"])
    if not may_author(status, status not in {Status.draft, Status.in_progress} and await _returned(change)):
        raise Conflict(
            f"Маршрут в статусе «{STATUS_RU[status]}» не редактируется: его правят в черновике, "
            "после возврата на доработку или во время реализации",
            code="route-not-editable",
        )
    return apply_overrides(row["content"], [])


def _override(principal: Principal, target: str, **fields: Any) -> dict[str, Any]:
    return {"target": target, **fields, "by": principal.sub, "at": datetime.now(UTC).isoformat()}


async def _store(change: Change, principal: Principal, override: dict[str, Any], reason: str, action: str) -> Any:
    content = apply_overrides(change.row["content"], [override])
    overrides = [*change.row["overrides"], override]
    return await save_content(change, principal, content, overrides, reason, action[:40])


async def write_profile(
    change: Change, principal: Principal, body: ProfessionalProfileUpdate, today: date
) -> dict[str, Any]:
    """Section 2: achievements and the courses of the last three years, replacing the previous ones."""
    await _authorable(change)
    years = rules().course_years
    old = [
        FieldError(
            loc=["body", "courses", i, "year"],
            code="course-too-old",
            message=f"Курс {c.year} года не входит в последние {years} года",
        )
        for i, c in enumerate(body.courses)
        if not course_fits(c.year, today)
    ]
    if old:
        raise ValidationFailed("В профиль входят курсы последних трёх лет", errors=old)
    value = {"achievements": body.achievements, "courses_last_3_years": [c.model_dump() for c in body.courses]}
    override = _override(principal, "profile", value=value)
    content = apply_overrides(change.row["content"], [override])
    overrides = [*(o for o in change.row["overrides"] if o.get("target") != "profile"), override]
    return await save_content(change, principal, content, overrides, "профессиональный профиль", "profile")


def _goal_of(content: dict[str, Any], goal_id: str) -> dict[str, Any]:
    goal = find_goal(content, goal_id)
    if goal is None:
        raise NotFound("Такой цели в маршруте нет", code="goal-not-found")
    return goal


def _too_many(what: str, limit: int) -> ValidationFailed:
    return ValidationFailed(
        f"В маршруте не больше {limit} {what}",
        errors=[FieldError(loc=["body"], code="too-many", message=f"Допускается не больше {limit} {what}")],
    )


async def add_goal(change: Change, principal: Principal, body: GoalCreate) -> dict[str, Any]:
    """A goal (the problem of the period) a person adds; its tasks are added next."""
    content = await _authorable(change)
    check_texts({"problem": body.problem})
    if len(content["sections"].get("goals", [])) >= rules().max_goals:
        raise _too_many("целей", rules().max_goals)
    goal: dict[str, Any] = {
        "id": f"G-{uuid.uuid4().hex[:8]}",
        "competency": None,
        "competency_name": body.direction,
        "problem": body.problem,
        "reason": {"rule": "цель сформулирована при составлении маршрута"},
        "tasks": [],
    }
    override = _override(principal, "goal_added", value=goal)
    return await _store(change, principal, override, "цель добавлена", f"goal_added:{goal['id']}")


async def update_goal(change: Change, principal: Principal, goal_id: str, body: GoalUpdate) -> dict[str, Any]:
    """Change a goal's problem or direction; a goal built from a deficit changes only with a reason."""
    content = await _authorable(change)
    goal = _goal_of(content, goal_id)
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    if not changes:
        raise ValidationFailed(
            "Нечего менять", errors=[FieldError(loc=["body"], code="empty", message="Не указано ни одно поле")]
        )
    if "problem" in changes:
        check_texts({"problem": body.problem})
    if (goal.get("reason") or {}).get("deficit") and not body.reason:
        raise ValidationFailed(
            "Изменение сформированного содержания требует причины",
            errors=[FieldError(loc=["body", "reason"], code="required", message="Укажите причину изменения")],
        )
    fields = {"problem": "problem", "direction": "competency_name"}
    now = datetime.now(UTC).isoformat()
    kept = [
        o
        for o in change.row["overrides"]
        if not (o.get("target") == "goal" and o.get("goal_id") == goal_id and o.get("field") in fields.values())
    ]
    changed = [
        {"target": "goal", "goal_id": goal_id, "field": fields[k], "value": v, "by": principal.sub, "at": now}
        for k, v in changes.items()
    ]
    content = apply_overrides(change.row["content"], changed)
    reason = body.reason or "цель изменена"
    return await save_content(change, principal, content, kept + changed, reason, f"goal:{goal_id}"[:40])


async def remove_goal(change: Change, principal: Principal, goal_id: str) -> dict[str, Any]:
    """Remove a goal with its tasks and their control points."""
    _goal_of(await _authorable(change), goal_id)
    override = _override(principal, "goal_removed", goal_id=goal_id)
    return await _store(change, principal, override, "цель удалена", f"goal_removed:{goal_id}")


def _task_texts(body: TaskCreate, goal: dict[str, Any]) -> tuple[dict[str, str], str]:
    """The task's formulation and result form, and the rule that made them (the constructor, or free text)."""
    if body.constructor is not None:
        if body.formulation or body.result_form:
            raise ValidationFailed(
                "Задача строится либо по конструктору, либо свободно",
                errors=[
                    FieldError(
                        loc=["body", "constructor"],
                        code="one-of",
                        message="Укажите строку конструктора или формулировку с формой результата, но не то и другое",
                    )
                ],
            )
        pick = body.constructor
        texts = constructed_task(
            body.kind.value, pick.row, pick.formulation, pick.result_form, goal.get("competency_name")
        )
        return texts, f"задача построена по строке {pick.row + 1} конструктора задач"
    check_texts({"formulation": body.formulation, "result_form": body.result_form})
    return {
        "formulation": str(body.formulation),
        "result_form": str(body.result_form),
    }, "задача сформулирована свободно"


def _dates(body: TaskCreate, content: dict[str, Any]) -> tuple[str, str]:
    period = content.get("period") or {}
    starts = body.starts_on.isoformat() if body.starts_on else str(period.get("start"))
    ends = body.ends_on.isoformat() if body.ends_on else str(period.get("end"))
    if ends < starts:
        raise ValidationFailed(
            "Срок задачи указан неверно",
            errors=[FieldError(loc=["body", "ends_on"], code="before-start", message="Задача кончается раньше начала")],
        )
    return starts, ends


async def add_task(change: Change, principal: Principal, goal_id: str, body: TaskCreate) -> dict[str, Any]:
    """A task added to a goal: from one row of the constructor, or written freely (checked)."""
    content = await _authorable(change)
    goal = _goal_of(content, goal_id)
    if len(goal.get("tasks", [])) >= rules().max_tasks_per_goal:
        raise _too_many("задач в одной цели", rules().max_tasks_per_goal)
    texts, rule = _task_texts(body, goal)
    starts, ends = _dates(body, content)
    task: dict[str, Any] = {
        "id": f"T-{uuid.uuid4().hex[:8]}",
        "kind": body.kind.value,
        "formulation": texts["formulation"],
        "forms": [],
        "chosen_resource_id": None,
        "starts_on": starts,
        "ends_on": ends,
        "control_point": {"date": ends, "what": presented(texts["result_form"])},
        "result_form": texts["result_form"],
        "reason": {"rule": rule},
    }
    override = _override(principal, "task_added", goal_id=goal_id, value=task)
    return await _store(change, principal, override, "задача добавлена", f"task_added:{task['id']}")


async def remove_task(change: Change, principal: Principal, task_id: str) -> dict[str, Any]:
    """Remove a task and its control points (the seat of its chosen form is released)."""
    if find_task(await _authorable(change), task_id) is None:
        raise NotFound("Такой задачи в маршруте нет", code="task-not-found")
    override = _override(principal, "task_removed", task_id=task_id)
    return await _store(change, principal, override, "задача удалена", f"task_removed:{task_id}")
