"""Load the seed data of route generation and analysis from services/routes/data (read once, cached).

No rule lives here: the modules named for a rule (support_groups, form_choice, competency_areas,
selfcheck, ...) read what they need through these loaders."""

from __future__ import annotations

import csv
import json
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
class ConstructorRow:
    formulations: tuple[str, ...]
    result_forms: tuple[str, ...]


@dataclass(frozen=True)
class Constructor:
    """The task constructor: per task kind, rows of formulations and fitting result forms."""

    learning: tuple[ConstructorRow, ...]
    practice_change: tuple[ConstructorRow, ...]

    def rows(self, kind: str) -> tuple[ConstructorRow, ...]:
        return self.learning if kind == "learning" else self.practice_change

    def result_forms(self, kind: str) -> frozenset[str]:
        return frozenset(f for row in self.rows(kind) for f in row.result_forms if f != "и др.")


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
        kinds[t["id"]] = tuple(
            ConstructorRow(tuple(r["task_formulations"]), tuple(r["result_forms"])) for r in t["rows"]
        )
    return Constructor(learning=kinds["learning"], practice_change=kinds["practice_change"])


@lru_cache(maxsize=1)
def problem_statements() -> tuple[str, ...]:
    lines = (DATA / "iom_problem_statements.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


@lru_cache(maxsize=1)
def generation_rules() -> dict[str, Any]:
    """The tables of route generation (data/generation_rules.json), as parsed JSON."""
    return json.loads((DATA / "generation_rules.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]
