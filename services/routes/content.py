"""Pure helpers over route content: overrides, control points, the view a caller gets."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from kit.auth import Principal, Role
from services.routes.control_points import checker, presented
from services.routes.selfcheck import evaluate
from services.routes.support_groups import group_rules
from services.routes.workflow import Status, allowed_actions


def find_task(content: dict[str, Any], task_id: str) -> dict[str, Any] | None:
    for g in content.get("sections", {}).get("goals", []):
        for t in g.get("tasks", []):
            if t.get("id") == task_id:
                return t  # type: ignore[no-any-return]
    return None


def find_goal(content: dict[str, Any], goal_id: str) -> dict[str, Any] | None:
    for g in content.get("sections", {}).get("goals", []):
        if g.get("id") == goal_id:
            return g  # type: ignore[no-any-return]
    return None


def _point_of(content: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    """The control point at the end of a task a person added: its result presented, checked as the others."""
    points = content.get("control_points") or []
    if points:
        who = str(points[0].get("checked_by"))
    else:
        mentoring = content.get("mentoring") or {}
        who = checker(group_rules(int(content.get("group") or 2)), mentoring.get("label"))
    return {
        "date": str(task["ends_on"]),
        "task_id": task["id"],
        "what": presented(task["result_form"]),
        "checked_by": who,
    }


def _drop_tasks(content: dict[str, Any], task_ids: set[str]) -> None:
    for g in content.get("sections", {}).get("goals", []):
        g["tasks"] = [t for t in g.get("tasks", []) if t.get("id") not in task_ids]
    if "control_points" in content:
        content["control_points"] = [p for p in content["control_points"] if p.get("task_id") not in task_ids]


def _apply_authored(content: dict[str, Any], o: dict[str, Any]) -> None:
    """Goals and tasks added, edited or removed by a person, and the professional profile they wrote."""
    sections = content["sections"]
    target = o.get("target")
    if target == "profile":
        sections["professional_profile"] = {**sections.get("professional_profile", {}), **o["value"]}
    elif target == "goal_added" and find_goal(content, str(o["value"]["id"])) is None:
        sections.setdefault("goals", []).append(copy.deepcopy(o["value"]))
    elif target == "goal" and (goal := find_goal(content, str(o.get("goal_id")))) is not None:
        goal[str(o["field"])] = o["value"]
    elif target == "goal_removed" and (goal := find_goal(content, str(o.get("goal_id")))) is not None:
        _drop_tasks(content, {str(t.get("id")) for t in goal.get("tasks", [])})
        sections["goals"] = [g for g in sections["goals"] if g is not goal]
    elif target == "task_added" and (goal := find_goal(content, str(o.get("goal_id")))) is not None:
        task = copy.deepcopy(o["value"])
        if find_task(content, str(task["id"])) is None:
            goal.setdefault("tasks", []).append(task)
            if "control_points" in content:
                content["control_points"].append(_point_of(content, task))
                content["control_points"].sort(key=lambda p: (str(p["date"]), str(p["task_id"])))
    elif target == "task_removed":
        _drop_tasks(content, {str(o.get("task_id"))})


def apply_overrides(generated: dict[str, Any], overrides: list[dict[str, Any]]) -> dict[str, Any]:
    """Re-apply manual changes, in the order they were made, to freshly generated content: task fields (by
    task id and field), the request, recommendations, the professional profile, and goals and tasks a person
    added, edited or removed (so every authored change survives a regeneration of a draft)."""
    content = copy.deepcopy(generated)
    for o in overrides:
        if o.get("target") == "task":
            task = find_task(content, str(o.get("task_id")))
            if task is not None:
                task[str(o["field"])] = o["value"]
        elif o.get("target") == "request":
            content["sections"]["professional_request"] = o["value"]
        elif o.get("target") == "recommendation":
            content["sections"]["recommendations"].append(o["value"])
        else:
            _apply_authored(content, o)
    return content


def next_control_on(content: dict[str, Any]) -> date | None:
    """Earliest control point of a task not yet done (for the overdue filter)."""
    dates: list[date] = []
    for g in content.get("sections", {}).get("goals", []):
        for t in g.get("tasks", []):
            if t.get("done"):
                continue
            cp = (t.get("control_point") or {}).get("date") or t.get("ends_on")
            try:
                dates.append(date.fromisoformat(str(cp)))
            except ValueError:
                continue
    return min(dates) if dates else None


def chosen_kinds(content: dict[str, Any]) -> list[str]:
    """Kinds of the forms chosen for the route's tasks (sorted, each once)."""
    goals = content.get("sections", {}).get("goals", [])
    kinds = {
        f.get("kind")
        for g in goals
        for t in g.get("tasks", [])
        for f in t.get("forms", [])
        if t.get("chosen_resource_id") and f.get("resource_id") == t.get("chosen_resource_id")
    }
    return sorted(kinds - {None})


# Columns a route's reader never gets: kept for the service itself (or, the manual scores and the one
# frozen at completion, shown as the self-check).
HIDDEN_COLUMNS = frozenset({"self_check_manual", "self_check_at_completion", "period_key", "sources"})


def self_check_of(row: dict[str, Any]) -> dict[str, Any]:
    """The route's self-check: as it stood at completion once the route is completed, else scored now."""
    frozen = row.get("self_check_at_completion")
    if frozen is not None:
        return frozen  # type: ignore[no-any-return]
    manual = {int(k): v for k, v in (row.get("self_check_manual") or {}).items()}
    return evaluate(row["content"], manual)


def route_view(row: dict[str, Any], principal: Principal) -> dict[str, Any]:
    view = {k: v for k, v in row.items() if k not in HIDDEN_COLUMNS}
    view["self_check"] = self_check_of(row)
    view["allowed_actions"] = allowed_actions(Status(row["status"]), principal) if owns(principal, row) else []
    return view


def owns(principal: Principal, row: dict[str, Any]) -> bool:
    """Whether the route's transitions are the caller's to take: a teacher's only on their own route (its
    tutor reads it and records control points, and takes no step of its lifecycle)."""
    return principal.role != Role.teacher or str(row["teacher_id"]) == principal.teacher_id
