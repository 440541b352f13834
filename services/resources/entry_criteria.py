"""Who becomes a candidate of the methodological active after an assessment campaign, and which entry criteria
hold for each, in Russian (no I/O).

The rule is data (`data/active.json` "entry"): the threshold level (by default elevated or high), the
qualification category (highest), the years of experience (5), the campaign sources that count (ОМК), and the
region's policy: `threshold` makes candidates of those at or above the threshold level; `recommendations`
includes every participant of the campaign (everyone ФИОКО gave recommendations to). The other criteria are
shown, held or not, so the regional centre sees what an order would rest on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.resources.active_vocab import DATA

ENTRY: dict[str, Any] = DATA["entry"]
LEVEL_RANK: dict[str, int] = {x["level"]: x["rank"] for x in ENTRY["levels"]}
LEVEL_LABELS_RU: dict[str, str] = {x["level"]: x["label_ru"] for x in ENTRY["levels"]}
CATEGORY_LABELS_RU: dict[str, str] = ENTRY["categories"]
POLICIES: dict[str, dict[str, Any]] = ENTRY["policies"]
CAMPAIGN_SOURCES: frozenset[str] = frozenset(ENTRY["campaign_sources"])
DEFAULT_POLICY: str = ENTRY["default_policy"]


@dataclass(frozen=True)
class EntryRules:
    policy: str
    min_level: str
    category: str
    min_experience_years: int
    gate: tuple[str, ...]  # criteria that must hold to become a candidate


@dataclass(frozen=True)
class Criterion:
    code: str  # level, qualification_category, experience
    holds: bool
    text: str  # what a person reads, in Russian

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "holds": self.holds, "text": self.text}


def rules_for(policy: str | None = None) -> EntryRules:
    name = policy or DEFAULT_POLICY
    return EntryRules(
        policy=name,
        min_level=ENTRY["min_level"],
        category=ENTRY["qualification_category"],
        min_experience_years=int(ENTRY["min_experience_years"]),
        gate=tuple(POLICIES[name]["gate"]),
    )


def years_ru(n: int) -> str:
    """«1 год», «3 года», «5 лет», «21 год», «11 лет»."""
    if n % 10 == 1 and n % 100 != 11:
        word = "год"
    elif n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        word = "года"
    else:
        word = "лет"
    return f"{n} {word}"


def level_criterion(level: str, rules: EntryRules) -> Criterion:
    got, need = LEVEL_LABELS_RU.get(level, "не определён"), LEVEL_LABELS_RU[rules.min_level]
    if LEVEL_RANK.get(level, 0) >= LEVEL_RANK[rules.min_level]:
        return Criterion("level", True, f"Уровень по результатам оценки — {got}: не ниже порогового ({need})")
    return Criterion("level", False, f"Уровень по результатам оценки — {got}: ниже порогового ({need})")


def category_criterion(category: str | None, rules: EntryRules) -> Criterion:
    need = CATEGORY_LABELS_RU[rules.category]
    if category is None:
        return Criterion("qualification_category", False, f"Квалификационная категория не известна; требуется {need}")
    got = CATEGORY_LABELS_RU.get(category, "не известна")
    if category == rules.category:
        return Criterion("qualification_category", True, f"Квалификационная категория — {got}, как требуется")
    return Criterion("qualification_category", False, f"Квалификационная категория — {got}; требуется {need}")


def experience_criterion(years: int | None, rules: EntryRules) -> Criterion:
    need = years_ru(rules.min_experience_years)
    if years is None:
        return Criterion("experience", False, f"Педагогический стаж не известен; требуется не меньше {need}")
    if years >= rules.min_experience_years:
        return Criterion("experience", True, f"Педагогический стаж — {years_ru(years)}: не меньше {need}")
    return Criterion("experience", False, f"Педагогический стаж — {years_ru(years)}: меньше требуемых {need}")


def entry_criteria(level: str, category: str | None, years: int | None, rules: EntryRules) -> list[Criterion]:
    """Every entry criterion of one participant, in the order people read them."""
    return [
        level_criterion(level, rules),
        category_criterion(category, rules),
        experience_criterion(years, rules),
    ]


def passes_gate(level: str, rules: EntryRules) -> bool:
    """Whether a participant with this level becomes a candidate under the region's policy."""
    return "level" not in rules.gate or level_criterion(level, rules).holds
