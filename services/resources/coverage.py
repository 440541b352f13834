"""Coverage of municipalities and subjects by methodists and resources against demand (no I/O).

A cell (municipality, subject) is `no-demand` (nobody there needs it), `no-methodists` (demand or
unknown demand and no methodist of the subject in the municipality), `short` (demand above the
local free slots), `covered`, or `unknown-demand` (methodists exist but demand is not known).
Who reaches whom is `reach`'s rule: neighbours and remote mentors are counted beside the local ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.resources.reach import mentor_works_remotely, resource_available_in

Demand = Mapping[tuple[str, str], int]


@dataclass(frozen=True, slots=True)
class MentorSupply:
    municipality: str
    subjects: frozenset[str]
    mode: str
    free: int


@dataclass(frozen=True, slots=True)
class ResourceSupply:
    subjects: frozenset[str]
    municipalities: frozenset[str]
    mode: str


@dataclass
class _Supply:
    """Mentors by (municipality, subject) and remote mentors by subject."""

    local: dict[tuple[str, str], list[MentorSupply]]
    remote: dict[str, list[MentorSupply]]
    resources: list[ResourceSupply]

    @classmethod
    def of(cls, mentors: Sequence[MentorSupply], resources: list[ResourceSupply]) -> _Supply:
        local: dict[tuple[str, str], list[MentorSupply]] = defaultdict(list)
        remote: dict[str, list[MentorSupply]] = defaultdict(list)
        for m in mentors:
            for s in m.subjects:
                local[(m.municipality, s)].append(m)
                if mentor_works_remotely(m.mode):
                    remote[s].append(m)
        return cls(local, remote, resources)


def coverage(
    municipalities: Sequence[str],
    demand: Demand | None,
    mentors: Iterable[MentorSupply],
    resources: Iterable[ResourceSupply],
    neighbours: Mapping[str, frozenset[str]],
) -> dict[str, Any]:
    """Cells per municipality and subject, municipalities without methodists, subjects short of them."""
    mentors = list(mentors)
    supply = _Supply.of(mentors, list(resources))
    muns = _municipalities(municipalities, demand, mentors)
    subjects = _subjects(demand, mentors, supply.resources)
    cells = [cell for mun in muns for cell in _municipality_cells(mun, subjects, demand, supply, neighbours)]
    with_mentors = {m.municipality for m in mentors}
    return {
        "municipalities": muns,
        "cells": cells,
        "municipalities_without_methodists": [m for m in muns if m not in with_mentors],
        "subjects_short_of_methodists": subjects_short(subjects, cells, demand is not None),
    }


def _municipalities(given: Sequence[str], demand: Demand | None, mentors: Sequence[MentorSupply]) -> list[str]:
    """The given municipalities and every one a mentor or a demand row names."""
    return sorted(set(given) | {m.municipality for m in mentors} | ({k[0] for k in demand} if demand else set()))


def _subjects(demand: Demand | None, mentors: Sequence[MentorSupply], resources: Sequence[ResourceSupply]) -> list[str]:
    """Every subject a mentor, a resource or a demand row names."""
    return sorted(
        {s for m in mentors for s in m.subjects}
        | {s for r in resources for s in r.subjects}
        | ({k[1] for k in demand} if demand else set())
    )


def cell_status(need: int | None, methodists: int, shortfall: int | None) -> str:
    """The status of a cell from its demand (None: unknown), local methodists and shortfall."""
    if need == 0:
        return "no-demand"
    if not methodists:
        return "no-methodists"
    if need is None:
        return "unknown-demand"
    return "short" if shortfall else "covered"


def _municipality_cells(
    mun: str,
    subjects: Sequence[str],
    demand: Demand | None,
    supply: _Supply,
    neighbours: Mapping[str, frozenset[str]],
) -> list[dict[str, Any]]:
    """One cell per subject of a municipality."""
    avail = [r for r in supply.resources if resource_available_in(r.municipalities, r.mode, mun)]
    cross = sum(1 for r in avail if not r.subjects)
    cells = []
    for s in subjects:
        here = supply.local.get((mun, s), [])
        slots = sum(m.free for m in here)
        need = demand.get((mun, s), 0) if demand is not None else None
        shortfall = max(0, need - slots) if need is not None else None
        cells.append(
            {
                "municipality": mun,
                "subject": s,
                "demand": need,
                "methodists": len(here),
                "free_slots": slots,
                "neighbour_methodists": sum(len(supply.local.get((n, s), [])) for n in neighbours.get(mun, ())),
                "online_methodists": sum(1 for m in supply.remote.get(s, []) if m.municipality != mun),
                "resources": sum(1 for r in avail if s in r.subjects),
                "cross_subject_resources": cross,
                "shortfall": shortfall,
                "status": cell_status(need, len(here), shortfall),
            }
        )
    return cells


def subjects_short(
    subjects: Sequence[str], cells: Sequence[dict[str, Any]], demand_known: bool
) -> list[dict[str, Any]]:
    """Subjects without methodists, short of free slots, or (demand known) with municipalities lacking them."""
    totals = [_subject_totals(s, [c for c in cells if c["subject"] == s], demand_known) for s in subjects]
    short = [
        t
        for t in totals
        if t["methodists"] == 0 or t["shortfall"] or (demand_known and t["municipalities_without_methodists"])
    ]
    short.sort(key=lambda x: (-(x["shortfall"] or 0), -x["municipalities_without_methodists"], x["subject"]))
    return short


def _subject_totals(subject: str, row: Sequence[dict[str, Any]], demand_known: bool) -> dict[str, Any]:
    """A subject's demand, methodists, free slots and shortfall over the region's cells."""
    need_total = sum(c["demand"] for c in row) if demand_known else None
    free = sum(c["free_slots"] for c in row)
    return {
        "subject": subject,
        "demand": need_total,
        "methodists": sum(c["methodists"] for c in row),
        "free_slots": free,
        "shortfall": max(0, need_total - free) if need_total is not None else None,
        "municipalities_without_methodists": sum(1 for c in row if c["status"] == "no-methodists"),
    }
