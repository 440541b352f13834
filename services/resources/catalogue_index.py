"""Many matching queries against one catalogue snapshot (the batch endpoint, the benchmark), no I/O.

Items are bucketed so that inside a bucket every context-dependent point is the same for a given
query, buckets are pre-sorted by the remaining static points, and a lazy merge with an upper bound
stops as soon as no unseen item could still be picked. Its answers are exactly those of
`matching.match` over the whole catalogue (a test holds this). Buckets follow `reach`: a resource
sits in its municipalities, "@online" when remote or "@regional" when it lists none; a mentor in
their municipality (found from the neighbours too) and "@remote" when they work remotely.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterable
from typing import Any

from services.resources.match_points import (
    AFFINITY,
    ALSO,
    COVER,
    COVER_GENERAL_MENTOR,
    LEVEL_ANY,
    LEVEL_EXPLICIT,
    LOCAL,
    MENTOR_FOR_WEAK_GROUP,
    MENTOR_LEARNING_TYPE,
    MENTOR_LEVEL_GAP,
    ONLINE,
    PREFERRED_LEARNING_TYPE,
    PREFERRED_MODE,
    REGIONAL,
    REGISTRY,
    SUBJECT,
    weak_group,
)
from services.resources.matching import (
    DeficitMatch,
    MatchQuery,
    MatchResult,
    MentorOffer,
    Offer,
    Scored,
    alternatives_of,
    in_period,
    match,
    pick,
    rank_key,
    unique_deficits,
)
from services.resources.reach import mentor_works_remotely, resource_is_remote

# A bucket's entries: (-static points, id, item), sorted; static points do not depend on the query.
Entries = list[tuple[int, str, Any]]
PLACE_ONLINE, PLACE_REGIONAL, PLACE_REMOTE = "@online", "@regional", "@remote"


def _static_offer_points(o: Offer) -> int:
    level = LEVEL_EXPLICIT if o.levels else LEVEL_ANY
    return level + (REGISTRY if o.kind == "course" and o.federal_registry else 0)


class CatalogueIndex:
    """A catalogue snapshot indexed for many queries (the batch endpoint and the benchmark).

    Resources: (competency, group, subject or "*", place) -> [(learning type, mode, entries)], where
    place is a municipality, "@online" or "@regional". Mentors: (subject, place) ->
    [(competency or "" for general mentors, mode, entries)], place a municipality or "@remote".
    """

    def __init__(self, offers: Iterable[Offer], mentors: Iterable[MentorOffer] = ()) -> None:
        self.offers = list(offers)
        self.mentors = list(mentors)
        self.by_competency: dict[str, list[Offer]] = {}
        buckets: dict[tuple[str, int, str, str], dict[tuple[str, str, int], Entries]] = {}
        for o in self.offers:
            static = _static_offer_points(o)
            places = list(o.municipalities)
            if resource_is_remote(o.mode):
                places.append(PLACE_ONLINE)
            elif not o.municipalities:
                places.append(PLACE_REGIONAL)
            subjects = list(o.subjects) or ["*"]
            for c in o.competencies:
                self.by_competency.setdefault(c, []).append(o)
                for g in o.levels or (1, 2, 3, 4):
                    for s in subjects:
                        for p in places:
                            sub = buckets.setdefault((c, g, s, p), {})
                            key = (o.learning_type, o.mode, len(o.competencies) - 1)
                            sub.setdefault(key, []).append((-static, o.id, o))
        self.offer_buckets = {
            k: [(lt, mode, ncomp, sorted(e, key=_entry_key)) for (lt, mode, ncomp), e in v.items()]
            for k, v in buckets.items()
        }
        mbuckets: dict[tuple[str, str], dict[tuple[str, str, int], Entries]] = {}
        for m in self.mentors:
            static = MENTOR_LEVEL_GAP * m.level
            places = [m.municipality] + ([PLACE_REMOTE] if mentor_works_remotely(m.mode) else [])
            for s in m.subjects:
                for p in places:
                    sub = mbuckets.setdefault((s, p), {})
                    for c in m.competencies or ("",):
                        ncomp = max(len(m.competencies) - 1, 0)
                        sub.setdefault((c, m.mode, ncomp), []).append((-static, m.id, m))
        self.mentor_buckets = {
            k: [(c, mode, ncomp, sorted(e, key=_entry_key)) for (c, mode, ncomp), e in v.items()]
            for k, v in mbuckets.items()
        }

    def match(self, q: MatchQuery) -> MatchResult:
        """The same answer as `match(q, all offers, all mentors)`, touching only items that can be picked."""
        if q.subject is None:
            candidates = {o.id: o for d in q.deficits for o in self.by_competency.get(d, ())}
            return match(q, candidates.values(), self.mentors)
        deficits = unique_deficits(q)
        wanted = frozenset(deficits)
        result = MatchResult([])
        for d in deficits:
            others = wanted - {d}
            extra = _breadth(others)
            offers = _lazy_pool(self._offer_sources(d, q), q.alternatives, len(others), extra)
            mentors = _lazy_pool(self._mentor_sources(d, q), q.mentor_alternatives, len(others), extra)
            result.deficits.append(
                DeficitMatch(
                    d,
                    alternatives_of(pick(offers, q.alternatives), d, q),
                    alternatives_of(pick(mentors, q.mentor_alternatives), d, q),
                )
            )
        return result

    def _offer_sources(self, d: str, q: MatchQuery) -> list[Source]:
        out: list[Source] = []
        subject = q.subject or "*"
        for skey in (subject, "*"):
            for place in (q.municipality, PLACE_ONLINE, PLACE_REGIONAL):
                accept = _offer_acceptor(q, place)
                for lt, mode, ncomp, entries in self.offer_buckets.get((d, q.group, skey, place), ()):
                    const = COVER + (SUBJECT if skey != "*" else 0)
                    const += LOCAL if place == q.municipality else ONLINE if place == PLACE_ONLINE else REGIONAL
                    if mode in q.modes:
                        const += PREFERRED_MODE
                    if lt in q.learning_types:
                        const += PREFERRED_LEARNING_TYPE
                    const += AFFINITY[q.group].get(lt, 0)
                    if q.strict and (
                        (q.modes and mode not in q.modes) or (q.learning_types and lt not in q.learning_types)
                    ):
                        continue
                    out.append((const, lt, ncomp, entries, accept))
        return out

    def _mentor_sources(self, d: str, q: MatchQuery) -> list[Source]:
        out: list[Source] = []
        if not q.include_mentors or q.subject is None or q.group >= 4:
            return out
        if q.strict and q.learning_types and MENTOR_LEARNING_TYPE not in q.learning_types:
            return out
        common = SUBJECT - MENTOR_LEVEL_GAP * q.group + AFFINITY[q.group].get(MENTOR_LEARNING_TYPE, 0)
        if weak_group(q.group):
            common += MENTOR_FOR_WEAK_GROUP
        if MENTOR_LEARNING_TYPE in q.learning_types:
            common += PREFERRED_LEARNING_TYPE
        places = [(q.municipality, LOCAL, False), (PLACE_REMOTE, ONLINE, False)]
        places += [(nb, ONLINE, True) for nb in sorted(q.neighbours) if nb != q.municipality]
        for place, loc, in_person_only in places:
            accept = _mentor_acceptor(q, place)
            for c, mode, ncomp, entries in self.mentor_buckets.get((q.subject, place), ()):
                if c not in (d, ""):
                    continue
                if in_person_only and mentor_works_remotely(mode):
                    continue  # reached through "@remote" already
                if q.strict and q.modes and mode not in q.modes:
                    continue
                const = common + loc + (COVER if c == d else COVER_GENERAL_MENTOR)
                if mode in q.modes:
                    const += PREFERRED_MODE
                out.append((const, MENTOR_LEARNING_TYPE, ncomp, entries, accept))
        return out


# A source for the lazy merge: (constant points, learning type, how many other competencies its items
# have, entries, whether an item is usable).
Source = tuple[int, str, int, Entries, Callable[[Any], bool]]


def _breadth(others: frozenset[str]) -> Callable[[Any], int]:
    """Points for the teacher's other deficits an item also covers."""

    def extra(item: Offer | MentorOffer) -> int:
        return ALSO * len(item.competencies & others) if others else 0

    return extra


def _entry_key(e: tuple[int, str, Any]) -> tuple[int, str]:
    return (e[0], e[1])


def _offer_acceptor(q: MatchQuery, place: str) -> Callable[[Any], bool]:
    def accept(o: Offer) -> bool:
        if place == PLACE_ONLINE and q.municipality in o.municipalities:
            return False  # counted in the teacher's own municipality bucket
        if q.teacher_id is not None and o.owner_teacher_id == q.teacher_id:
            return False
        if o.free is not None and o.free <= 0:
            return False
        if q.kinds and o.kind not in q.kinds:
            return False
        return in_period(o.starts_on, o.ends_on, q)

    return accept


def _mentor_acceptor(q: MatchQuery, place: str) -> Callable[[Any], bool]:
    def accept(m: MentorOffer) -> bool:
        if place == PLACE_REMOTE and m.municipality == q.municipality:
            return False  # counted in the teacher's own municipality bucket
        return m.free > 0 and m.level > q.group and m.teacher_id != q.teacher_id

    return accept


def _lazy_pool(sources: list[Source], k: int, n_others: int, extra: Callable[[Any], int]) -> list[Scored]:
    """Pop items in the order of their best possible (score, id) until no unseen item could enter the
    top k or be the best of its learning type; return the scored pool, ranked (what `_pick` needs).

    Inside a source the constant and the static points are known and the other-deficit points are
    at most ALSO x min(other deficits, the item's other competencies), so the bound is exact for
    most items and the merge stops after a handful of pops.
    """
    if k <= 0 or not sources:
        return []
    heap: list[tuple[int, str, int, int]] = []  # (-upper bound, id, source, position)
    bounds: list[int] = []
    remaining: dict[str, int] = {}
    for si, (const, lt, ncomp, entries, _acc) in enumerate(sources):
        bound = const + ALSO * min(n_others, ncomp)
        bounds.append(bound)
        heap.append((entries[0][0] - bound, entries[0][1], si, 0))
        remaining[lt] = remaining.get(lt, 0) + 1
    heapq.heapify(heap)
    pool: list[Scored] = []
    top: list[tuple[int, str]] = []  # the k best (-score, id) so far, ascending
    best: dict[str, tuple[int, str]] = {}
    seen: set[str] = set()
    while heap:
        head = heap[0]
        key = (head[0], head[1])
        if (
            len(top) >= k
            and key > top[k - 1]
            and all(lt in best and key > best[lt] for lt, n in remaining.items() if n)
        ):
            break
        _neg, iid, si, pos = heapq.heappop(heap)
        const, lt, _ncomp, entries, accept = sources[si]
        if len(top) >= k and key > top[k - 1] and lt in best and key > best[lt]:
            # Neither this item nor any later one of its source can be picked: drop the source.
            remaining[lt] -= 1
            continue
        neg_static, _id, item = entries[pos]
        if pos + 1 < len(entries):
            nxt = entries[pos + 1]
            heapq.heappush(heap, (nxt[0] - bounds[si], nxt[1], si, pos + 1))
        else:
            remaining[lt] -= 1
        if iid in seen or not accept(item):
            continue
        seen.add(iid)
        full = const - neg_static + extra(item)
        scored = (-full, iid, lt, item)
        pool.append(scored)
        skey = (-full, iid)
        if len(top) < k or skey < top[-1]:
            bisect.insort(top, skey)
            del top[k:]
        if lt not in best or skey < best[lt]:
            best[lt] = skey
    pool.sort(key=rank_key)
    return pool
