"""Authoring a route by the regulation (steps 1-3, and corrections while it runs), as pure rules.

When a route may be authored (a draft, a route returned for correction, a running route whose change is a
versioned correction), what a text a person writes must be (its length, no placeholder or empty part left),
which courses count (the last three years), the task constructor as a teacher sees it and a task built from
one of its rows. Limits are data (data/authoring.json); the constructor is data/task_constructor.json."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from kit.errors import FieldError, ValidationFailed
from services.routes.labels import KIND_RU
from services.routes.reference_data import DATA, constructor, generation_rules, problem_statements
from services.routes.workflow import Status

# A draft is written and a running route corrected (a new content version); in between, the route is
# under review and is authored only when a reviewer returned it for correction.
AUTHORED_IN = frozenset({Status.draft, Status.in_progress})
COMPETENCY = "{competency}"
# Empty parts of an enumeration: a separator with nothing before or after it.
EMPTY_PART = re.compile(r"(^|[,;/])\s*([,;/]|$)")


@dataclass(frozen=True)
class AuthoringRules:
    course_years: int
    text_min_length: int
    text_max_length: int
    max_goals: int
    max_tasks_per_goal: int
    max_achievements: int
    max_courses: int
    placeholders: tuple[str, ...]
    gap: str


@cache
def rules() -> AuthoringRules:
    raw = json.loads((DATA / "authoring.json").read_text(encoding="utf-8"))
    return AuthoringRules(
        course_years=int(raw["course_years"]),
        text_min_length=int(raw["text_min_length"]),
        text_max_length=int(raw["text_max_length"]),
        max_goals=int(raw["max_goals"]),
        max_tasks_per_goal=int(raw["max_tasks_per_goal"]),
        max_achievements=int(raw["max_achievements"]),
        max_courses=int(raw["max_courses"]),
        placeholders=tuple(raw["placeholders"]),
        gap=str(raw["competency_gap"]),
    )


def may_author(status: Status, returned: bool) -> bool:
    """Whether the teacher (or the school deputy for them) may change the route's content now."""
    return status in AUTHORED_IN or returned


def text_problem(text: str | None) -> tuple[str, str] | None:
    """Why a text a person wrote cannot go into the route: (code, message), or None when it can."""
    r = rules()
    value = (text or "").strip()
    if not value:
        return "empty", "Текст не заполнен"
    if len(value) < r.text_min_length:
        return "too-short", f"Текст слишком короткий: нужно не меньше {r.text_min_length} знаков"
    if len(value) > r.text_max_length:
        return "too-long", f"Текст слишком длинный: допускается не больше {r.text_max_length} знаков"
    left = next((p for p in r.placeholders if p in value), None)
    if left is not None:
        return "placeholder", f"В тексте остался незаполненный пропуск «{left}»: допишите формулировку"
    if EMPTY_PART.search(value):
        return "empty-part", "В перечислении есть пустая часть: уберите лишний знак или допишите её"
    return None


def check_texts(fields: dict[str, str | None]) -> None:
    """422 naming every text (by its field of the body) that cannot go into the route."""
    errors = [
        FieldError(loc=["body", name], code=found[0], message=found[1])
        for name, text in fields.items()
        if (found := text_problem(text)) is not None
    ]
    if errors:
        raise ValidationFailed("Формулировка не подходит для маршрута", errors=errors)


def course_fits(year: int, today: date) -> bool:
    """A course counts in the professional profile when taken in the last `course_years` years."""
    return today.year - rules().course_years < year <= today.year


def _shown(template: str) -> str:
    return template.replace(COMPETENCY, rules().gap)


def constructor_view() -> dict[str, Any]:
    """The constructor in Russian: per task kind its rows (verbs with objects, result forms) and the
    problem-statement templates of the route's first column, all from the reference data."""
    cons = constructor()
    kinds = []
    for kind in ("learning", "practice_change"):
        rows = []
        for i, row in enumerate(cons.rows(kind)):
            rows.append(
                {
                    "row": i,
                    "formulations": [
                        {"index": j, "verb": f.verb, "object": f.object_text, "text": f"{f.verb} {f.object_text}"}
                        for j, f in enumerate(row.offered)
                    ],
                    "result_forms": [
                        {"index": j, "text": _shown(form), "names_direction": COMPETENCY in form}
                        for j, form in enumerate(row.offered_result_forms)
                    ],
                    "source_formulations": list(row.formulations),
                    "source_result_forms": list(row.result_forms),
                }
            )
        label = KIND_RU[kind]
        kinds.append({"kind": kind, "label": label[0].upper() + label[1:], "rows": rows})
    return {"kinds": kinds, "problem_statements": list(problem_statements())}


def _pick(items: tuple[Any, ...], index: int, field: str, what: str) -> Any:
    if not 0 <= index < len(items):
        raise ValidationFailed(
            "Такой строки конструктора нет",
            errors=[FieldError(loc=["body", "constructor", field], code="not-offered", message=f"Нет такого {what}")],
        )
    return items[index]


def constructed_task(kind: str, row: int, formulation: int, result_form: int, direction: str | None) -> dict[str, str]:
    """A task's formulation and result form, both from one row of the constructor; the direction (the
    goal's competency) fills the template and the result forms that name it."""
    rows = constructor().rows(kind)
    picked = _pick(rows, row, "row", "номера строки")
    f = _pick(picked.offered, formulation, "formulation", "номера формулировки в этой строке")
    form = _pick(picked.offered_result_forms, result_form, "result_form", "номера формы результата в этой строке")
    if COMPETENCY in form and not direction:
        raise ValidationFailed(
            "Форма результата называет направление цели, а у цели его нет",
            errors=[
                FieldError(
                    loc=["body", "constructor", "result_form"],
                    code="needs-direction",
                    message="Укажите направление цели или выберите другую форму результата",
                )
            ],
        )
    if direction:
        text = generation_rules()["task_templates"][kind].format(
            verb=f.verb, object=f.object_text, competency=direction, focus=""
        )
    else:
        text = f"{f.verb} {f.object_text}"
    return {"formulation": text, "result_form": form.format(competency=direction or "")}
