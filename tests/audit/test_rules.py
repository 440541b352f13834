"""Pure rules of the audit service: group procedure, scoring, bands, analysis, KPIs, effectiveness."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from kit.errors import ValidationFailed
from services.audit.bands import BANDS, band_range, band_row, inner_edges, lower_edge
from services.audit.checklist import summarise
from services.audit.clients import (
    AssessmentPoint,
    Reassessment,
    ResultPoint,
    RouteOutcome,
    RouteStats,
    TeacherLevels,
    UpstreamShapeError,
    pair_results,
    parse_outcome,
    parse_result,
    parse_route,
)
from services.audit.config import AuditSettings
from services.audit.effectiveness import compute_effectiveness, wilson
from services.audit.engagement import ENGAGED_FROM, count_engaged, is_engaged
from services.audit.kpi import Engagement, compute_kpis
from services.audit.monitoring import (
    ScoreRow,
    analyse,
    band_of,
    canonical_column,
    evaluate,
    percent_of,
    validate_rows,
)
from services.audit.outbox import backoff_seconds
from services.audit.procedure import (
    DEFAULT_GROUP_RULES,
    GroupRules,
    Procedure,
    Review,
    disagreements,
    final_scores,
    group_table,
    in_sample,
    procedure_for,
    requirement,
    weakest_criteria,
)
from services.audit.report import CampaignInfo, build_svg, build_xlsx
from services.audit.uploads import score_records
from services.audit.vocab import Band, Direction, Step, criteria

pytestmark = pytest.mark.no_db

RULES = GroupRules(frozenset({1}), True, {3: 0.3, 4: 0.2}, "salt")
FULL = [2, 2, 1, 2, 1, 0, 2, 2, 1, 2]


def steps(**points: float) -> dict[Step, Decimal]:
    base = {s: Decimal(0) for s in Step}
    base.update({Step(k): Decimal(str(v)) for k, v in points.items()})
    return base


class TestCriteriaSeed:
    def test_ten_criteria_load_with_russian_labels(self) -> None:
        cs = criteria()
        assert [c.number for c in cs] == list(range(1, 11))
        assert cs[0].label.startswith("Соответствие образовательных задач")
        assert all(c.max_score == 2 for c in cs)


class TestGroupProcedure:
    def test_group_one_needs_double_review(self) -> None:
        assert procedure_for(1, uuid.uuid4(), RULES) == (Procedure.double, None)

    def test_group_two_gets_one_full_review(self) -> None:
        assert procedure_for(2, uuid.uuid4(), RULES) == (Procedure.full, None)

    def test_sampling_is_deterministic_by_route_id(self) -> None:
        rid = uuid.uuid4()
        assert procedure_for(3, rid, RULES) == procedure_for(3, rid, RULES)

    def test_sampled_share_is_close_to_configured(self) -> None:
        ids = [uuid.UUID(int=i * 7919 + 1) for i in range(4000)]
        share = sum(in_sample(i, 0.3, "salt") for i in ids) / len(ids)
        assert 0.27 < share < 0.33

    def test_sampled_out_route_is_closed_on_self_check(self) -> None:
        rid = next(r for r in (uuid.uuid4() for _ in range(1000)) if not in_sample(r, 0.2, "salt"))
        assert procedure_for(4, rid, RULES) == (Procedure.self_check, False)

    def test_share_one_reviews_everything_and_zero_nothing(self) -> None:
        rules = GroupRules(frozenset({1}), True, {3: 1.0, 4: 0.0}, "s")
        rid = uuid.uuid4()
        assert procedure_for(3, rid, rules) == (Procedure.full, True)
        assert procedure_for(4, rid, rules) == (Procedure.self_check, False)

    def test_double_review_groups_are_configurable(self) -> None:
        rules = GroupRules(frozenset({1, 2}), False, {}, "s")
        assert procedure_for(2, uuid.uuid4(), rules)[0] == Procedure.double

    def test_settings_default_to_the_regulation(self) -> None:
        assert AuditSettings().group_rules() == GroupRules(
            DEFAULT_GROUP_RULES.double_review_groups,
            DEFAULT_GROUP_RULES.allow_named_second_check,
            dict(DEFAULT_GROUP_RULES.sample_shares),
            DEFAULT_GROUP_RULES.sample_salt,
        )

    def test_group_table_lists_every_group(self) -> None:
        assert group_table(RULES) == [
            {"group": 1, "procedure": Procedure.double, "named_second_check_allowed": True},
            {"group": 2, "procedure": Procedure.full},
            {"group": 3, "procedure": Procedure.full, "sample_share": 0.3},
            {"group": 4, "procedure": Procedure.full, "sample_share": 0.2},
        ]


class TestRequirement:
    def test_double_with_one_review_is_not_met(self) -> None:
        req = requirement(Procedure.double, [Review("a", tuple(FULL))], [None] * 10, RULES)
        assert not req.met and req.reviews_required == 2 and req.reviews_done == 1

    def test_double_with_two_auditors_is_met(self) -> None:
        req = requirement(Procedure.double, [Review("a", tuple(FULL)), Review("b", tuple(FULL))], [], RULES)
        assert req.met

    def test_double_with_named_second_check_is_met_when_allowed(self) -> None:
        reviews = [Review("a", tuple(FULL), second_check=True)]
        assert requirement(Procedure.double, reviews, [], RULES).met
        strict = GroupRules(frozenset({1}), False, {}, "s")
        assert not requirement(Procedure.double, reviews, [], strict).met

    def test_full_needs_one_review(self) -> None:
        assert not requirement(Procedure.full, [], [2] * 10, RULES).met
        assert requirement(Procedure.full, [Review("a", tuple(FULL))], [], RULES).met

    def test_self_check_needs_a_complete_self_check(self) -> None:
        assert requirement(Procedure.self_check, [], [2] * 10, RULES).met
        assert not requirement(Procedure.self_check, [], [2] * 9 + [None], RULES).met


class TestFinalScores:
    def test_one_review_is_final(self) -> None:
        assert final_scores([Review("a", tuple(FULL))], []) == FULL

    def test_two_auditors_disagreeing_round_down(self) -> None:
        a = Review("a", (2, 2, 2, 2, 2, 2, 2, 2, 2, 0))
        b = Review("b", (1, 2, 0, 2, 2, 2, 2, 2, 2, 2))
        assert final_scores([a, b], []) == [1, 2, 1, 2, 2, 2, 2, 2, 2, 1]
        assert disagreements([a, b]) == [1, 3, 10]

    def test_sampled_out_route_takes_the_self_check(self) -> None:
        assert final_scores([], [1] * 10) == [1] * 10

    def test_incomplete_self_check_cannot_be_final(self) -> None:
        with pytest.raises(ValueError):
            final_scores([], [1] * 9 + [None])

    def test_weakest_criteria_lowest_first_ties_by_number(self) -> None:
        assert weakest_criteria([2, 1.5, 0.5, 1.5, None, 2, 2, 2, 2, 0.5]) == [3, 10, 2]


class TestBands:
    @pytest.mark.parametrize(
        ("percent", "band"),
        [
            (0, Band.critical),
            (29, Band.critical),
            (Decimal("29.99"), Band.critical),
            (30, Band.low),
            (59, Band.low),
            (Decimal("59.9"), Band.low),
            (60, Band.medium),
            (79, Band.medium),
            (80, Band.high),
            (100, Band.high),
        ],
    )
    def test_band_edges(self, percent: Any, band: Band) -> None:
        assert band_of(Decimal(percent)) == band

    def test_percent_is_exact_at_the_edge(self) -> None:
        # 6.3 of 21 is exactly 30%; in floats it is 29.999999999999996.
        assert percent_of(Decimal("6.3"), 21) == 30
        assert band_of(percent_of(Decimal("6.3"), 21)) == Band.low

    def test_one_table_gives_edges_ranges_labels_and_colours(self) -> None:
        assert [b.band for b in BANDS] == list(Band)
        assert [band_range(b) for b in Band] == [(0, 29), (30, 59), (60, 79), (80, None)]
        assert inner_edges() == [30, 60, 80]
        assert band_row(Band.low).label == "30–59%" and band_row(Band.high).colour == "63BE7B"
        for b in BANDS[1:]:
            assert band_of(lower_edge(b.band)) == b.band
            assert str(b.from_percent) in b.label


class TestEngagement:
    def test_engaged_from_the_low_band(self) -> None:
        assert ENGAGED_FROM == lower_edge(Band.low) == 30
        assert not is_engaged(Decimal("29.99")) and is_engaged(Decimal(30))

    def test_counts_only_the_given_municipalities(self) -> None:
        rows = [
            ScoreRow("a", None, steps(goals=21, indicators=9)),  # 30 of 100
            ScoreRow("b", None, steps(goals=21, indicators=8)),  # 29
            ScoreRow("z", None, steps(goals=21, measures=21)),  # not in the directory
        ]
        assert count_engaged(rows, {"a", "b", "c"}) == 1

    def test_the_analysis_lists_the_same_municipalities_as_not_engaged(self) -> None:
        a = analyse(crafted_region())
        codes = {m.municipality for m in a.municipalities}
        not_engaged = {m.municipality for m in a.not_engaged}
        assert len(codes) - len(not_engaged) == count_engaged(crafted_region(), codes)


def raw(mun: str, **points: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"municipality": mun, **{s.value: 1 for s in Step}}
    base.update(points)
    return base


class TestValidateRows:
    def test_good_row_passes(self) -> None:
        good, errors = validate_rows([(1, raw("mo-1", total=9))])
        assert not errors and good[0].total == 9

    def test_above_max_names_row_and_column(self) -> None:
        _, errors = validate_rows([(1, raw("mo-1")), (2, raw("mo-2", methods=4))])
        assert [(e.row, e.column, e.code) for e in errors] == [(2, "methods", "above-max")]
        assert errors[0].message.startswith("Строка 2: ")
        assert "«Методы сбора и обработки информации»" in errors[0].message

    def test_total_that_does_not_add_up_is_rejected(self) -> None:
        _, errors = validate_rows([(3, raw("mo-1", total=10))])
        assert [(e.row, e.column, e.code) for e in errors] == [(3, "total", "total-mismatch")]

    def test_every_bad_row_is_reported(self) -> None:
        _, errors = validate_rows(
            [(1, raw("mo-1", goals="abc")), (2, raw("mo-1")), (3, raw("", goals=-1)), (4, raw("mo-4", goals=None))]
        )
        got = {(e.row, e.column, e.code) for e in errors}
        assert got == {
            (1, "goals", "not-a-number"),
            (2, "municipality", "duplicate-municipality"),
            (3, "municipality", "missing"),
            (3, "goals", "negative"),
            (4, "goals", "missing"),
        }

    def test_comma_decimals_and_too_precise(self) -> None:
        good, errors = validate_rows([(1, raw("mo-1", goals="10,5")), (2, raw("mo-2", goals="1.255"))])
        assert good[0].points[Step.goals] == Decimal("10.5")
        assert [(e.row, e.code) for e in errors] == [(2, "too-precise")]

    def test_russian_headers_map_to_steps(self) -> None:
        assert canonical_column("Цели") == "goals"
        assert canonical_column("Анализ эффективности принятых мер") == "effectiveness"
        assert canonical_column(" итого ") == "total"
        assert canonical_column("Муниципалитет") == "municipality_name"
        assert canonical_column("№") is None


class TestUploadRecords:
    def test_json_rows_are_keyed_by_canonical_column(self) -> None:
        body = b'{"rows": [{"municipality": "mo-1", "\xd0\xa6\xd0\xb5\xd0\xbb\xd0\xb8": 3}]}'
        assert score_records(body, "application/json", AuditSettings()) == [(1, {"municipality": "mo-1", "goals": 3})]

    def test_every_bad_json_row_is_named(self) -> None:
        with pytest.raises(ValidationFailed) as e:
            score_records(b'{"rows": [5, {"municipality": "x", "colour": 1}]}', "application/json", AuditSettings())
        assert [(x.row, x.code) for x in e.value.errors or []] == [(1, "not-an-object"), (2, "unknown-field")]

    def test_json_that_is_not_a_list_of_rows(self) -> None:
        for body in (b"not json", b'{"rows": []}', b"[]"):
            with pytest.raises(ValidationFailed):
                score_records(body, "application/json", AuditSettings())

    def test_too_many_json_rows(self) -> None:
        settings = AuditSettings(monitoring_max_rows=1)
        with pytest.raises(ValidationFailed) as e:
            score_records(b'{"rows": [{}, {}]}', "application/json", settings)
        assert [x.code for x in e.value.errors or []] == ["too-many-rows"]

    def test_csv_goes_through_the_table_reader(self) -> None:
        header = "municipality;" + ";".join(s.value for s in Step)
        body = (header + "\nmo-1;" + ";".join("1" for _ in Step) + "\n").encode()
        got = score_records(body, "text/csv", AuditSettings())
        assert got[0][1]["municipality"] == "mo-1" and got[0][1]["goals"] == "1"


def crafted_region() -> list[ScoreRow]:
    """Three municipalities; region-wide the weakest steps are decisions, then effectiveness, then methods."""
    return [
        ScoreRow(
            "mo-a",
            "А",
            steps(
                goals=20,
                indicators=9,
                methods=1,
                monitoring=14,
                analysis=14,
                recommendations=8,
                measures=20,
                decisions=0,
                effectiveness=1,
            ),
        ),
        ScoreRow(
            "mo-b",
            "Б",
            steps(
                goals=10,
                indicators=5,
                methods=1,
                monitoring=7,
                analysis=7,
                recommendations=4,
                measures=10,
                decisions=0,
                effectiveness=0,
            ),
        ),
        ScoreRow(
            "mo-c",
            "В",
            steps(
                goals=2,
                indicators=1,
                methods=1,
                monitoring=1,
                analysis=1,
                recommendations=1,
                measures=2,
                decisions=1,
                effectiveness=0,
            ),
        ),
    ]


class TestAnalysis:
    def test_top_deficits_ranked_weakest_first(self) -> None:
        a = analyse(crafted_region())
        assert [s.step for s in a.top_deficits] == [Step.decisions, Step.effectiveness, Step.methods]
        decisions = next(s for s in a.steps if s.step == Step.decisions)
        assert decisions.rank == 1 and round(decisions.percent, 2) == Decimal("11.11")
        assert decisions.below_30 == 2  # mo-c has 1 of 3 (33%)

    def test_not_engaged_leaders_and_self_audit(self) -> None:
        a = analyse(crafted_region())
        assert [m.municipality for m in a.not_engaged] == ["mo-c"]
        assert [m.municipality for m in a.leaders] == ["mo-a"]
        # mo-a leads but has steps below 30% (decisions, effectiveness): it still needs a self-audit.
        assert [m.municipality for m in a.needing_self_audit] == ["mo-c", "mo-b", "mo-a"]

    def test_change_against_previous_campaign(self) -> None:
        before = [ScoreRow("mo-a", "А", steps(goals=10, decisions=3)), ScoreRow("mo-z", "Я", steps(goals=1))]
        a = analyse(crafted_region(), before)
        mo_a = next(m for m in a.municipalities if m.municipality == "mo-a")
        assert mo_a.change is not None and mo_a.change.previous_total == 13
        assert mo_a.change.delta_total == mo_a.total - 13
        assert mo_a.change.step_deltas[Step.decisions] == -100
        assert next(m for m in a.municipalities if m.municipality == "mo-b").change is None

    def test_evaluate_bands_per_step(self) -> None:
        m = evaluate(ScoreRow("x", None, steps(goals=21, indicators=3, methods=Decimal("0.9"))))
        assert m.bands[Step.goals] == Band.high and m.bands[Step.indicators] == Band.low
        assert m.bands[Step.methods] == Band.low and m.band == Band.critical

    def test_empty_region(self) -> None:
        a = analyse([])
        assert a.average_total is None and a.top_deficits == [] and a.municipalities == []


class TestReport:
    def test_xlsx_has_values_fills_and_a_chart(self) -> None:
        data = build_xlsx(
            analyse(crafted_region()), CampaignInfo("r-1", "c-1", "Весна", date(2026, 4, 1), previous_code=None)
        )
        wb = openpyxl.load_workbook(io.BytesIO(data))
        assert wb.sheetnames == ["Мониторинг", "Дефициты", "Самоаудит", "Диаграмма"]
        ws = wb["Мониторинг"]
        first = [c.value for c in ws[6]]
        assert first[:3] == [1, "mo-a", "А"]
        assert ws.cell(6, 4).value == 20 and ws.cell(6, 4).fill.start_color.rgb.endswith(band_row(Band.high).colour)
        assert len(wb["Диаграмма"]._charts) == 1

    def test_formula_like_names_are_escaped(self) -> None:
        data = build_xlsx(
            analyse([ScoreRow("mo-x", '=HYPERLINK("x")', steps(goals=1))]),
            CampaignInfo("r", "c", "t", date(2026, 1, 1)),
        )
        ws = openpyxl.load_workbook(io.BytesIO(data))["Мониторинг"]
        assert ws.cell(6, 3).value.startswith("'=")

    def test_svg_has_a_bar_per_step_coloured_by_band(self) -> None:
        svg = build_svg(analyse(crafted_region()), title="Тест <&>")
        assert svg.count("<rect x=") == 9
        assert "Тест &lt;&amp;&gt;" in svg and f'fill="#{band_row(Band.critical).colour}"' in svg


class TestKpis:
    def test_shares_computed_from_counts(self) -> None:
        kpis = {
            k.code: k
            for k in compute_kpis(
                TeacherLevels(teachers_total=200, teachers_assessed=150, basic_or_higher=99),
                RouteStats(
                    teachers_with_route=120,
                    routes_created=130,
                    routes_completed=40,
                    teachers_completed_matching_courses=30,
                ),
                Engagement(municipalities=60, engaged=45, campaign_id=None, campaign_code="c"),
                basic_target=60.0,
            )
        }
        assert kpis["teachers_assessed"].value == 75.0
        assert kpis["basic_or_higher"].value == 66.0 and kpis["basic_or_higher"].meets_target is True
        assert kpis["teachers_with_route"].value == 60.0
        assert kpis["routes_created"].value == 130
        assert kpis["completed_matching_courses"].value == 25.0
        assert kpis["municipalities_engaged"].value == 75.0

    def test_missing_source_makes_only_its_kpis_unavailable(self) -> None:
        kpis = {
            k.code: k
            for k in compute_kpis(
                TeacherLevels(10, 5, 2), None, None, basic_target=60.0, unavailable={"routes": "down"}
            )
        }
        assert kpis["teachers_assessed"].status == "ok"
        assert kpis["basic_or_higher"].meets_target is False
        assert kpis["routes_created"].status == "unavailable" and kpis["routes_created"].detail == "down"
        assert kpis["teachers_with_route"].status == "unavailable"
        assert kpis["municipalities_engaged"].status == "unavailable"

    def test_zero_denominator_gives_no_share(self) -> None:
        kpi = compute_kpis(TeacherLevels(0, 0, 0), None, None, basic_target=60)[0]
        assert kpi.status == "ok" and kpi.value is None


def at(d: str) -> datetime:
    return datetime.fromisoformat(d).replace(tzinfo=UTC)


def pair(teacher: str, before: tuple[int, set[str]], after: tuple[int, set[str]], mun: str = "mo-a") -> Reassessment:
    return Reassessment(
        teacher,
        mun,
        "mathematics",
        AssessmentPoint(at("2026-01-10"), before[0], frozenset(before[1])),
        AssessmentPoint(at("2026-09-10"), after[0], frozenset(after[1])),
    )


def outcome(
    teacher: str,
    *,
    kinds: tuple[str, ...] = ("course",),
    mentor: str | None = None,
    completed: str | None = "2026-06-01",
    group: int = 1,
    status: str = "completed",
) -> RouteOutcome:
    return RouteOutcome(
        f"r-{teacher}",
        teacher,
        "mo-a",
        group,
        "mathematics",
        status,
        at(completed) if completed else None,
        kinds,
        mentor,
        frozenset(),
    )


class TestEffectiveness:
    def test_route_cohort_against_the_rest(self) -> None:
        pairs = [
            pair("t1", (1, {"M1", "M2"}), (2, {"M2"})),  # route: 1 of 2 closed, up
            pair("t2", (1, {"M1"}), (1, set())),  # route: 1 of 1 closed, same
            pair("t3", (2, {"M3"}), (2, {"M3"})),  # route completed after the re-assessment: no route
            pair("t4", (2, {"M1", "M4"}), (1, {"M1", "M4"})),  # no route: 0 of 2, down
        ]
        outs = [
            outcome("t1", kinds=("course", "mentor"), mentor="m-1"),
            outcome("t2"),
            outcome("t3", completed="2026-10-01"),
            outcome("t9"),
        ]
        got = compute_effectiveness(outs, pairs, min_group=2)
        w, wo = got["with_route"], got["without_route"]
        assert (w["teachers"], w["deficits_before"], w["deficits_closed"], w["improved"], w["same"]) == (2, 3, 2, 1, 1)
        assert w["closed_share"] == 66.7 and w["improved_share"] == 50.0 and w["mean_level_change"] == 0.5
        assert (wo["teachers"], wo["deficits_closed"], wo["declined"]) == (2, 0, 1)
        assert wo["closed_share"] == 0.0 and got["difference"]["closed_share_pp"] == 66.7
        kinds = {k["key"]: k["with_route"]["teachers"] for k in got["by_resource_kind"]}
        assert kinds == {"course": 2, "mentor": 1}
        mentors = {k["key"]: k["with_route"]["teachers"] for k in got["by_mentor"]}
        assert mentors == {"m-1": 1, "none": 1}

    def test_small_groups_are_not_read(self) -> None:
        got = compute_effectiveness([outcome("t1")], [pair("t1", (1, {"M1"}), (2, set()))], min_group=10)
        assert got["with_route"]["teachers"] == 1 and got["with_route"]["reliable"] is False
        assert got["with_route"]["closed_share"] is None and got["difference"]["closed_share_pp"] is None

    def test_wilson_interval(self) -> None:
        assert wilson(0, 0) is None
        lo, hi = wilson(5, 10) or (0, 0)
        assert lo == pytest.approx(23.7, abs=0.1) and hi == pytest.approx(76.3, abs=0.1)

    def test_results_pair_latest_against_previous(self) -> None:
        def point(t: str, d: str, level: int) -> ResultPoint:
            return ResultPoint(t, "mo-a", "mathematics", AssessmentPoint(at(d), level, frozenset()))

        pts = [
            point("t1", "2026-01-01", 1),
            point("t1", "2026-09-01", 3),
            point("t1", "2025-01-01", 2),
            point("t2", "2026-01-01", 1),
        ]
        got = pair_results(pts, date_from=None, date_to=None)
        assert len(got) == 1 and (got[0].before.level, got[0].after.level) == (1, 3)
        assert pair_results(pts, date_from=None, date_to=date(2026, 6, 1))[0].after.level == 1
        assert pair_results(pts, date_from=date(2026, 10, 1), date_to=None) == []


class TestChecklistSummary:
    def test_weakest_directions_rank_first(self) -> None:
        yes = {
            "goals_and_tasks": True,
            "quantitative_indicators": True,
            "qualitative_indicators": True,
            "collection_methods": True,
        }
        no = dict.fromkeys(yes, False)
        full = {d.value: yes for d in Direction}
        weak = {**full, "staff_potential": no, "young_teachers": {**no, "goals_and_tasks": True}}
        got = summarise(
            [
                {"municipality": "a", "documents": [{"type": "concept"}], "directions": full},
                {"municipality": "b", "documents": [], "directions": weak},
            ]
        )
        assert got["weakest_directions"][:2] == ["staff_potential", "young_teachers"]
        staff = next(d for d in got["directions"] if d["direction"] == "staff_potential")
        assert staff["completeness"] == 50.0 and staff["counts"]["goals_and_tasks"] == 1
        assert got["municipalities_without_documents"] == ["b"]
        assert got["by_municipality"][0]["municipality"] == "b"


class TestBackoff:
    def test_doubles_and_caps(self) -> None:
        assert backoff_seconds(1, 1.0, 60.0, jitter=0) == 1.0
        assert backoff_seconds(4, 1.0, 60.0, jitter=0) == 8.0
        assert backoff_seconds(20, 1.0, 60.0, jitter=0) == 60.0


ROUTE = {
    "id": str(uuid.uuid4()),
    "teacher_id": str(uuid.uuid4()),
    "region": "r",
    "municipality": "m",
    "organisation": "o",
    "subject": "mathematics",
    "group": 2,
    "status": "completed",
    "version": 7,
    "self_check": {
        "criteria": [
            {"number": n, "score": 1 if n % 2 else None, "auto": bool(n % 2), "reason": None} for n in range(1, 11)
        ],
        "total": None,
    },
}


class TestAdapters:
    def test_route_is_parsed_with_self_check(self) -> None:
        r = parse_route(ROUTE)
        assert r.group == 2 and r.version == 7
        assert r.self_check_scores == [1, None] * 5 and r.self_check_meta[0]["auto"] is True

    def test_route_of_unexpected_shape(self) -> None:
        with pytest.raises(UpstreamShapeError):
            parse_route({**ROUTE, "group": 9})

    def test_outcome_and_result_items_are_read_through_their_models(self) -> None:
        o = parse_outcome(
            {
                "route_id": "r",
                "teacher_id": "t",
                "municipality": "m",
                "group": 2,
                "status": "completed",
                "completed_at": "2026-06-01",
                "resource_kinds": ["mentor", "course", "course"],
            }
        )
        assert o.completed_at == datetime(2026, 6, 1, tzinfo=UTC) and o.resource_kinds == ("course", "mentor")
        item = {
            "teacher_id": "t",
            "municipality": "m",
            "campaign": {"subject": "mathematics", "assessed_on": "2026-04-01"},
            "level": "basic",
            "deficits": [{"competency": "M1"}],
        }
        r = parse_result(item)
        assert r.point.level == 2 and r.point.deficits == frozenset({"M1"})
        for bad in ({**item, "level": "top"}, {**item, "campaign": None}):
            with pytest.raises(UpstreamShapeError):
                parse_result(bad)
        with pytest.raises(UpstreamShapeError):
            parse_outcome({"route_id": "r", "teacher_id": "t", "municipality": "m", "group": True, "status": "x"})

    def test_counts_must_be_integers(self) -> None:
        body = {
            "teachers_with_route": 1,
            "routes_created": 2,
            "routes_completed": 0,
            "teachers_completed_matching_courses": 0,
        }
        assert RouteStats.model_validate(body).routes_created == 2
        with pytest.raises(ValueError):
            RouteStats.model_validate({**body, "routes_created": "2"})
