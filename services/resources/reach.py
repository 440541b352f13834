"""Who can work with a teacher of a municipality: which mentors reach them, which resources are there (no I/O).

A mentor reaches a teacher when they work in the teacher's municipality, in a neighbouring one (in
person), or online / mixed from anywhere in the region. A resource is available in a municipality
when it is held there, region-wide (no municipality listed) or online. Matching, the region-wide
assignment and coverage all ask `mentor_reach` / `resource_available_in`; the catalogue's SQL filter
is generated from the same table (`resource_available_sql`), and a test holds both paths together.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from types import MappingProxyType


class Reach(enum.StrEnum):
    """How a mentor reaches a teacher (the assignment's `tier`)."""

    same_municipality = "same_municipality"
    neighbouring = "neighbouring"
    online = "online"


# Modes in which a mentor works with a teacher of any municipality.
REMOTE_MENTOR_MODES = frozenset({"online", "mixed"})
# Modes in which a resource is attended from any municipality (a mixed one has in-person parts).
REMOTE_RESOURCE_MODES = frozenset({"online"})
# What each reach costs the region-wide assignment: its optimum prefers the teacher's own municipality.
REACH_COST: Mapping[str, int] = MappingProxyType({Reach.same_municipality: 0, Reach.neighbouring: 1, Reach.online: 1})


def mentor_works_remotely(mode: str) -> bool:
    """Whether a mentor of this mode works with teachers of any municipality."""
    return mode in REMOTE_MENTOR_MODES


def mentor_reach(
    mentor_municipality: str, mentor_mode: str, municipality: str, neighbours: Collection[str]
) -> Reach | None:
    """How a mentor reaches a teacher of `municipality` (with these neighbours), or None when they cannot."""
    if mentor_municipality == municipality:
        return Reach.same_municipality
    if mentor_municipality in neighbours:
        return Reach.neighbouring
    if mentor_mode in REMOTE_MENTOR_MODES:
        return Reach.online
    return None


def resource_is_remote(mode: str) -> bool:
    """Whether a resource of this mode is attended from any municipality."""
    return mode in REMOTE_RESOURCE_MODES


def resource_available_in(municipalities: Collection[str], mode: str, municipality: str) -> bool:
    """Whether a teacher of `municipality` can attend the resource: held there, region-wide, or online."""
    return not municipalities or municipality in municipalities or mode in REMOTE_RESOURCE_MODES


def resource_available_sql(municipality_param: str) -> str:
    """`resource_available_in` as a SQL condition over resources.municipalities and mode."""
    modes = ", ".join(f"'{m}'" for m in sorted(REMOTE_RESOURCE_MODES))
    return f"(municipalities @> ARRAY[{municipality_param}] OR municipalities = '{{}}' OR mode IN ({modes}))"


def neighbour_map(pairs: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """Symmetric neighbour sets from unordered pairs."""
    out: dict[str, set[str]] = defaultdict(set)
    for a, b in pairs:
        if a != b:
            out[a].add(b)
            out[b].add(a)
    return {k: frozenset(v) for k, v in out.items()}
