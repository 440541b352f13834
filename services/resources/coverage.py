"""Coverage of municipalities and subjects by methodists and resources against demand (no I/O)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ONLINE_MODES = frozenset({"online", "mixed"})


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


def coverage(
    municipalities: Sequence[str],
    demand: Mapping[tuple[str, str], int] | None,
    mentors: Iterable[MentorSupply],
    resources: Iterable[ResourceSupply],
    neighbours: Mapping[str, frozenset[str]],
) -> dict[str, Any]:
    """Cells per municipality and subject, municipalities without methodists, subjects short of them.

    A cell is `no-demand` (nobody there needs it), `no-methodists` (demand or unknown demand and no
    methodist of the subject in the municipality), `short` (demand above the local free slots),
    `covered`, or `unknown-demand` (methodists exist but demand is not known).
    """
    mentors = list(mentors)
    resources = list(resources)
    muns = sorted(
        set(municipalities) | {m.municipality for m in mentors} | ({k[0] for k in demand} if demand else set())
    )
    subjects = sorted(
        {s for m in mentors for s in m.subjects}
        | {s for r in resources for s in r.subjects}
        | ({k[1] for k in demand} if demand else set())
    )
    local: dict[tuple[str, str], list[MentorSupply]] = defaultdict(list)
    online: dict[str, list[MentorSupply]] = defaultdict(list)
    any_mentor: set[str] = set()
    for m in mentors:
        any_mentor.add(m.municipality)
        for s in m.subjects:
            local[(m.municipality, s)].append(m)
            if m.mode in ONLINE_MODES:
                online[s].append(m)
    cells: list[dict[str, Any]] = []
    for mun in muns:
        avail = [r for r in resources if not r.municipalities or mun in r.municipalities or r.mode == "online"]
        cross = sum(1 for r in avail if not r.subjects)
        for s in subjects:
            here = local.get((mun, s), [])
            slots = sum(m.free for m in here)
            nb = sum(len(local.get((n, s), [])) for n in neighbours.get(mun, frozenset()))
            elsewhere_online = sum(1 for m in online.get(s, []) if m.municipality != mun)
            need = demand.get((mun, s), 0) if demand is not None else None
            shortfall = max(0, need - slots) if need is not None else None
            if need == 0:
                status = "no-demand"
            elif not here:
                status = "no-methodists"
            elif need is None:
                status = "unknown-demand"
            else:
                status = "short" if shortfall else "covered"
            cells.append(
                {
                    "municipality": mun,
                    "subject": s,
                    "demand": need,
                    "methodists": len(here),
                    "free_slots": slots,
                    "neighbour_methodists": nb,
                    "online_methodists": elsewhere_online,
                    "resources": sum(1 for r in avail if s in r.subjects),
                    "cross_subject_resources": cross,
                    "shortfall": shortfall,
                    "status": status,
                }
            )
    short: list[dict[str, Any]] = []
    for s in subjects:
        row = [c for c in cells if c["subject"] == s]
        need_total = sum(c["demand"] for c in row) if demand is not None else None
        methodists = sum(c["methodists"] for c in row)
        free = sum(c["free_slots"] for c in row)
        missing = sum(1 for c in row if c["status"] == "no-methodists")
        shortfall = max(0, need_total - free) if need_total is not None else None
        if methodists == 0 or shortfall or (demand is not None and missing):
            short.append(
                {
                    "subject": s,
                    "demand": need_total,
                    "methodists": methodists,
                    "free_slots": free,
                    "shortfall": shortfall,
                    "municipalities_without_methodists": missing,
                }
            )
    short.sort(key=lambda x: (-(x["shortfall"] or 0), -x["municipalities_without_methodists"], x["subject"]))
    return {
        "municipalities": muns,
        "cells": cells,
        "municipalities_without_methodists": [m for m in muns if m not in any_mentor],
        "subjects_short_of_methodists": short,
    }
