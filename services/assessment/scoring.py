"""Pure scoring rules: frameworks as data, competency bands, levels, explained deficits, shares.

Nothing here does I/O. A framework document (JSON) is checked by `check_framework` and turned
into a `Framework` by `framework_from_document`; a result is scored by `score_result`.

Rules (thresholds are data: the levels, their groups and labels, the default band thresholds and the
KPI's level are the table data/levels.json; each framework's cut scores ship in data/default_framework.json):
- a competency's percent = its points / the sum of its items' max points * 100;
- band: percent < `deficit_below` -> deficit; percent >= `strength_from` -> strength; otherwise a
  growth point. A competency may override the framework's thresholds;
- level: the highest level whose `min_percent` <= the total percent (levels low / basic /
  elevated / high are support groups 1..4).
"""

from __future__ import annotations

import bisect
import enum
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEVELS_TABLE: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "levels.json").read_text(encoding="utf-8"))


class Level(enum.StrEnum):
    low = "low"
    basic = "basic"
    elevated = "elevated"
    high = "high"


# The enum is the vocabulary (and the API's type); groups and labels are read from the table.
LEVEL_GROUP: dict[Level, int] = {Level(row["level"]): int(row["group"]) for row in LEVELS_TABLE["levels"]}
LEVEL_LABELS_RU: dict[Level, str] = {Level(row["level"]): str(row["label_ru"]) for row in LEVELS_TABLE["levels"]}
# The KPI counts results at this level or higher ("basic or higher"), against this target share.
KPI_FROM_GROUP: int = LEVEL_GROUP[Level(LEVELS_TABLE["kpi"]["from_level"])]
KPI_TARGET_PERCENT = float(LEVELS_TABLE["kpi"]["target_percent"])
# A teacher is young (the KPI "young teachers with a mentor") while under this age.
YOUNG_UNDER_AGE = int(LEVELS_TABLE["kpi"]["young_under_age"])


def young_born_after(this_year: int) -> int:
    """Teachers born after this year are young: their age this year is under YOUNG_UNDER_AGE (by year of birth)."""
    return this_year - YOUNG_UNDER_AGE


# What an uploaded `level` cell may say: code, Russian label or group number.
LEVEL_ALIASES: dict[str, Level] = {
    **{lv.value: lv for lv in Level},
    **{label: lv for lv, label in LEVEL_LABELS_RU.items()},
    **{str(g): lv for lv, g in LEVEL_GROUP.items()},
}


class Band(enum.StrEnum):
    deficit = "deficit"
    growth = "growth"
    strength = "strength"


BAND_LABELS_RU = {Band.deficit: "Дефицит", Band.growth: "Зона роста", Band.strength: "Точка опоры"}


class Area(enum.StrEnum):
    methodological = "methodological"
    subject = "subject"


# As written in the table (ints stay ints: the API schema shows them as its defaults).
DEFAULT_DEFICIT_BELOW: float = LEVELS_TABLE["default_thresholds"]["deficit_below"]
DEFAULT_STRENGTH_FROM: float = LEVELS_TABLE["default_thresholds"]["strength_from"]


@dataclass(frozen=True)
class Thresholds:
    deficit_below: float = float(DEFAULT_DEFICIT_BELOW)
    strength_from: float = float(DEFAULT_STRENGTH_FROM)


@dataclass(frozen=True)
class Competency:
    code: str
    name: str
    area: str
    subject: str | None
    thresholds: Thresholds
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    code: str
    competency: str
    max_points: float


@dataclass(frozen=True)
class LevelCut:
    level: Level
    group: int
    min_percent: float


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    subject: str | None
    items: tuple[Item, ...]
    # Competencies the instrument measures, in framework order, with their max points.
    competencies: tuple[str, ...]
    competency_max: tuple[float, ...]
    # For each item, the index of its competency in `competencies`.
    item_competency: tuple[int, ...]
    max_total: float
    # For each competency, the indexes of its items (precomputed for fast scoring).
    competency_items: tuple[tuple[int, ...], ...] = ()
    competency_thresholds: tuple[Thresholds, ...] = ()

    def item_codes(self) -> list[str]:
        return [i.code for i in self.items]


@dataclass(frozen=True)
class Framework:
    code: str
    version: int
    name: str
    thresholds: Thresholds
    levels: tuple[LevelCut, ...]
    competencies: dict[str, Competency]
    instruments: dict[str, Instrument]
    _cuts: tuple[float, ...] = field(default=(), repr=False)

    def level_for(self, percent: float) -> LevelCut:
        """The level whose band holds `percent` (cut scores are inclusive lower bounds)."""
        i = bisect.bisect_right(self._cuts, percent + 1e-9) - 1
        return self.levels[max(i, 0)]

    def level_cut(self, level: Level) -> LevelCut:
        return next(c for c in self.levels if c.level == level)


def band_for(percent: float, thresholds: Thresholds) -> Band:
    """The band of a competency's percent: the one place the deficit and strength thresholds are applied."""
    if percent < thresholds.deficit_below:
        return Band.deficit
    if percent >= thresholds.strength_from:
        return Band.strength
    return Band.growth


def percent_of(points: float, max_points: float) -> float:
    return round(points * 100.0 / max_points, 2) if max_points > 0 else 0.0


# --- framework documents --------------------------------------------------------------------------

RESERVED_COLUMNS = frozenset(
    {"external_id", "full_name", "municipality", "organisation", "position", "total", "level", "items", "competencies"}
)


def check_framework(doc: dict[str, Any]) -> list[tuple[list[str | int], str, str]]:
    """Return (location, code, message) for every inconsistency of a framework document."""
    errors: list[tuple[list[str | int], str, str]] = []
    comps: dict[str, dict[str, Any]] = {}
    for i, c in enumerate(doc.get("competencies", [])):
        if c["code"] in comps:
            errors.append((["competencies", i, "code"], "duplicate-code", "Код компетенции повторяется"))
        comps[c["code"]] = c
        if c.get("area") == Area.subject and not c.get("subject"):
            errors.append((["competencies", i, "subject"], "missing", "Для предметной компетенции укажите предмет"))
        t = c.get("thresholds")
        if t and t["deficit_below"] > t["strength_from"]:
            errors.append(
                (
                    ["competencies", i, "thresholds"],
                    "thresholds-order",
                    "Порог дефицита не может быть выше порога сильной стороны",
                )
            )
    t = doc.get("thresholds") or {}
    if t and t.get("deficit_below", DEFAULT_DEFICIT_BELOW) > t.get("strength_from", DEFAULT_STRENGTH_FROM):
        errors.append((["thresholds"], "thresholds-order", "Порог дефицита не может быть выше порога сильной стороны"))
    levels = doc.get("levels", [])
    if [lv["level"] for lv in levels] != [lv.value for lv in Level]:
        errors.append(
            (["levels"], "levels-order", "Уровни должны идти по порядку: низкий, базовый, повышенный, высокий")
        )
    else:
        mins = [lv["min_percent"] for lv in levels]
        if mins[0] != 0 or any(a >= b for a, b in itertools.pairwise(mins)):
            errors.append(
                (
                    ["levels"],
                    "cut-scores",
                    "Нижние границы уровней (в процентах) должны начинаться с 0 и строго возрастать",
                )
            )
        if [lv["group"] for lv in levels] != [LEVEL_GROUP[lv] for lv in Level]:
            errors.append((["levels"], "groups", "Группы уровней должны быть 1, 2, 3, 4"))
    codes: set[str] = set()
    for j, ins in enumerate(doc.get("instruments", [])):
        if ins["code"] in codes:
            errors.append((["instruments", j, "code"], "duplicate-code", "Код инструмента повторяется"))
        codes.add(ins["code"])
        seen: set[str] = set()
        if not ins.get("items"):
            errors.append((["instruments", j, "items"], "missing", "В инструменте должны быть задания"))
        for k, it in enumerate(ins.get("items", [])):
            loc: list[str | int] = ["instruments", j, "items", k]
            if it["code"] in seen:
                errors.append(([*loc, "code"], "duplicate-code", "Код задания повторяется в инструменте"))
            seen.add(it["code"])
            if it["code"] in comps or it["code"].casefold() in RESERVED_COLUMNS:
                errors.append(
                    (
                        [*loc, "code"],
                        "ambiguous-code",
                        "Код задания не должен совпадать с кодом компетенции или со служебным названием столбца",
                    )
                )
            comp = comps.get(it["competency"])
            if comp is None:
                errors.append(
                    ([*loc, "competency"], "unknown-competency", "Задание относится к неизвестной компетенции")
                )
            elif comp.get("area") == Area.subject and ins.get("subject") and comp.get("subject") != ins["subject"]:
                errors.append(
                    (
                        [*loc, "competency"],
                        "subject-mismatch",
                        "Предметная компетенция относится к другому предмету, чем инструмент",
                    )
                )
    for c in comps:
        if c.casefold() in RESERVED_COLUMNS:
            errors.append(
                (
                    ["competencies"],
                    "ambiguous-code",
                    "Код компетенции не должен совпадать со служебным названием столбца",
                )
            )
    return errors


def framework_from_document(doc: dict[str, Any], version: int) -> Framework:
    """Build the scoring view of a checked framework document."""
    base = doc.get("thresholds") or {}
    thresholds = Thresholds(
        float(base.get("deficit_below", DEFAULT_DEFICIT_BELOW)), float(base.get("strength_from", DEFAULT_STRENGTH_FROM))
    )
    comps: dict[str, Competency] = {}
    for c in doc["competencies"]:
        t = c.get("thresholds")
        comps[c["code"]] = Competency(
            code=c["code"],
            name=c["name"],
            area=c.get("area", Area.methodological),
            subject=c.get("subject"),
            thresholds=Thresholds(float(t["deficit_below"]), float(t["strength_from"])) if t else thresholds,
            skills=tuple(c.get("skills") or ()),
        )
    order = {code: i for i, code in enumerate(comps)}
    instruments: dict[str, Instrument] = {}
    for ins in doc["instruments"]:
        items = tuple(Item(it["code"], it["competency"], float(it["max_points"])) for it in ins["items"])
        used = sorted({it.competency for it in items}, key=order.__getitem__)
        index = {c: i for i, c in enumerate(used)}
        cmax = [0.0] * len(used)
        for it in items:
            cmax[index[it.competency]] += it.max_points
        item_comp = tuple(index[it.competency] for it in items)
        instruments[ins["code"]] = Instrument(
            code=ins["code"],
            name=ins["name"],
            subject=ins.get("subject"),
            items=items,
            competencies=tuple(used),
            competency_max=tuple(cmax),
            item_competency=item_comp,
            max_total=sum(it.max_points for it in items),
            competency_items=tuple(tuple(k for k, ci in enumerate(item_comp) if ci == c) for c in range(len(used))),
            competency_thresholds=tuple(comps[c].thresholds for c in used),
        )
    levels = tuple(LevelCut(Level(lv["level"]), int(lv["group"]), float(lv["min_percent"])) for lv in doc["levels"])
    return Framework(
        code=doc["code"],
        version=version,
        name=doc["name"],
        thresholds=thresholds,
        levels=levels,
        competencies=comps,
        instruments=instruments,
        _cuts=tuple(c.min_percent for c in levels),
    )


# --- scoring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    competency_points: tuple[float, ...]
    total: float
    max_total: float
    percent: float
    level: Level
    group: int
    level_source: str  # "computed" or "reported"
    deficits: tuple[str, ...]
    growth: tuple[str, ...]
    strengths: tuple[str, ...]


def competency_points_from_items(instrument: Instrument, item_points: Sequence[float]) -> list[float]:
    if len(item_points) != len(instrument.items):
        raise ValueError("one score per item is needed")
    sums = [sum([item_points[k] for k in idx]) for idx in instrument.competency_items]
    return sums if all(type(x) is int for x in sums) else [round(x, 2) for x in sums]


def score_result(
    framework: Framework,
    instrument: Instrument,
    *,
    item_points: Sequence[float] | None = None,
    competency_points: Sequence[float] | None = None,
    total: float | None = None,
    reported_level: Level | None = None,
) -> Score:
    """Score one result from item points, or competency points, or only a total.

    A reported level (assigned by the assessment's operator) is kept; otherwise the level is computed
    from the total percent.
    """
    if item_points is not None:
        comp = competency_points_from_items(instrument, item_points)
    elif competency_points is not None:
        comp = [round(float(p), 2) for p in competency_points]
    else:
        comp = []
    if comp:
        total_points = sum(comp)
        if type(total_points) is not int:
            total_points = round(total_points, 2)
    elif total is not None:
        total_points = round(float(total), 2)
    else:
        raise ValueError("a result needs item points, competency points or a total")
    pct = percent_of(total_points, instrument.max_total)
    if reported_level is not None:
        cut = framework.level_cut(reported_level)
        source = "reported"
    else:
        cut = framework.level_for(pct)
        source = "computed"
    bands: dict[Band, list[str]] = {Band.deficit: [], Band.growth: [], Band.strength: []}
    for code, points, mx, t in zip(
        instrument.competencies, comp, instrument.competency_max, instrument.competency_thresholds, strict=False
    ):
        bands[band_for(percent_of(points, mx), t)].append(code)
    return Score(
        competency_points=tuple(comp),
        total=total_points,
        max_total=instrument.max_total,
        percent=pct,
        level=cut.level,
        group=cut.group,
        level_source=source,
        deficits=tuple(bands[Band.deficit]),
        growth=tuple(bands[Band.growth]),
        strengths=tuple(bands[Band.strength]),
    )


@dataclass(frozen=True)
class WholePointCuts:
    """`score_result` for whole-point item scores, tabulated so that SQL can apply it row by row.

    Derived from the rules above (same rounding), not a second copy of them: a competency whose
    points sum to s is a deficit when s < deficit_until[k], a strength when s >= strength_from[k];
    a total t has percent percents[t] and the level whose group g has level_from[g - 1] <= t.
    """

    deficit_until: tuple[int, ...]
    strength_from: tuple[int, ...]
    level_from: tuple[int, ...]
    levels: tuple[str, ...]  # low .. high, of groups 1 ..
    percents: tuple[float, ...]


def whole_point_cuts(framework: Framework, instrument: Instrument) -> WholePointCuts | None:
    """The cuts of `instrument`'s whole-point scores, or None when the rules are not monotonic in them."""
    deficit_until: list[int] = []
    strength_from: list[int] = []
    for k, mx in enumerate(instrument.competency_max):
        bands = []
        for s in range(math.floor(mx) + 1):
            sc = score_result(
                framework,
                instrument,
                competency_points=[mx if j != k else s for j in range(len(instrument.competencies))],
            )
            code = instrument.competencies[k]
            bands.append(0 if code in sc.deficits else 2 if code in sc.strengths else 1)
        if bands != sorted(bands):
            return None
        deficit_until.append(bands.count(0))
        strength_from.append(len(bands) - bands.count(2))
    percents: list[float] = []
    groups: list[int] = []
    for t in range(math.floor(instrument.max_total) + 1):
        pct = percent_of(t, instrument.max_total)
        percents.append(pct)
        groups.append(framework.level_for(pct).group)
    if groups != sorted(groups) or [c.group for c in framework.levels] != list(range(1, len(framework.levels) + 1)):
        return None
    level_from = tuple(next((t for t, g in enumerate(groups) if g >= c.group), len(groups)) for c in framework.levels)
    return WholePointCuts(
        tuple(deficit_until),
        tuple(strength_from),
        level_from,
        tuple(c.level.value for c in framework.levels),
        tuple(percents),
    )


# --- explanations ----------------------------------------------------------------------------------


def _num(x: float) -> str:
    """Russian number formatting: 37.5 -> "37,5", 4.0 -> "4"."""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.2f}".rstrip("0").rstrip(".").replace(".", ",")


def explain_competencies(
    framework: Framework,
    instrument: Instrument,
    competency_points: Sequence[float],
    item_points: Sequence[float] | None,
) -> list[dict[str, Any]]:
    """Every measured competency with its points, band, the threshold applied, its items and a reason."""
    per_comp_items: list[list[dict[str, Any]]] = [[] for _ in instrument.competencies]
    if item_points is not None:
        for it, ci, p in zip(instrument.items, instrument.item_competency, item_points, strict=True):
            per_comp_items[ci].append({"item": it.code, "points": float(p), "max_points": it.max_points})
    out: list[dict[str, Any]] = []
    for ci, (code, points, mx) in enumerate(
        zip(instrument.competencies, competency_points, instrument.competency_max, strict=False)
    ):
        comp = framework.competencies[code]
        pct = percent_of(float(points), mx)
        band = band_for(pct, comp.thresholds)
        items = per_comp_items[ci]
        if band is Band.deficit:
            threshold = comp.thresholds.deficit_below
            reason = f"ниже порога {_num(threshold)} %"
        elif band is Band.strength:
            threshold = comp.thresholds.strength_from
            reason = f"не ниже порога {_num(threshold)} %"
        else:
            threshold = comp.thresholds.deficit_below
            reason = f"от {_num(comp.thresholds.deficit_below)} % до {_num(comp.thresholds.strength_from)} %"
        text = (
            f"{BAND_LABELS_RU[band]}: «{comp.name}» — {_num(float(points))} из {_num(mx)} баллов "
            f"({_num(pct)} %), {reason}."
        )
        lost = [i for i in items if i["points"] < i["max_points"]]
        if band is not Band.strength and lost:
            text += (
                " Задания с потерей баллов: "
                + ", ".join(f"{i['item']} ({_num(i['points'])} из {_num(i['max_points'])})" for i in lost)
                + "."
            )
        out.append(
            {
                "competency": code,
                "name": comp.name,
                "area": comp.area,
                "subject": comp.subject,
                "points": float(points),
                "max_points": mx,
                "percent": pct,
                "band": band.value,
                "threshold": threshold,
                "items": items,
                "explanation": text,
                "skills": list(comp.skills),
            }
        )
    return out


# --- analytics helpers -----------------------------------------------------------------------------


def percent_shares(counts: Sequence[int], decimals: int = 1) -> list[float]:
    """Percents of `counts` rounded so that they add up to exactly 100 (largest remainder)."""
    total = sum(counts)
    if total == 0:
        return [0.0 for _ in counts]
    unit = 10**decimals
    exact = [c * 100 * unit / total for c in counts]
    floors = [math.floor(x) for x in exact]
    short = 100 * unit - sum(floors)
    order = sorted(range(len(counts)), key=lambda i: (exact[i] - floors[i], counts[i]), reverse=True)
    for i in order[:short]:
        floors[i] += 1
    return [f / unit for f in floors]


def trend(previous: float | None, current: float, tolerance: float = 0.05) -> str | None:
    """ "up", "down" or "same" (within `tolerance`); None without a previous value."""
    if previous is None:
        return None
    if current - previous > tolerance:
        return "up"
    if previous - current > tolerance:
        return "down"
    return "same"
