"""What a route of each support group (1 low ... 4 high) looks like: its length in months, whether a
mentor is required, how many forms a task offers, its two tasks, how often its control points come,
who checks them, and its review line.

The numbers and words are data (data/generation_rules.json, "groups"); `group_rules` is their one reader.
A task's verb, object and result forms come from one row of the task constructor: the group names the row
and the formulation within it, never a verb of its own."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from services.routes.form_choice import PICK_RULE
from services.routes.labels import KIND_RU
from services.routes.reference_data import constructor, generation_rules

MENTOR_REQUIRED = "required"


@dataclass(frozen=True)
class TaskRule:
    """What a task of one kind looks like in one group: the verb, its object and the result forms of one
    constructor row."""

    kind: str
    suffix: str
    verb: str
    object: str
    template: str
    result_forms: tuple[str, ...]  # may hold {competency}
    rule: str
    row: int

    def formulation(self, competency: str, focus: str = "") -> str:
        return self.template.format(verb=self.verb, object=self.object, competency=competency, focus=focus)

    def result_form(self, index: int, competency: str) -> str:
        return self.result_forms[index % len(self.result_forms)].format(competency=competency)


@dataclass(frozen=True)
class GroupRules:
    group: int
    months: int  # how long the route runs
    mentor: str  # required | optional | none
    mentoring_programme_years: tuple[int, ...] | None
    alternatives: int  # forms offered per task
    control_every_months: int | None  # interim control points between task ends; None: at task ends only
    checked_by: str  # who checks the control points (a role, in Russian)
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
    for kind, suffix in (("learning", "L"), ("practice_change", "P")):
        pick = g["tasks"][kind]
        row_index, f_index = int(pick["row"]), int(pick["formulation"])
        row = cons.rows(kind)[row_index]
        f = row.offered[f_index]
        tasks.append(
            TaskRule(
                kind=kind,
                suffix=suffix,
                verb=f.verb,
                object=f.object_text,
                template=rules["task_templates"][kind],
                result_forms=row.offered_result_forms,
                rule=(
                    f"группа поддержки {group}: {KIND_RU[kind]} по строке {row_index + 1} конструктора задач "
                    f"(«{f.verb} {f.object_text}»); формы работы: {PICK_RULE}"
                ),
                row=row_index,
            )
        )
    years = g.get("mentoring_programme_years")
    return GroupRules(
        group=group,
        months=int(g["months"]),
        mentor=str(g["mentor"]),
        mentoring_programme_years=tuple(years) if years is not None else None,
        alternatives=int(g["alternatives"]),
        control_every_months=int(every) if (every := g.get("control_every_months")) else None,
        checked_by=str(g["checked_by"]),
        review=str(g["review"]),
        tasks=(tasks[0], tasks[1]),
    )
