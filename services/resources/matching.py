"""Rank resources and mentors for a teacher's deficits, with a points breakdown per item (no I/O).

For every deficit (a competency code) the matcher keeps only what the teacher can use: resources
tagged with that competency, for the teacher's subject (or cross-subject), suited to the group,
available in the municipality (listed there, region-wide, or online), overlapping the period, with
free capacity (mentors: `reach.mentor_reach`). It scores them with the points of `match_points`,
then picks several alternatives so that the teacher can choose, taking the best item of each
learning type (formal, non-formal, informal) first and filling the rest by score.
Mentors are ranked the same way in their own list.

`match` scans what it is given (the HTTP endpoint passes candidates its SQL already narrowed);
`catalogue_index.CatalogueIndex` answers many queries against one snapshot with the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

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
from services.resources.reach import mentor_reach, mentor_works_remotely, resource_available_in, resource_is_remote
from services.resources.vocab import (
    GROUP_LABELS_RU,
    LEARNING_TYPE_LABELS_RU,
    MENTOR_ROLE_LABELS_RU,
    MODE_LABELS_RU,
    SUBJECT_LABELS_RU,
)


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


def in_period(starts_on: date | None, ends_on: date | None, q: MatchQuery) -> bool:
    if q.period_end is not None and starts_on is not None and starts_on > q.period_end:
        return False
    return not (q.period_start is not None and ends_on is not None and ends_on < q.period_start)


def offer_fits(o: Offer, q: MatchQuery) -> bool:
    """Whether the teacher can use the resource at all (regardless of the deficit)."""
    if o.subjects and q.subject is not None and q.subject not in o.subjects:
        return False
    if o.levels and q.group not in o.levels:
        return False
    if not resource_available_in(o.municipalities, o.mode, q.municipality):
        return False
    if o.free is not None and o.free <= 0:
        return False
    if q.kinds and o.kind not in q.kinds:
        return False
    if q.strict and q.modes and o.mode not in q.modes:
        return False
    if q.strict and q.learning_types and o.learning_type not in q.learning_types:
        return False
    return in_period(o.starts_on, o.ends_on, q)


def mentor_fits(m: MentorOffer, q: MatchQuery) -> bool:
    if not q.include_mentors or q.subject is None or q.subject not in m.subjects:
        return False
    if m.free <= 0 or m.level <= q.group:
        return False
    if mentor_reach(m.municipality, m.mode, q.municipality, q.neighbours) is None:
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
    elif resource_is_remote(o.mode):
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
    elif resource_is_remote(o.mode):
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
    if weak_group(q.group):
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
    elif mentor_works_remotely(m.mode):
        r.append(Reason("online", ONLINE, "Работает дистанционно"))
    else:
        r.append(Reason("neighbouring", ONLINE, "Из соседнего муниципалитета"))
    r.append(
        Reason(
            "level-gap", MENTOR_LEVEL_GAP * (m.level - q.group), f"Уровень наставника {m.level} выше группы {q.group}"
        )
    )
    if weak_group(q.group):
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


def pick(ranked: Sequence[Scored], k: int) -> list[tuple[Scored, bool]]:
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


def alternatives_of(picks: list[tuple[Scored, bool]], deficit: str, q: MatchQuery) -> list[Alternative]:
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


def unique_deficits(q: MatchQuery) -> list[str]:
    return list(dict.fromkeys(q.deficits))


def match(q: MatchQuery, offers: Iterable[Offer], mentors: Iterable[MentorOffer] = ()) -> MatchResult:
    """Rank the given resources and mentors for each deficit of the query (a full scan)."""
    deficits = unique_deficits(q)
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
        ranked.sort(key=rank_key)
        ranked_m: list[Scored] = []
        for m in fit_mentors:
            if mentor_covers(m, d):
                score = mentor_base(m, d, q) + ALSO * len(m.competencies.intersection(wanted) - {d})
                ranked_m.append((-score, m.id, MENTOR_LEARNING_TYPE, m))
        ranked_m.sort(key=rank_key)
        result.deficits.append(
            DeficitMatch(
                d,
                alternatives_of(pick(ranked, q.alternatives), d, q),
                alternatives_of(pick(ranked_m, q.mentor_alternatives), d, q),
            )
        )
    return result


def rank_key(c: Scored) -> tuple[int, str]:
    return (c[0], c[1])
