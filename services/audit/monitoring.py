"""Rules of the monitoring of municipalities: row checks, each municipality's bands and the regional analysis."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from kit.errors import FieldError
from services.audit.bands import BANDS, band_of, lower_edge, percent_of
from services.audit.engagement import ENGAGED_FROM, is_engaged
from services.audit.vocab import STEP_LABELS_RU, STEP_MAX, TOTAL_MAX, Band, Step

CODE_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
CENT = Decimal("0.01")
# The thresholds are band edges (bands.py): a step below the low band is weak, a total below the
# medium band (or a weak step) calls for a self-audit, the high band are the leaders.
WEAK_STEP_BELOW = lower_edge(Band.low)
SELF_AUDIT_BELOW = lower_edge(Band.medium)
LEADER_BAND = Band.high


def round_half_up(value: Decimal, places: int = 1) -> float:
    return float(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


# --- intake ------------------------------------------------------------------------------------


def _fold(header: str) -> str:
    return " ".join(str(header).casefold().replace("ё", "е").replace("_", " ").split())


_ALIASES: dict[str, str] = {}


def _alias(canonical: str, *names: str) -> None:
    for n in (canonical, *names):
        _ALIASES[_fold(n)] = canonical


_alias(
    "municipality",
    "municipality code",
    "code",
    "код",
    "код мо",
    "код муниципалитета",
    "код муниципального образования",
)
_alias(
    "municipality_name",
    "name",
    "муниципалитет",
    "наименование",
    "муниципальное образование",
    "наименование мо",
    "наименование муниципалитета",
)
_alias("total", "итого", "итог", "всего", "сумма", "сумма баллов", "итого баллов")
_SHORT_RU = {
    Step.goals: "цели",
    Step.indicators: "показатели",
    Step.methods: "методы",
    Step.monitoring: "мониторинг",
    Step.analysis: "анализ",
    Step.recommendations: "рекомендации",
    Step.measures: "меры",
    Step.decisions: "решения",
    Step.effectiveness: "эффективность",
}
for _step in Step:
    _alias(_step.value, STEP_LABELS_RU[_step], _SHORT_RU[_step])

REQUIRED_COLUMNS = ("municipality", *(s.value for s in Step))


def canonical_column(header: Any) -> str | None:
    """Map a column header (English code or the Russian label analysts use) to its field, or None."""
    if header is None:
        return None
    return _ALIASES.get(_fold(str(header)))


@dataclass(frozen=True)
class ScoreRow:
    municipality: str
    municipality_name: str | None
    points: dict[Step, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.points.values(), Decimal(0))


def _number(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if text == "":
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ValueError from None
    if not d.is_finite():
        raise ValueError
    return d


def validate_rows(rows: Sequence[tuple[int, Mapping[str, Any]]]) -> tuple[list[ScoreRow], list[FieldError]]:
    """Check every row (keys are canonical columns); return the good rows and every error, naming the row."""
    errors: list[FieldError] = []
    good: list[ScoreRow] = []
    seen: dict[str, int] = {}

    def err(row: int, column: str, code: str, message: str) -> None:
        errors.append(FieldError(loc=["body", row, column], code=code, message=message, row=row, column=column))

    for row_no, raw in rows:
        before = len(errors)
        code_value = raw.get("municipality")
        code = str(code_value).strip() if code_value is not None else ""
        if not code:
            err(row_no, "municipality", "missing", f"Строка {row_no}: не указан код муниципалитета")
        elif not CODE_RE.match(code):
            err(row_no, "municipality", "invalid-code", f"Строка {row_no}: в коде муниципалитета недопустимые символы")
        elif code in seen:
            err(
                row_no,
                "municipality",
                "duplicate-municipality",
                f"Строка {row_no}: муниципалитет уже есть в строке {seen[code]}",
            )
        else:
            seen[code] = row_no
        name_value = raw.get("municipality_name")
        name = str(name_value).strip()[:300] if name_value not in (None, "") else None
        points: dict[Step, Decimal] = {}
        for step in Step:
            maximum = STEP_MAX[step]
            label = STEP_LABELS_RU[step]
            try:
                value = _number(raw.get(step.value))
            except ValueError:
                err(row_no, step.value, "not-a-number", f"Строка {row_no}: балл за шаг «{label}» должен быть числом")
                continue
            if value is None:
                err(row_no, step.value, "missing", f"Строка {row_no}: нет балла за шаг «{label}»")
            elif value < 0:
                err(
                    row_no,
                    step.value,
                    "negative",
                    f"Строка {row_no}: балл за шаг «{label}» не может быть отрицательным",
                )
            elif value > maximum:
                err(
                    row_no,
                    step.value,
                    "above-max",
                    f"Строка {row_no}: балл за шаг «{label}» больше максимального ({maximum})",
                )
            elif value != value.quantize(CENT):
                err(
                    row_no,
                    step.value,
                    "too-precise",
                    f"Строка {row_no}: балл за шаг «{label}» — не больше двух знаков после запятой",
                )
            else:
                points[step] = value
        total_raw = raw.get("total")
        if len(points) == len(Step):
            try:
                declared = _number(total_raw) if total_raw not in (None, "") else None
            except ValueError:
                err(row_no, "total", "not-a-number", f"Строка {row_no}: итоговый балл должен быть числом")
            else:
                computed = sum(points.values(), Decimal(0))
                if declared is not None and declared != computed:
                    err(
                        row_no,
                        "total",
                        "total-mismatch",
                        f"Строка {row_no}: итог не равен сумме баллов за девять шагов ({computed.normalize():f})",
                    )
        if len(errors) == before:
            good.append(ScoreRow(code, name, points))
    return good, errors


# --- analysis ----------------------------------------------------------------------------------


@dataclass
class Change:
    previous_total: Decimal
    delta_total: Decimal
    previous_band: Band
    step_deltas: dict[Step, Decimal]  # percentage points


@dataclass
class MunicipalityResult:
    municipality: str
    name: str | None
    points: dict[Step, Decimal]
    percents: dict[Step, Decimal]
    bands: dict[Step, Band]
    total: Decimal
    total_percent: Decimal
    band: Band
    weak_steps: list[Step]
    needs_self_audit: bool
    change: Change | None = None


@dataclass
class StepSummary:
    step: Step
    average_points: Decimal
    percent: Decimal
    band: Band
    below_30: int
    rank: int = 0
    delta: Decimal | None = None  # percentage points against the previous campaign


@dataclass
class Analysis:
    municipalities: list[MunicipalityResult]
    steps: list[StepSummary]
    top_deficits: list[StepSummary]
    not_engaged: list[MunicipalityResult]
    leaders: list[MunicipalityResult]
    needing_self_audit: list[MunicipalityResult]
    average_total: Decimal | None
    band: Band | None
    band_counts: dict[Band, int] = field(default_factory=dict)
    previous_average_total: Decimal | None = None


def evaluate(row: ScoreRow) -> MunicipalityResult:
    percents = {s: percent_of(row.points[s], STEP_MAX[s]) for s in Step}
    bands = {s: band_of(p) for s, p in percents.items()}
    total = row.total
    total_percent = percent_of(total, TOTAL_MAX)
    weak = [s for s in Step if percents[s] < WEAK_STEP_BELOW]
    return MunicipalityResult(
        municipality=row.municipality,
        name=row.municipality_name,
        points=dict(row.points),
        percents=percents,
        bands=bands,
        total=total,
        total_percent=total_percent,
        band=band_of(total_percent),
        weak_steps=weak,
        needs_self_audit=total_percent < SELF_AUDIT_BELOW or bool(weak),
    )


def analyse(
    rows: Iterable[ScoreRow],
    previous: Iterable[ScoreRow] = (),
    *,
    top: int = 3,
) -> Analysis:
    """The regional picture: per municipality, per step, weakest steps, not engaged, leaders, change."""
    results = [evaluate(r) for r in rows]
    results.sort(key=lambda m: (-m.total, m.municipality))
    prev = {r.municipality: evaluate(r) for r in previous}
    for m in results:
        p = prev.get(m.municipality)
        if p is not None:
            m.change = Change(
                previous_total=p.total,
                delta_total=m.total - p.total,
                previous_band=p.band,
                step_deltas={s: m.percents[s] - p.percents[s] for s in Step},
            )
    n = len(results)
    steps: list[StepSummary] = []
    for s in Step:
        if n:
            avg = sum((m.points[s] for m in results), Decimal(0)) / n
            pct = percent_of(avg, STEP_MAX[s])
        else:
            avg = pct = Decimal(0)
        summary = StepSummary(s, avg, pct, band_of(pct), sum(1 for m in results if m.percents[s] < WEAK_STEP_BELOW))
        if prev and n:
            prev_pct = sum((p.percents[s] for p in prev.values()), Decimal(0)) / len(prev)
            summary.delta = pct - prev_pct
        steps.append(summary)
    ranked = sorted(steps, key=lambda st: (st.percent, list(Step).index(st.step)))
    for i, st in enumerate(ranked, start=1):
        st.rank = i
    average_total = sum((m.total for m in results), Decimal(0)) / n if n else None
    return Analysis(
        municipalities=results,
        steps=steps,
        top_deficits=ranked[:top] if n else [],
        not_engaged=[m for m in results if not is_engaged(m.total_percent)],
        leaders=[m for m in results if m.band == LEADER_BAND],
        needing_self_audit=sorted((m for m in results if m.needs_self_audit), key=lambda m: (m.total, m.municipality)),
        average_total=average_total,
        band=band_of(percent_of(average_total, TOTAL_MAX)) if average_total is not None else None,
        band_counts={b: sum(1 for m in results if m.band == b) for b in Band},
        previous_average_total=(sum((p.total for p in prev.values()), Decimal(0)) / len(prev)) if prev else None,
    )


def self_audit_reasons(m: MunicipalityResult) -> list[str]:
    """Why a municipality needs a self-audit, in Russian for the report."""
    reasons = []
    if not is_engaged(m.total_percent):
        reasons.append(f"итог ниже {ENGAGED_FROM}% (не вовлечён)")
    elif m.total_percent < SELF_AUDIT_BELOW:
        reasons.append(f"итог ниже {SELF_AUDIT_BELOW}%")
    if m.weak_steps:
        reasons.append(f"шаги ниже {WEAK_STEP_BELOW}%: " + ", ".join(STEP_LABELS_RU[s] for s in m.weak_steps))
    return reasons


# --- JSON --------------------------------------------------------------------------------------


def _pts(d: Decimal) -> float:
    return round_half_up(d, 2)


def municipality_json(m: MunicipalityResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "municipality": m.municipality,
        "municipality_name": m.name,
        "steps": [
            {
                "step": s.value,
                "points": _pts(m.points[s]),
                "max": STEP_MAX[s],
                "percent": round_half_up(m.percents[s]),
                "band": m.bands[s].value,
            }
            for s in Step
        ],
        "total": _pts(m.total),
        "total_percent": round_half_up(m.total_percent),
        "band": m.band.value,
        "weak_steps": [s.value for s in m.weak_steps],
        "needs_self_audit": m.needs_self_audit,
        "change": None,
    }
    if m.change is not None:
        out["change"] = {
            "previous_total": _pts(m.change.previous_total),
            "delta_total": _pts(m.change.delta_total),
            "previous_band": m.change.previous_band.value,
            "step_deltas": {s.value: round_half_up(d) for s, d in m.change.step_deltas.items()},
        }
    return out


def step_json(st: StepSummary) -> dict[str, Any]:
    return {
        "step": st.step.value,
        "label": STEP_LABELS_RU[st.step],
        "max": STEP_MAX[st.step],
        "average_points": _pts(st.average_points),
        "percent": round_half_up(st.percent),
        "band": st.band.value,
        "municipalities_below_30": st.below_30,
        "rank": st.rank,
        "delta": round_half_up(st.delta) if st.delta is not None else None,
    }


def _brief(m: MunicipalityResult) -> dict[str, Any]:
    return {
        "municipality": m.municipality,
        "municipality_name": m.name,
        "total": _pts(m.total),
        "band": m.band.value,
    }


def analysis_json(a: Analysis) -> dict[str, Any]:
    return {
        "municipalities": [municipality_json(m) for m in a.municipalities],
        "steps": [step_json(st) for st in a.steps],
        "top_deficits": [step_json(st) for st in a.top_deficits],
        "not_engaged": [_brief(m) for m in a.not_engaged],
        "leaders": [_brief(m) for m in a.leaders],
        "needing_self_audit": [{**_brief(m), "reasons": self_audit_reasons(m)} for m in a.needing_self_audit],
        "region": {
            "municipalities": len(a.municipalities),
            "average_total": _pts(a.average_total) if a.average_total is not None else None,
            "band": a.band.value if a.band else None,
            "band_counts": {b.value: a.band_counts.get(b, 0) for b in Band},
            "previous_average_total": _pts(a.previous_average_total) if a.previous_average_total is not None else None,
        },
        "bands": [{"band": b.band.value, "label": b.label} for b in BANDS],
    }
