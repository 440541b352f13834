"""Rank resources and mentors for a teacher's deficits, with a points breakdown per item (no I/O).

For every deficit (a competency code) the matcher keeps only what the teacher can use: resources
tagged with that competency, for the teacher's subject (or cross-subject), suited to the group,
available in the municipality (listed there, region-wide, or online), overlapping the period, with
free capacity. It scores them with the additive points below, then picks several alternatives so
that the teacher can choose, taking the best item of each learning type (formal, non-formal,
informal) first and filling the rest by score. Mentors are ranked the same way in their own list.

`match` scans what it is given (the HTTP endpoint passes candidates its SQL already narrowed).
`CatalogueIndex` answers many queries against one catalogue snapshot (the batch endpoint, the
benchmark): items are bucketed so that inside a bucket every context-dependent point is the same
for a given query, buckets are pre-sorted by the remaining static points, and a lazy merge with an
upper bound stops as soon as no unseen item could still be picked. Its answers are exactly those
of `match` over the whole catalogue (a test holds this).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.resources.vocab import (
    GROUP_LABELS_RU,
    LEARNING_TYPE_LABELS_RU,
    MENTOR_ROLE_LABELS_RU,
    MODE_LABELS_RU,
    SUBJECT_LABELS_RU,
)

# Points, in hundredths (integers, so that equal sums tie exactly). An item's score is the sum of
# the points of its reasons; the API shows them divided by 100.
COVER = 100  # it addresses the deficit
COVER_GENERAL_MENTOR = 60  # a subject mentor without competency tags
ALSO = 25  # per other deficit of the same teacher it also addresses
SUBJECT = 50  # made for the teacher's subject (cross-subject items get none)
LEVEL_EXPLICIT = 30  # tagged for the teacher's group
LEVEL_ANY = 10  # suits every group
LOCAL = 30  # offered in the teacher's municipality
ONLINE = 20  # online (or a mentor reachable online / next door)
REGIONAL = 10  # region-wide, in person
PREFERRED_MODE = 40
PREFERRED_LEARNING_TYPE = 40
REGISTRY = 20  # a course from the federal registry of programmes
MENTOR_FOR_WEAK_GROUP = 30  # groups 1-2 get a mentor or tutor (the regional regulation)
MENTOR_LEVEL_GAP = 10  # per level the mentor stands above the teacher's group
# Which learning types suit which group: weaker groups start with structured (formal) learning,
# stronger ones grow through communities, projects and exchange of experience.
AFFINITY: dict[int, dict[str, int]] = {
    1: {"formal": 30, "non_formal": 10, "informal": 0},
    2: {"formal": 20, "non_formal": 20, "informal": 0},
    3: {"formal": 0, "non_formal": 30, "informal": 10},
    4: {"formal": 0, "non_formal": 20, "informal": 30},
}
MENTOR_LEARNING_TYPE = "informal"  # наставничество: learning from a colleague in practice
ONLINE_MODES = frozenset({"online", "mixed"})


@dataclass(frozen=True, slots=True)
class Offer:
    """A catalogue resource as the matcher sees it."""

    id: str
    kind: str
    title: str
    competencies: frozenset[str]
    subjects: frozenset[str]
    levels: frozenset[int]
    learning_type: str
    mode: str
    municipalities: frozenset[str]
    starts_on: date | None = None
    ends_on: date | None = None
    free: int | None = None  # None: no capacity limit
    federal_registry: bool = False
    hours: int | None = None
    owner_teacher_id: str | None = None


@dataclass(frozen=True, slots=True)
class MentorOffer:
    """A mentor or methodist with free slots, as the matcher sees them."""

    id: str
    teacher_id: str
    role: str
    municipality: str
    subjects: frozenset[str]
    competencies: frozenset[str]
    level: int
    mode: str
    free: int


@dataclass(frozen=True)
class MatchQuery:
    deficits: tuple[str, ...]
    group: int
    municipality: str
    subject: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    modes: frozenset[str] = frozenset()
    learning_types: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    strict: bool = False  # preferred modes / learning types become filters
    alternatives: int = 3
    mentor_alternatives: int = 2
    include_mentors: bool = True
    teacher_id: str | None = None
    neighbours: frozenset[str] = frozenset()

    def context_key(self) -> tuple[object, ...]:
        """Everything but the deficit list and the teacher that decides a deficit's ranking."""
        return (
            self.subject,
            self.group,
            self.municipality,
            self.period_start,
            self.period_end,
            self.modes,
            self.learning_types,
            self.kinds,
            self.strict,
            self.include_mentors,
            self.neighbours,
        )


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    points: int  # hundredths
    text: str


@dataclass(slots=True)
class Alternative:
    item_type: str  # "resource" or "mentor"
    item: Offer | MentorOffer
    score: int  # hundredths
    covers: tuple[str, ...]
    reasons: list[Reason]
    rank: int = 0
    chosen_for_mix: bool = False
    rank_note: str = ""

    @property
    def learning_type(self) -> str:
        return self.item.learning_type if isinstance(self.item, Offer) else MENTOR_LEARNING_TYPE


@dataclass
class DeficitMatch:
    competency: str
    alternatives: list[Alternative] = field(default_factory=list)
    mentors: list[Alternative] = field(default_factory=list)

    @property
    def gap(self) -> bool:
        return not self.alternatives and not self.mentors


@dataclass
class MatchResult:
    deficits: list[DeficitMatch]

    def mix(self) -> dict[str, int]:
        out = {"formal": 0, "non_formal": 0, "informal": 0}
        seen: set[tuple[str, str]] = set()
        for d in self.deficits:
            for a in (*d.alternatives, *d.mentors):
                if (a.item_type, a.item.id) not in seen:
                    seen.add((a.item_type, a.item.id))
                    out[a.learning_type] = out.get(a.learning_type, 0) + 1
        return out


# ---------------------------------------------------------------- hard constraints


def _in_period(starts_on: date | None, ends_on: date | None, q: MatchQuery) -> bool:
    if q.period_end is not None and starts_on is not None and starts_on > q.period_end:
        return False
    return not (q.period_start is not None and ends_on is not None and ends_on < q.period_start)


def offer_fits(o: Offer, q: MatchQuery) -> bool:
    """Whether the teacher can use the resource at all (regardless of the deficit)."""
    if o.subjects and q.subject is not None and q.subject not in o.subjects:
        return False
    if o.levels and q.group not in o.levels:
        return False
    if o.municipalities and q.municipality not in o.municipalities and o.mode != "online":
        return False
    if o.free is not None and o.free <= 0:
        return False
    if q.kinds and o.kind not in q.kinds:
        return False
    if q.strict and q.modes and o.mode not in q.modes:
        return False
    if q.strict and q.learning_types and o.learning_type not in q.learning_types:
        return False
    return _in_period(o.starts_on, o.ends_on, q)


def mentor_fits(m: MentorOffer, q: MatchQuery) -> bool:
    if not q.include_mentors or q.subject is None or q.subject not in m.subjects:
        return False
    if m.free <= 0 or m.level <= q.group:
        return False
    if m.municipality != q.municipality and m.mode not in ONLINE_MODES and m.municipality not in q.neighbours:
        return False
    if q.strict and q.modes and m.mode not in q.modes:
        return False
    return not (q.strict and q.learning_types and MENTOR_LEARNING_TYPE not in q.learning_types)


def mentor_covers(m: MentorOffer, deficit: str) -> bool:
    return deficit in m.competencies or not m.competencies


# ---------------------------------------------------------------- points (fast path and explained path)


def offer_base(o: Offer, q: MatchQuery) -> int:
    """Points that do not depend on which of the teacher's deficits is being served."""
    s = COVER
    if q.subject is not None and q.subject in o.subjects:
        s += SUBJECT
    s += LEVEL_EXPLICIT if o.levels else LEVEL_ANY
    if q.municipality in o.municipalities:
        s += LOCAL
    elif o.mode == "online":
        s += ONLINE
    elif not o.municipalities:
        s += REGIONAL
    if o.mode in q.modes:
        s += PREFERRED_MODE
    if o.learning_type in q.learning_types:
        s += PREFERRED_LEARNING_TYPE
    s += AFFINITY[q.group].get(o.learning_type, 0)
    if o.kind == "course" and o.federal_registry:
        s += REGISTRY
    return s


def offer_reasons(o: Offer, deficit: str, q: MatchQuery) -> list[Reason]:
    """The same points as `offer_base` + the other deficits covered, each with a Russian explanation."""
    r = [Reason("covers-deficit", COVER, f"Закрывает дефицит {deficit}")]
    others = sorted(o.competencies.intersection(q.deficits) - {deficit})
    if others:
        r.append(Reason("covers-other-deficits", ALSO * len(others), "Также закрывает: " + ", ".join(others)))
    if q.subject is not None and q.subject in o.subjects:
        r.append(Reason("subject-match", SUBJECT, f"Для предмета «{SUBJECT_LABELS_RU.get(q.subject, q.subject)}»"))
    elif not o.subjects:
        r.append(Reason("cross-subject", 0, "Межпредметный ресурс"))
    if o.levels:
        r.append(
            Reason(
                "level-fit", LEVEL_EXPLICIT, f"Рекомендован для группы {q.group} ({GROUP_LABELS_RU.get(q.group, '')})"
            )
        )
    else:
        r.append(Reason("level-any", LEVEL_ANY, "Подходит для любого уровня"))
    if q.municipality in o.municipalities:
        r.append(Reason("local", LOCAL, "Проводится в вашем муниципалитете"))
    elif o.mode == "online":
        r.append(Reason("online", ONLINE, "Онлайн: доступен из любого муниципалитета"))
    elif not o.municipalities:
        r.append(Reason("regional", REGIONAL, "Региональный ресурс (очно)"))
    if o.mode in q.modes:
        r.append(Reason("preferred-mode", PREFERRED_MODE, f"Предпочтительный формат: {MODE_LABELS_RU.get(o.mode)}"))
    if o.learning_type in q.learning_types:
        r.append(
            Reason(
                "preferred-learning-type",
                PREFERRED_LEARNING_TYPE,
                f"Предпочтительный тип: {LEARNING_TYPE_LABELS_RU.get(o.learning_type)}",
            )
        )
    aff = AFFINITY[q.group].get(o.learning_type, 0)
    if aff:
        r.append(
            Reason(
                "group-affinity",
                aff,
                f"{LEARNING_TYPE_LABELS_RU.get(o.learning_type, '').capitalize()} рекомендуется для группы {q.group}",
            )
        )
    if o.kind == "course" and o.federal_registry:
        r.append(Reason("federal-registry", REGISTRY, "Программа из федерального реестра"))
    if o.free is not None:
        r.append(Reason("capacity", 0, f"Свободных мест: {o.free}"))
    return r


def mentor_base(m: MentorOffer, deficit: str, q: MatchQuery) -> int:
    s = COVER if deficit in m.competencies else COVER_GENERAL_MENTOR
    s += SUBJECT
    if m.municipality == q.municipality:
        s += LOCAL
    else:
        s += ONLINE
    s += MENTOR_LEVEL_GAP * (m.level - q.group)
    if q.group <= 2:
        s += MENTOR_FOR_WEAK_GROUP
    if m.mode in q.modes:
        s += PREFERRED_MODE
    if MENTOR_LEARNING_TYPE in q.learning_types:
        s += PREFERRED_LEARNING_TYPE
    s += AFFINITY[q.group].get(MENTOR_LEARNING_TYPE, 0)
    return s


def mentor_reasons(m: MentorOffer, deficit: str, q: MatchQuery) -> list[Reason]:
    role = MENTOR_ROLE_LABELS_RU.get(m.role, m.role).capitalize()
    if deficit in m.competencies:
        r = [Reason("covers-deficit", COVER, f"{role}: сильная сторона — {deficit}")]
    else:
        r = [Reason("general-mentor", COVER_GENERAL_MENTOR, f"{role} по предмету (без профиля компетенций)")]
    others = sorted(m.competencies.intersection(q.deficits) - {deficit})
    if others:
        r.append(Reason("covers-other-deficits", ALSO * len(others), "Также поможет с: " + ", ".join(others)))
    subject = q.subject or ""
    r.append(Reason("subject-match", SUBJECT, f"Предмет «{SUBJECT_LABELS_RU.get(subject, subject)}»"))
    if m.municipality == q.municipality:
        r.append(Reason("local", LOCAL, "Из вашего муниципалитета"))
    elif m.mode in ONLINE_MODES:
        r.append(Reason("online", ONLINE, "Работает дистанционно"))
    else:
        r.append(Reason("neighbouring", ONLINE, "Из соседнего муниципалитета"))
    r.append(
        Reason(
            "level-gap", MENTOR_LEVEL_GAP * (m.level - q.group), f"Уровень наставника {m.level} выше группы {q.group}"
        )
    )
    if q.group <= 2:
        r.append(
            Reason(
                "mentor-for-group",
                MENTOR_FOR_WEAK_GROUP,
                f"Группе {q.group} по регламенту назначается наставник или тьютор",
            )
        )
    if m.mode in q.modes:
        r.append(Reason("preferred-mode", PREFERRED_MODE, f"Предпочтительный формат: {MODE_LABELS_RU.get(m.mode)}"))
    if MENTOR_LEARNING_TYPE in q.learning_types:
        r.append(
            Reason(
                "preferred-learning-type",
                PREFERRED_LEARNING_TYPE,
                f"Предпочтительный тип: {LEARNING_TYPE_LABELS_RU[MENTOR_LEARNING_TYPE]}",
            )
        )
    aff = AFFINITY[q.group].get(MENTOR_LEARNING_TYPE, 0)
    if aff:
        r.append(Reason("group-affinity", aff, f"Информальное обучение рекомендуется для группы {q.group}"))
    r.append(Reason("capacity", 0, f"Свободных мест у наставника: {m.free}"))
    return r


# ---------------------------------------------------------------- selection

# A scored candidate: (-score, id, learning type, item); sorting it ranks by score, then id.
Scored = tuple[int, str, str, Offer | MentorOffer]


def _pick(ranked: Sequence[Scored], k: int) -> list[tuple[Scored, bool]]:
    """Best of each learning type first (the mix), then the rest by score; returns (item, for_mix)."""
    if k <= 0:
        return []
    chosen: list[int] = []
    types: set[str] = set()
    for i, c in enumerate(ranked):
        if len(chosen) == k:
            break
        if c[2] not in types:
            types.add(c[2])
            chosen.append(i)
    for i in range(len(ranked)):
        if len(chosen) == k:
            break
        if i not in chosen:
            chosen.append(i)
    chosen.sort()
    # An item is there "for the mix" when plain score order would not have shown it.
    return [(ranked[i], i >= k) for i in chosen]


def _alternatives(picks: list[tuple[Scored, bool]], deficit: str, q: MatchQuery) -> list[Alternative]:
    out: list[Alternative] = []
    for rank, ((neg, _id, lt, item), for_mix) in enumerate(picks, start=1):
        if isinstance(item, Offer):
            reasons = offer_reasons(item, deficit, q)
            covers = tuple(c for c in q.deficits if c in item.competencies)
            item_type = "resource"
        else:
            reasons = mentor_reasons(item, deficit, q)
            covers = tuple(c for c in q.deficits if mentor_covers(item, c))
            item_type = "mentor"
        alt = Alternative(item_type, item, -neg, covers, reasons, rank=rank, chosen_for_mix=for_mix)
        if for_mix:
            alt.reasons.append(
                Reason("mix", 0, "Добавлен для разнообразия форм: " + LEARNING_TYPE_LABELS_RU.get(lt, lt))
            )
        if out:
            gap = out[0].score - alt.score
            alt.rank_note = (
                f"Место {rank}: на {gap / 100:.2f} балла ниже места 1"
                if gap > 0
                else f"Место {rank}: столько же баллов, как у места 1"
            )
        else:
            alt.rank_note = "Место 1: наибольшая сумма баллов"
        out.append(alt)
    return out


def _deficits(q: MatchQuery) -> list[str]:
    return list(dict.fromkeys(q.deficits))


def match(q: MatchQuery, offers: Iterable[Offer], mentors: Iterable[MentorOffer] = ()) -> MatchResult:
    """Rank the given resources and mentors for each deficit of the query (a full scan)."""
    deficits = _deficits(q)
    wanted = frozenset(deficits)
    fitting = [o for o in offers if o.owner_teacher_id != q.teacher_id or q.teacher_id is None]
    fitting = [o for o in fitting if not o.competencies.isdisjoint(wanted) and offer_fits(o, q)]
    fit_mentors = [m for m in mentors if m.teacher_id != q.teacher_id and mentor_fits(m, q)]
    result = MatchResult([])
    for d in deficits:
        ranked: list[Scored] = []
        for o in fitting:
            if d in o.competencies:
                score = offer_base(o, q) + ALSO * (len(o.competencies & wanted) - 1)
                ranked.append((-score, o.id, o.learning_type, o))
        ranked.sort(key=_sort_key)
        ranked_m: list[Scored] = []
        for m in fit_mentors:
            if mentor_covers(m, d):
                score = mentor_base(m, d, q) + ALSO * len(m.competencies.intersection(wanted) - {d})
                ranked_m.append((-score, m.id, MENTOR_LEARNING_TYPE, m))
        ranked_m.sort(key=_sort_key)
        result.deficits.append(
            DeficitMatch(
                d,
                _alternatives(_pick(ranked, q.alternatives), d, q),
                _alternatives(_pick(ranked_m, q.mentor_alternatives), d, q),
            )
        )
    return result


def _sort_key(c: Scored) -> tuple[int, str]:
    return (c[0], c[1])


# ---------------------------------------------------------------- many queries against one snapshot

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
            if o.mode == "online":
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
            places = [m.municipality] + ([PLACE_REMOTE] if m.mode in ONLINE_MODES else [])
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
        deficits = _deficits(q)
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
                    _alternatives(_pick(offers, q.alternatives), d, q),
                    _alternatives(_pick(mentors, q.mentor_alternatives), d, q),
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
        if q.group <= 2:
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
                if in_person_only and mode in ONLINE_MODES:
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
        return _in_period(o.starts_on, o.ends_on, q)

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
    pool.sort(key=_sort_key)
    return pool
