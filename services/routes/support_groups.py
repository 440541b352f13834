"""What a route of each support group (1 low ... 4 high) looks like: its length in months, whether a
mentor is required, how many forms a task offers, its two tasks and its review line.

The numbers and words are data (data/generation_rules.json, "groups"); `group_rules` is their one reader."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from services.routes.form_choice import PICK_RULE
from services.routes.reference_data import constructor, generation_rules

MENTOR_REQUIRED = "required"


@dataclass(frozen=True)
class TaskRule:
    """What a task of one kind looks like in one group: constructor row, verb, fitting result forms."""

    kind: str
    suffix: str
    verb: str
    template: str
    result_forms: tuple[str, ...]
    rule: str


@dataclass(frozen=True)
class GroupRules:
    group: int
    months: int  # how long the route runs
    mentor: str  # required | optional | none
    mentoring_programme_years: tuple[int, ...] | None
    alternatives: int  # forms offered per task
    review: str
    tasks: tuple[TaskRule, TaskRule]  # learning, then practice change

    @property
    def mentor_required(self) -> bool:
        return self.mentor == MENTOR_REQUIRED


@cache
def group_rules(group: int) -> GroupRules:
    """The rules of one support group, worked out once from the seed data (every route of a region uses them)."""
    rules = generation_rules()
    cons = constructor()
    g = rules["groups"][str(group)]
    tasks = []
    for kind, verb, row_index in (
        ("learning", g["learning_verb"], int(g["learning_row"])),
        ("practice_change", g["practice_verb"], int(g["practice_row"])),
    ):
        rows = cons.rows(kind)
        row = rows[min(row_index, len(rows) - 1)]
        tasks.append(
            TaskRule(
                kind,
                "L" if kind == "learning" else "P",
                verb,
                rules["task_templates"][kind],
                tuple(f for f in row.result_forms if f != "и др."),
                f"группа {group}: {kind} — «{verb}», строка {row_index + 1} конструктора задач; формы: {PICK_RULE}",
            )
        )
    years = g.get("mentoring_programme_years")
    return GroupRules(
        group=group,
        months=int(g["months"]),
        mentor=str(g["mentor"]),
        mentoring_programme_years=tuple(years) if years is not None else None,
        alternatives=int(g["alternatives"]),
        review=str(g["review"]),
        tasks=(tasks[0], tasks[1]),
    )
