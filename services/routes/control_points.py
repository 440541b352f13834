"""The control points of a route: when the teacher presents what, and who checks it.

Every task ends with one (its result form is presented). Between task ends a support group may
require interim points (data/generation_rules.json, groups.*.control_every_months: group 1 every
month, group 2 every two months), one per task running at that date. Who checks them is the group's
data too (groups.*.checked_by), with the mentor's name when the route has one.

The route content keeps them as a list `control_points` of {date (ISO), task_id, what, checked_by},
ordered by date; the print and the monthly export read that list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from services.routes.periods import add_months
from services.routes.support_groups import GroupRules

PRESENTING = "Предъявление результата"
# An interim point this close to a task's start or end would repeat that task's own milestone.
MARGIN = timedelta(days=7)


def _lower_first(text: str) -> str:
    """«Выполнение теста» after a colon reads «выполнение теста»; an acronym (ОГЭ, PISA) stays as it is."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def presented(result_form: str) -> str:
    """What a task's last control point presents: «Предъявление результата: выполнение теста»; a result form that
    already says it is presented («Предъявление опыта на семинарах») stands as it is, not «Предъявление
    результата: предъявление опыта…»."""
    form = str(result_form).strip()
    if form.split(maxsplit=1)[:1] == [PRESENTING.split(maxsplit=1)[0]]:
        return form
    return f"{PRESENTING}: {_lower_first(form)}"


def checker(rules: GroupRules, mentor_label: str | None) -> str:
    """Who checks the control points: the group's role, with the mentor's name when known."""
    role = rules.checked_by
    if rules.mentor_required and mentor_label and not mentor_label.lower().startswith(role):
        return f"{role} ({mentor_label})"
    return role


def control_points(
    tasks: Sequence[dict[str, Any]], rules: GroupRules, start: date, end: date, mentor_label: str | None = None
) -> list[dict[str, Any]]:
    """The route's control points from its tasks (each with id, starts_on, ends_on, result_form)."""
    who = checker(rules, mentor_label)
    points: list[dict[str, Any]] = []
    for t in tasks:
        points.append(
            {
                "date": str(t["ends_on"]),
                "task_id": t["id"],
                "what": presented(str(t["result_form"])),
                "checked_by": who,
            }
        )
    every = rules.control_every_months
    if every:
        step = 1
        while (on := add_months(start, step * every)) < end:
            for t in tasks:
                t_start, t_end = date.fromisoformat(str(t["starts_on"])), date.fromisoformat(str(t["ends_on"]))
                if t_start + MARGIN < on < t_end - MARGIN:
                    points.append(
                        {
                            "date": on.isoformat(),
                            "task_id": t["id"],
                            "what": f"Промежуточный результат (в работе): {_lower_first(str(t['result_form']))}; "
                            "отчёт о пройденных мероприятиях",
                            "checked_by": who,
                        }
                    )
            step += 1
    return sorted(points, key=lambda p: (p["date"], str(p["task_id"])))
