"""Region-wide mentor assignment as a min-cost flow (networkx network simplex), no I/O.

Network: source -> mentee class (municipality, subject, group) -> pool -> mentor -> sink, where a
pool is either "mentors of subject s in municipality m" or "mentors of subject s working
remotely" (who reaches whom, and at what cost: `reach`). A class reaches its own municipality's
pool, each neighbouring municipality's pool and the online pool at `REACH_COST`. Every class
also has an "unserved" edge to the sink costing W[group] x K, with K larger than any possible sum
of distance costs, so the optimum first maximises the group-weighted number of served mentees
and only then the closeness.

With weights on the mentee side only, sets of servable mentees form a transversal matroid, so a
maximum-weight solution is also a maximum-cardinality one: the flow serves at least as many
mentees as any greedy pass, weakest groups first (lexicographically). Grouping mentees into
classes keeps the network small (a class per municipality, subject and group, not per teacher),
and the flow is then split back into teachers, preferring mentors whose strengths cover the
teacher's deficits.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import networkx as nx

from services.resources.reach import REACH_COST, Reach, mentor_reach, mentor_works_remotely

GROUP_WEIGHT: Mapping[int, int] = MappingProxyType({1: 4, 2: 3, 3: 2, 4: 1})  # weaker groups are served first
REASON_TEXT = {
    "no-mentor-for-subject": "В регионе нет наставников по этому предмету",
    "no-reachable-mentor": "Наставники по предмету работают только очно в других (не соседних) муниципалитетах",
    "capacity-exhausted": "У доступных наставников не осталось свободных мест",
}


@dataclass(frozen=True, slots=True)
class Mentee:
    teacher_id: str
    subject: str
    municipality: str
    group: int
    deficits: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MentorSlots:
    id: str
    teacher_id: str
    municipality: str
    subjects: frozenset[str]
    competencies: frozenset[str]
    mode: str
    free: int


@dataclass(frozen=True, slots=True)
class Assignment:
    mentee: Mentee
    mentor_id: str
    tier: str


@dataclass(frozen=True, slots=True)
class Unserved:
    mentee: Mentee
    reason: str

    @property
    def message(self) -> str:
        return REASON_TEXT[self.reason]


@dataclass
class AssignmentResult:
    assignments: list[Assignment] = field(default_factory=list)
    unserved: list[Unserved] = field(default_factory=list)

    @property
    def served(self) -> int:
        return len(self.assignments)

    def cost(self) -> int:
        return sum(REACH_COST[a.tier] for a in self.assignments)


def tier_of(mentee: Mentee, mentor: MentorSlots, neighbours: Mapping[str, frozenset[str]]) -> Reach | None:
    """How the mentor reaches the mentee, or None when they cannot work together."""
    if mentee.subject not in mentor.subjects:
        return None
    return mentor_reach(mentor.municipality, mentor.mode, mentee.municipality, neighbours.get(mentee.municipality, ()))


def _reason(mentee: Mentee, mentors: Sequence[MentorSlots], neighbours: Mapping[str, frozenset[str]]) -> str:
    with_subject = [m for m in mentors if mentee.subject in m.subjects]
    if not with_subject:
        return "no-mentor-for-subject"
    if not any(tier_of(mentee, m, neighbours) for m in with_subject):
        return "no-reachable-mentor"
    return "capacity-exhausted"


def assign(
    mentees: Sequence[Mentee],
    mentors: Sequence[MentorSlots],
    neighbours: Mapping[str, frozenset[str]] | None = None,
) -> AssignmentResult:
    """Assign mentors to mentees (capacity respected), weakest groups first, then closest."""
    neighbours = neighbours or {}
    usable = [m for m in mentors if m.free > 0]
    classes: dict[tuple[str, str, int], list[Mentee]] = defaultdict(list)
    for me in mentees:
        classes[(me.municipality, me.subject, me.group)].append(me)
    big = len(mentees) * max(REACH_COST.values()) + 1  # above any sum of reach costs
    g = nx.DiGraph()
    g.add_node("src", demand=-len(mentees))
    g.add_node("sink", demand=len(mentees))
    pools: set[tuple[str, str, str]] = set()
    for m in usable:
        g.add_edge(("mentor", m.id), "sink", capacity=m.free, weight=0)
        for s in m.subjects:
            g.add_edge(("pool", m.municipality, s), ("mentor", m.id), capacity=m.free, weight=0)
            pools.add(("pool", m.municipality, s))
            if mentor_works_remotely(m.mode):
                g.add_edge(("pool", "@online", s), ("mentor", m.id), capacity=m.free, weight=0)
                pools.add(("pool", "@online", s))
    for (mun, subj, grp), members in classes.items():
        node = ("class", mun, subj, grp)
        n = len(members)
        g.add_edge("src", node, capacity=n, weight=0)
        g.add_edge(node, "sink", capacity=n, weight=GROUP_WEIGHT.get(grp, 1) * big)
        if ("pool", mun, subj) in pools:
            g.add_edge(node, ("pool", mun, subj), capacity=n, weight=REACH_COST[Reach.same_municipality])
        for nb in sorted(neighbours.get(mun, frozenset())):
            if nb != mun and ("pool", nb, subj) in pools:
                g.add_edge(node, ("pool", nb, subj), capacity=n, weight=REACH_COST[Reach.neighbouring])
        if ("pool", "@online", subj) in pools:
            g.add_edge(node, ("pool", "@online", subj), capacity=n, weight=REACH_COST[Reach.online])
    flow: dict[object, dict[object, int]] = nx.network_simplex(g)[1] if mentees else {}

    # Split the pools' flow into mentor slots, then hand the class's slots to its teachers.
    by_id = {m.id: m for m in usable}
    slots: dict[object, list[str]] = {}
    for pool in pools:
        out: list[str] = []
        for target, amount in sorted(flow.get(pool, {}).items(), key=lambda kv: str(kv[0])):
            out.extend([target[1]] * amount)  # type: ignore[index]
        slots[pool] = out
    result = AssignmentResult()
    taken: set[tuple[str, str]] = set()  # (teacher, mentor): one slot of a mentor per teacher
    for key in sorted(classes):
        mun, subj, grp = key
        node = ("class", *key)
        offered: list[str] = []
        for target, amount in sorted(flow.get(node, {}).items(), key=lambda kv: str(kv[0])):
            if target == "sink" or amount <= 0:
                continue
            offered.extend(slots[target][:amount])
            del slots[target][:amount]
        for me in classes[key]:
            best_i, best_score = -1, None
            for i, mid in enumerate(offered):
                m = by_id[mid]
                if m.teacher_id == me.teacher_id or (me.teacher_id, mid) in taken:
                    continue
                tier = tier_of(me, m, neighbours) or Reach.online
                score = (len(me.deficits & m.competencies), -REACH_COST[tier], mid)
                if best_score is None or score > best_score:
                    best_i, best_score = i, score
            if best_i < 0:
                result.unserved.append(Unserved(me, _reason(me, mentors, neighbours)))
                continue
            mid = offered.pop(best_i)
            taken.add((me.teacher_id, mid))
            result.assignments.append(Assignment(me, mid, tier_of(me, by_id[mid], neighbours) or Reach.online))
    return result


def greedy_assign(
    mentees: Sequence[Mentee],
    mentors: Sequence[MentorSlots],
    neighbours: Mapping[str, frozenset[str]] | None = None,
) -> AssignmentResult:
    """The baseline: weakest groups first, each mentee takes the closest mentor with a free slot."""
    neighbours = neighbours or {}
    free = {m.id: m.free for m in mentors}
    by_subject: dict[str, list[MentorSlots]] = defaultdict(list)
    for m in sorted(mentors, key=lambda m: m.id):
        for s in m.subjects:
            by_subject[s].append(m)
    result = AssignmentResult()
    taken: set[tuple[str, str]] = set()
    for me in sorted(mentees, key=lambda x: x.group):
        best: tuple[int, str] | None = None
        for m in by_subject.get(me.subject, ()):
            if free[m.id] <= 0 or m.teacher_id == me.teacher_id or (me.teacher_id, m.id) in taken:
                continue
            tier = tier_of(me, m, neighbours)
            if tier is None:
                continue
            if best is None or REACH_COST[tier] < best[0]:
                best = (REACH_COST[tier], m.id)
                if best[0] == 0:
                    break
        if best is None:
            result.unserved.append(Unserved(me, _reason(me, mentors, neighbours)))
            continue
        free[best[1]] -= 1
        taken.add((me.teacher_id, best[1]))
        m = next(x for x in by_subject[me.subject] if x.id == best[1])
        result.assignments.append(Assignment(me, best[1], tier_of(me, m, neighbours) or Reach.online))
    return result


def summary(result: AssignmentResult) -> dict[str, dict[str, int]]:
    return {
        "served_by_group": {str(k): v for k, v in sorted(Counter(a.mentee.group for a in result.assignments).items())},
        "unserved_by_group": {str(k): v for k, v in sorted(Counter(u.mentee.group for u in result.unserved).items())},
        "unserved_by_reason": dict(sorted(Counter(u.reason for u in result.unserved).items())),
        "by_tier": dict(sorted(Counter(a.tier for a in result.assignments).items())),
    }
