"""Pure helpers over route content: overrides, control points, the view a caller gets."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from kit.auth import Principal
from services.routes.selfcheck import evaluate
from services.routes.workflow import Status, allowed_actions


def find_task(content: dict[str, Any], task_id: str) -> dict[str, Any] | None:
    for g in content.get("sections", {}).get("goals", []):
        for t in g.get("tasks", []):
            if t.get("id") == task_id:
                return t  # type: ignore[no-any-return]
    return None


def apply_overrides(generated: dict[str, Any], overrides: list[dict[str, Any]]) -> dict[str, Any]:
    """Re-apply manual changes (by task id and field) to freshly generated content."""
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
    view["allowed_actions"] = allowed_actions(Status(row["status"]), principal)
    return view
