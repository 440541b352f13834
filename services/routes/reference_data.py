"""Load the seed data of route generation and analysis from services/routes/data (read once, cached).

No rule lives here: the modules named for a rule (support_groups, form_choice, competency_areas,
selfcheck, ...) read what they need through these loaders."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Criterion:
    number: int
    title: str
    score_labels: tuple[str, str, str]


@dataclass(frozen=True)
class Formulation:
    """A verb of the constructor and the object written for it: segments (text, case), the first in the case
    the verb governs, the next ones genitive attributes (OpenCorpora case tags: accs, gent, ...)."""

    verb: str
    object: tuple[tuple[str, str], ...]

    @property
    def object_text(self) -> str:
        return " ".join(text for text, _case in self.object)


@dataclass(frozen=True)
class ConstructorRow:
    """One row of the constructor: the source's cells, and what generation offers from them."""

    formulations: tuple[str, ...]  # as the source writes them (with its placeholders)
    result_forms: tuple[str, ...]  # as the source writes them
    offered: tuple[Formulation, ...]  # verbs with their objects, no placeholders
    offered_result_forms: tuple[str, ...]  # may hold {competency}, filled from the route


@dataclass(frozen=True)
class Constructor:
    """The task constructor: per task kind, rows of formulations and fitting result forms."""

    learning: tuple[ConstructorRow, ...]
    practice_change: tuple[ConstructorRow, ...]

    def rows(self, kind: str) -> tuple[ConstructorRow, ...]:
        return self.learning if kind == "learning" else self.practice_change

    def result_forms(self, kind: str) -> frozenset[str]:
        """The result forms a task of this kind may offer (templates: {competency} still unfilled)."""
        return frozenset(f for row in self.rows(kind) for f in row.offered_result_forms)

    def result_form_fits(self, kind: str, text: str) -> bool:
        """Whether a result form (filled from a route) is one the constructor offers for this kind of task."""
        return any(_form_pattern(f).fullmatch(text) for f in self.result_forms(kind))


@lru_cache(maxsize=256)
def _form_pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.escape(template).replace(re.escape("{competency}"), ".+"))


def _row(raw: dict[str, Any]) -> ConstructorRow:
    built = raw["construction"]
    return ConstructorRow(
        formulations=tuple(raw["task_formulations"]),
        result_forms=tuple(raw["result_forms"]),
        offered=tuple(
            Formulation(f["verb"], tuple((str(text), str(case)) for text, case in f["object"]))
            for f in built["formulations"]
        ),
        offered_result_forms=tuple(built["result_forms"]),
    )


@lru_cache(maxsize=1)
def criteria() -> tuple[Criterion, ...]:
    with open(DATA / "iom_criteria.csv", encoding="utf-8") as f:
        return tuple(
            Criterion(int(r["no"]), r["criterion"], (r["score_0"], r["score_1"], r["score_2"]))
            for r in csv.DictReader(f)
        )


@lru_cache(maxsize=1)
def constructor() -> Constructor:
    raw = json.loads((DATA / "task_constructor.json").read_text(encoding="utf-8"))
    kinds: dict[str, tuple[ConstructorRow, ...]] = {}
    for t in raw["task_types"]:
        kinds[t["id"]] = tuple(_row(r) for r in t["rows"])
    return Constructor(learning=kinds["learning"], practice_change=kinds["practice_change"])


@lru_cache(maxsize=1)
def problem_statements() -> tuple[str, ...]:
    lines = (DATA / "iom_problem_statements.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


@lru_cache(maxsize=1)
def generation_rules() -> dict[str, Any]:
    """The tables of route generation (data/generation_rules.json), as parsed JSON."""
    return json.loads((DATA / "generation_rules.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]
