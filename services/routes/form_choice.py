"""Which forms of work a task offers: those fitting the task's kind and window, a mix of learning types.

The kinds that suit each task kind are data (data/generation_rules.json, "preferred_kinds")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import TYPE_CHECKING

from services.routes.reference_data import generation_rules

if TYPE_CHECKING:
    from services.routes.generation import Alternative

PICK_RULE = (
    "сначала подходящие к типу задачи, затем по месту в подборе, в сочетании формального, неформального "
    "и информального обучения"
)


@cache
def preferred_kinds(task_kind: str) -> frozenset[str]:
    """Kinds of the resource map that suit a task of this kind (learning, else trying things in practice)."""
    table = generation_rules()["preferred_kinds"]
    return frozenset(table["learning" if task_kind == "learning" else "practice_change"])


def pick_forms(alternatives: Sequence[Alternative], kind: str, start: date, end: date, limit: int) -> list[Alternative]:
    """Choose up to `limit` alternatives for a task window, preferring kinds that fit the task
    and a mix of formal, non-formal and informal learning."""
    if not alternatives:
        return []
    preferred = preferred_kinds(kind)

    def fits(a: Alternative) -> bool:
        if a.starts_on and a.starts_on > end:
            return False
        return not (a.ends_on and a.ends_on < start)

    usable = [a for a in alternatives if fits(a)]
    ranked = sorted(
        usable,
        key=lambda a: (0 if a.kind in preferred else 1, -a.score, a.starts_on or date.max, a.resource_id),
    )
    chosen: list[Alternative] = []
    seen_types: set[str] = set()
    for a in ranked:  # first pass: one per learning type
        if a.learning_type not in seen_types:
            chosen.append(a)
            seen_types.add(a.learning_type)
        if len(chosen) == limit:
            break
    for a in ranked:
        if len(chosen) >= limit:
            break
        if a not in chosen:
            chosen.append(a)
    return chosen
