"""The route audit procedure: how closely each group is reviewed (the group rule and its sample shares),
when an audit may complete, its final scores and disagreements, and the weakest criteria in statistics."""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from services.audit.vocab import CRITERIA_COUNT, Level

GROUPS: tuple[int, ...] = tuple(int(lv) for lv in Level)


class Procedure(enum.StrEnum):
    """How closely a route is reviewed; weaker groups get closer review."""

    double = "double"  # two auditors, or one auditor and a named second check
    full = "full"  # one auditor scores all ten criteria
    self_check = "self_check"  # sampled out: the teacher's self-check is confirmed unless someone reviews


@dataclass(frozen=True)
class GroupRules:
    """The group rule: groups reviewed by two auditors, and the share of routes sampled for a full review in
    others (the rest are closed on the self-check). AuditSettings can override each part."""

    double_review_groups: frozenset[int]
    allow_named_second_check: bool
    sample_shares: Mapping[int, float]
    sample_salt: str


# The group rule as the regulation sets it; AuditSettings' defaults are read from here.
DEFAULT_GROUP_RULES = GroupRules(
    double_review_groups=frozenset({1}),
    allow_named_second_check=True,
    sample_shares=MappingProxyType({3: 0.3, 4: 0.2}),
    sample_salt="iom-audit-sample",
)


def sample_point(route_id: uuid.UUID, salt: str) -> float:
    """A stable number in [0, 1) for a route: the same route always lands in the same place."""
    digest = hashlib.sha256(f"{salt}:{route_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_sample(route_id: uuid.UUID, share: float, salt: str) -> bool:
    return sample_point(route_id, salt) < share


def procedure_for(group: int, route_id: uuid.UUID, rules: GroupRules) -> tuple[Procedure, bool | None]:
    """Return the procedure for a route and, for sampled groups, whether the route is in the sample."""
    if group in rules.double_review_groups:
        return Procedure.double, None
    share = rules.sample_shares.get(group)
    if share is None:
        return Procedure.full, None
    sampled = in_sample(route_id, share, rules.sample_salt)
    return (Procedure.full if sampled else Procedure.self_check), sampled


def group_table(rules: GroupRules) -> list[dict[str, Any]]:
    """How closely each group's routes are reviewed, as `GET /audits/rules` lists it."""
    out: list[dict[str, Any]] = []
    for group in GROUPS:
        if group in rules.double_review_groups:
            out.append(
                {
                    "group": group,
                    "procedure": Procedure.double,
                    "named_second_check_allowed": rules.allow_named_second_check,
                }
            )
        elif group in rules.sample_shares:
            out.append({"group": group, "procedure": Procedure.full, "sample_share": rules.sample_shares[group]})
        else:
            out.append({"group": group, "procedure": Procedure.full})
    return out


@dataclass(frozen=True)
class Review:
    auditor: str
    scores: tuple[int, ...]
    second_check: bool = False


@dataclass(frozen=True)
class Requirement:
    met: bool
    reviews_required: int
    reviews_done: int
    detail: str


def requirement(
    procedure: Procedure, reviews: Sequence[Review], self_check: Sequence[int | None], rules: GroupRules
) -> Requirement:
    """Whether the reviews gathered so far let the audit complete, and what is still missing."""
    auditors = {r.auditor for r in reviews}
    done = len(auditors)
    if procedure == Procedure.double:
        if done >= 2:
            return Requirement(True, 2, done, "Проверено двумя экспертами")
        if done == 1 and rules.allow_named_second_check and any(r.second_check for r in reviews):
            return Requirement(True, 2, done, "Проверено одним экспертом с именной повторной проверкой")
        needed = "проверка вторым экспертом" + (
            " или именная повторная проверка" if rules.allow_named_second_check else ""
        )
        return Requirement(
            False, 2, done, f"По правилу группы нужна {needed}" if done else "Нужны две экспертные проверки"
        )
    if procedure == Procedure.full:
        if done >= 1:
            return Requirement(True, 1, done, "Проверено")
        return Requirement(False, 1, done, "Нужна полная проверка по десяти критериям")
    if done >= 1:
        return Requirement(True, 0, done, "Проверено, хотя маршрут не попал в выборку")
    if len(self_check) == CRITERIA_COUNT and all(s is not None for s in self_check):
        return Requirement(True, 0, done, "Маршрут не попал в выборку: самопроверка подтверждена")
    return Requirement(
        False, 1, done, "Маршрут не попал в выборку, но самопроверка не завершена: нужна экспертная проверка"
    )


def final_scores(reviews: Sequence[Review], self_check: Sequence[int | None]) -> list[int]:
    """Final score per criterion: the auditors' mean rounded down (disagreement counts against the route).

    With no reviews (a sampled-out route) the complete self-check is confirmed as it is.
    """
    by_auditor = {r.auditor: r for r in reviews}
    if not by_auditor:
        if len(self_check) != CRITERIA_COUNT or any(s is None for s in self_check):
            raise ValueError("the self-check is incomplete")
        return [int(s) for s in self_check if s is not None]
    out = []
    for i in range(CRITERIA_COUNT):
        values = [r.scores[i] for r in by_auditor.values()]
        out.append(sum(values) // len(values))
    return out


def disagreements(reviews: Sequence[Review]) -> list[int]:
    """Criterion numbers on which the auditors gave different scores."""
    by_auditor = {r.auditor: r for r in reviews}
    if len(by_auditor) < 2:
        return []
    return [i + 1 for i in range(CRITERIA_COUNT) if len({r.scores[i] for r in by_auditor.values()}) > 1]


def weakest_criteria(averages: Sequence[float | None], count: int = 3) -> list[int]:
    """Criterion numbers with the lowest averages (ties by number), skipping criteria without data."""
    known = [(a, i + 1) for i, a in enumerate(averages) if a is not None]
    return [n for _, n in sorted(known)[:count]]
