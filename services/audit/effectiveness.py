"""Effectiveness of measures: re-assessment after a completed route against teachers without one (no I/O)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.audit.clients import Reassessment, RouteOutcome

FINISHED = frozenset({"completed", "audited", "archived"})
NO_MENTOR = "none"


@dataclass
class Tally:
    """Counts over teachers; shares are derived only when there are enough teachers to read them."""

    teachers: int = 0
    deficits_before: int = 0
    deficits_closed: int = 0
    improved: int = 0
    same: int = 0
    declined: int = 0
    level_change: int = 0

    def add(self, r: Reassessment) -> None:
        self.teachers += 1
        self.deficits_before += len(r.before.deficits)
        self.deficits_closed += len(r.before.deficits - r.after.deficits)
        delta = r.after.level - r.before.level
        self.level_change += delta
        if delta > 0:
            self.improved += 1
        elif delta < 0:
            self.declined += 1
        else:
            self.same += 1


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval of a share, in percent."""
    if n == 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return round(100 * max(0.0, centre - half), 1), round(100 * min(1.0, centre + half), 1)


def tally_json(t: Tally, min_group: int) -> dict[str, Any]:
    reliable = t.teachers >= min_group
    out: dict[str, Any] = {
        "teachers": t.teachers,
        "deficits_before": t.deficits_before,
        "deficits_closed": t.deficits_closed,
        "improved": t.improved,
        "same": t.same,
        "declined": t.declined,
        "reliable": reliable,
        "closed_share": None,
        "improved_share": None,
        "improved_share_ci95": None,
        "mean_level_change": None,
    }
    if reliable:
        out["closed_share"] = round(100 * t.deficits_closed / t.deficits_before, 1) if t.deficits_before else None
        out["improved_share"] = round(100 * t.improved / t.teachers, 1)
        ci = wilson(t.improved, t.teachers)
        out["improved_share_ci95"] = list(ci) if ci else None
        out["mean_level_change"] = round(t.level_change / t.teachers, 2)
    return out


def _route_for(routes: list[RouteOutcome], r: Reassessment) -> RouteOutcome | None:
    """The latest route in the subject finished between the two assessments (what the re-assessment measures)."""
    best: RouteOutcome | None = None
    for route in routes:
        done = route.completed_at
        if route.status not in FINISHED or done is None or (route.subject and route.subject != r.subject):
            continue
        if r.before.assessed_at <= done <= r.after.assessed_at and (best is None or done > (best.completed_at or done)):
            best = route
    return best


def compute_effectiveness(
    outcomes: Iterable[RouteOutcome], reassessments: Iterable[Reassessment], *, min_group: int
) -> dict[str, Any]:
    """Deficits closed and level movement after a route, by resource kind, mentor, municipality and group.

    A teacher re-assessed in two subjects counts once per subject.
    """
    routes_by_teacher: dict[str, list[RouteOutcome]] = defaultdict(list)
    for o in outcomes:
        routes_by_teacher[o.teacher_id].append(o)
    with_route, without_route = Tally(), Tally()
    by_kind: dict[str, Tally] = defaultdict(Tally)
    by_mentor: dict[str, Tally] = defaultdict(Tally)
    by_mun: dict[str, tuple[Tally, Tally]] = defaultdict(lambda: (Tally(), Tally()))
    by_group: dict[int, tuple[Tally, Tally]] = defaultdict(lambda: (Tally(), Tally()))
    for r in reassessments:
        route = _route_for(routes_by_teacher.get(r.teacher_id, []), r)
        if route is None:
            without_route.add(r)
            by_mun[r.municipality][1].add(r)
            by_group[r.before.level][1].add(r)
            continue
        with_route.add(r)
        for kind in route.resource_kinds:
            by_kind[kind].add(r)
        by_mentor[route.mentor_id or NO_MENTOR].add(r)
        by_mun[r.municipality][0].add(r)
        by_group[route.group][0].add(r)

    w, wo = tally_json(with_route, min_group), tally_json(without_route, min_group)

    def diff(field: str) -> float | None:
        a, b = w[field], wo[field]
        return round(a - b, 1) if a is not None and b is not None else None

    def pair(key: Any, tallies: tuple[Tally, Tally]) -> dict[str, Any]:
        return {
            "key": str(key),
            "with_route": tally_json(tallies[0], min_group),
            "without_route": tally_json(tallies[1], min_group),
        }

    return {
        "min_group_size": min_group,
        "with_route": w,
        "without_route": wo,
        "difference": {
            "closed_share_pp": diff("closed_share"),
            "improved_share_pp": diff("improved_share"),
        },
        "by_resource_kind": [{"key": k, "with_route": tally_json(t, min_group)} for k, t in sorted(by_kind.items())],
        "by_mentor": [{"key": k, "with_route": tally_json(t, min_group)} for k, t in sorted(by_mentor.items())],
        "by_municipality": [pair(k, v) for k, v in sorted(by_mun.items())],
        "by_group": [pair(k, v) for k, v in sorted(by_group.items())],
    }
