"""The picture a region reports of its methodological active (issue 15 point 5), as rules without I/O.

"Membership in a year": a member whose status was `member` at any time in that year, read from the status
history (an event sets the status from its day until the next recorded event's day). Members count under each of their
subjects and in their municipality. The need is the teachers in support groups 1-2 (`match_points.weak_group`)
of the latest results per subject and municipality against the members there; the municipalities where it is
highest relative to the active come first: those with need and no member, then by teachers per member
(`data/active.json` "summary" "need_top" says how many are named).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.resources.active_vocab import DATA, ActiveStatus
from services.resources.match_points import weak_group
from services.resources.vocab import SUBJECT_LABELS_RU

NEED_TOP: int = int(DATA["summary"]["need_top"])
NOT_IN_DIRECTORY = "нет в справочнике"


@dataclass(frozen=True)
class Event:
    happened_on: date
    order: int  # the event's id: events apply in the order they were recorded
    status_to: str


@dataclass(frozen=True)
class Member:
    id: Any
    municipality: str
    subjects: tuple[str, ...]
    events: tuple[Event, ...]


def member_periods(events: Iterable[Event]) -> list[tuple[date, date | None]]:
    """The periods with status `member`: [from, until) where until is the next event's day (None: still).
    Events apply in the order they were recorded: an order's date may precede the day its candidates were
    computed, and the inclusion still follows the candidacy."""
    ordered = sorted(events, key=lambda e: e.order)
    out: list[tuple[date, date | None]] = []
    for i, e in enumerate(ordered):
        if e.status_to != ActiveStatus.member:
            continue
        until = ordered[i + 1].happened_on if i + 1 < len(ordered) else None
        if until is None or until > e.happened_on:
            out.append((e.happened_on, until))
    return out


def member_in(events: Iterable[Event], year: int) -> bool:
    """Whether the status was `member` at any time in the year."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    return any(start <= last and (until is None or until > first) for start, until in member_periods(events))


def years_on_record(members: Iterable[Member], today: date) -> list[int]:
    """Every year from the first membership to the last (the current year while anyone is still a member)."""
    starts: list[int] = []
    ends: list[int] = []
    for m in members:
        for start, until in member_periods(m.events):
            starts.append(start.year)
            ends.append(today.year if until is None else until.year)
    if not starts:
        return []
    return list(range(min(starts), max(max(ends), max(starts)) + 1))


def subject_label(code: str) -> str:
    return SUBJECT_LABELS_RU.get(code, "предмет вне справочника")


def by_subject(members: Sequence[Member]) -> list[dict[str, Any]]:
    counts: dict[str, int] = {}
    for m in members:
        for s in m.subjects:
            counts[s] = counts.get(s, 0) + 1
    return [{"subject": s, "label": subject_label(s), "count": counts[s]} for s in sorted(counts)]


def by_municipality(members: Sequence[Member], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every municipality of the directory (zeros included) and any other where a member works."""
    counts = dict.fromkeys(names, 0)
    for m in members:
        counts[m.municipality] = counts.get(m.municipality, 0) + 1
    rows = [{"municipality": c, "name": names.get(c, NOT_IN_DIRECTORY), "count": n} for c, n in counts.items()]
    return sorted(rows, key=lambda r: (r["name"], r["municipality"]))


def without_active(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"municipality": r["municipality"], "name": r["name"]} for r in rows if r["count"] == 0]


def growth(members: Sequence[Member], years: Sequence[int]) -> list[dict[str, Any]]:
    """Members per subject in every year on record."""
    counts: dict[str, dict[str, int]] = {}
    for y in years:
        for m in members:
            if member_in(m.events, y):
                for s in m.subjects:
                    per_year = counts.setdefault(s, {str(x): 0 for x in years})
                    per_year[str(y)] += 1
    return [{"subject": s, "label": subject_label(s), "counts": counts[s]} for s in sorted(counts)]


def weak_teachers(groups: Mapping[int, int]) -> int:
    """Teachers in the support groups that get a mentor or tutor (groups 1-2)."""
    return sum(n for g, n in groups.items() if weak_group(g))


def need(
    group_counts: Mapping[tuple[str, str], Mapping[int, int]],
    members: Sequence[Member],
    names: Mapping[str, str],
    top: int = NEED_TOP,
) -> dict[str, Any]:
    """Per subject and municipality the weak teachers against the members there; the municipalities where
    the need is highest relative to the active."""
    members_at: dict[tuple[str, str], int] = {}
    for m in members:
        for s in m.subjects:
            members_at[(s, m.municipality)] = members_at.get((s, m.municipality), 0) + 1
    weak = {k: weak_teachers(v) for k, v in group_counts.items()}
    items = []
    for subject, mun in sorted(set(weak) | set(members_at)):
        teachers, count = weak.get((subject, mun), 0), members_at.get((subject, mun), 0)
        items.append(
            {
                "subject": subject,
                "label": subject_label(subject),
                "municipality": mun,
                "name": names.get(mun, NOT_IN_DIRECTORY),
                "teachers": teachers,
                "members": count,
                "teachers_per_member": round(teachers / count, 1) if count else None,
            }
        )
    per_mun_teachers: dict[str, int] = {}
    for (_s, mun), n in weak.items():
        per_mun_teachers[mun] = per_mun_teachers.get(mun, 0) + n
    per_mun_members: dict[str, int] = {}
    for m in members:
        per_mun_members[m.municipality] = per_mun_members.get(m.municipality, 0) + 1
    ranked = sorted(
        ((mun, n, per_mun_members.get(mun, 0)) for mun, n in per_mun_teachers.items() if n > 0),
        key=lambda x: (x[2] > 0, -(x[1] / max(x[2], 1)), -x[1], names.get(x[0], NOT_IN_DIRECTORY)),
    )
    highest = [
        {
            "municipality": mun,
            "name": names.get(mun, NOT_IN_DIRECTORY),
            "teachers": n,
            "members": count,
            "teachers_per_member": round(n / count, 1) if count else None,
        }
        for mun, n, count in ranked
    ]
    return {"items": items, "highest": highest[:top]}
