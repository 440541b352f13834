"""Pure rules: framework checks, levels, bands, explained deficits, shares, upload parsing."""

from __future__ import annotations

import copy
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest

from services.assessment.intake import (
    ArchiveLimits,
    SpooledBody,
    UploadRejected,
    _slow_number,
    check_xlsx_archive,
    copyable_csv,
    csv_encoding,
    map_header,
    sniff_delimiter,
)
from services.assessment.result_schemas import FrameworkCreate
from services.assessment.scoring import (
    Band,
    Level,
    Thresholds,
    band_for,
    check_framework,
    explain_competencies,
    framework_from_document,
    percent_shares,
    score_result,
    trend,
    whole_point_cuts,
)
from tests.assessment.intake_support import MATH, framework_doc, scores_with

pytestmark = pytest.mark.no_db


def fw(doc: dict[str, Any] | None = None) -> Any:
    return framework_from_document(doc or framework_doc(), 1)


class TestDefaultFramework:
    def test_default_file_is_a_valid_framework(self) -> None:
        doc = framework_doc()
        FrameworkCreate.model_validate(doc)
        assert check_framework(doc) == []

    def test_has_the_four_methodological_areas_and_two_subjects(self) -> None:
        f = fw()
        assert [c for c in f.competencies if f.competencies[c].area == "methodological"] == ["M1", "M2", "M3", "M4"]
        assert {f.competencies[c].subject for c in f.competencies} >= {"mathematics", "russian"}
        assert f.competencies["M3"].name.startswith("Педагогическое оценивание")

    def test_math_instrument_has_thirty_items(self) -> None:
        ins = fw().instruments[MATH]
        assert len(ins.items) == 30
        assert ins.max_total == 57
        assert ins.competencies == ("M1", "M2", "M3", "M4", "MA1", "MA2", "MA3", "MA4")


class TestFrameworkChecks:
    def test_item_of_unknown_competency(self) -> None:
        doc = framework_doc()
        doc["instruments"][0]["items"][0]["competency"] = "ZZ"
        assert "unknown-competency" in {code for _, code, _ in check_framework(doc)}

    def test_duplicate_item_code(self) -> None:
        doc = framework_doc()
        doc["instruments"][0]["items"][1]["code"] = doc["instruments"][0]["items"][0]["code"]
        assert "duplicate-code" in {code for _, code, _ in check_framework(doc)}

    def test_levels_must_increase(self) -> None:
        doc = framework_doc()
        doc["levels"][2]["min_percent"] = 30
        assert "cut-scores" in {code for _, code, _ in check_framework(doc)}

    def test_item_code_may_not_shadow_a_column(self) -> None:
        doc = framework_doc()
        doc["instruments"][0]["items"][0]["code"] = "M1"
        assert "ambiguous-code" in {code for _, code, _ in check_framework(doc)}

    def test_subject_competency_in_other_subject_instrument(self) -> None:
        doc = framework_doc()
        doc["instruments"][0]["items"][0]["competency"] = "RU1"
        assert "subject-mismatch" in {code for _, code, _ in check_framework(doc)}


class TestLevels:
    @pytest.mark.parametrize(
        ("percent", "level", "group"),
        [
            (0, Level.low, 1),
            (39.99, Level.low, 1),
            (40, Level.basic, 2),
            (59.99, Level.basic, 2),
            (60, Level.elevated, 3),
            (79.99, Level.elevated, 3),
            (80, Level.high, 4),
            (100, Level.high, 4),
        ],
    )
    def test_cut_scores_are_inclusive_lower_bounds(self, percent: float, level: Level, group: int) -> None:
        cut = fw().level_for(percent)
        assert (cut.level, cut.group) == (level, group)

    def test_cut_scores_come_from_the_document(self) -> None:
        doc = framework_doc()
        doc["levels"][1]["min_percent"] = 50
        assert fw(doc).level_for(45).level == Level.low


class TestBands:
    @pytest.mark.parametrize(
        ("percent", "band"),
        [
            (0, Band.deficit),
            (49.99, Band.deficit),
            (50, Band.growth),
            (79.99, Band.growth),
            (80, Band.strength),
            (100, Band.strength),
        ],
    )
    def test_default_thresholds(self, percent: float, band: Band) -> None:
        assert band_for(percent, Thresholds()) == band

    def test_competency_may_override_thresholds(self) -> None:
        doc = framework_doc()
        doc["competencies"][2]["thresholds"] = {"deficit_below": 70, "strength_from": 90}
        f = fw(doc)
        ins = f.instruments[MATH]
        # M3 at 5 of 8 = 62.5 %: a growth point by default, a deficit with the override.
        items = scores_with(set())
        m3 = [i for i, it in enumerate(ins.items) if it.competency == "M3"]
        items[m3[0]], items[m3[1]], items[m3[2]] = 2, 3, 0
        assert "M3" in score_result(f, ins, item_points=items).deficits
        assert "M3" in score_result(fw(), fw().instruments[MATH], item_points=items).growth


class TestScoreResult:
    def test_items_sum_into_competencies_total_and_level(self) -> None:
        f = fw()
        ins = f.instruments[MATH]
        s = score_result(f, ins, item_points=scores_with({"M3", "MA4"}))
        assert s.total == 57 - 8 - 6
        assert s.percent == round(43 * 100 / 57, 2)
        assert s.level == Level.elevated and s.group == 3 and s.level_source == "computed"
        assert s.deficits == ("M3", "MA4")
        assert set(s.strengths) == {"M1", "M2", "M4", "MA1", "MA2", "MA3"}

    def test_reported_level_is_kept(self) -> None:
        f = fw()
        s = score_result(f, f.instruments[MATH], item_points=scores_with(), reported_level=Level.basic)
        assert (s.level, s.group, s.level_source) == (Level.basic, 2, "reported")

    def test_total_only_gives_a_level_without_competencies(self) -> None:
        f = fw()
        s = score_result(f, f.instruments[MATH], total=20)
        assert s.level == Level.low and s.competency_points == () and s.deficits == ()

    def test_competency_scores_without_items(self) -> None:
        f = fw()
        ins = f.instruments[MATH]
        s = score_result(f, ins, competency_points=[7, 7, 0, 6, 7, 8, 8, 6])
        assert s.deficits == ("M3",) and s.total == 49


class TestWholePointCuts:
    """The tabulated rules the COPY path scores with must give what `score_result` gives."""

    @staticmethod
    def tabulated(f: Any, code: str, points: list[int]) -> tuple[Any, ...]:
        ins = f.instruments[code]
        cuts = whole_point_cuts(f, ins)
        assert cuts is not None
        comp = [sum(points[k] for k in idx) for idx in ins.competency_items]
        total = sum(comp)
        group = max(g for g, t in enumerate(cuts.level_from, start=1) if total >= t)
        bands = [
            (c, 0 if s < d else 2 if s >= st else 1)
            for c, s, d, st in zip(ins.competencies, comp, cuts.deficit_until, cuts.strength_from, strict=True)
        ]
        return (
            comp,
            total,
            cuts.percents[total],
            cuts.levels[group - 1],
            group,
            [c for c, b in bands if b == 0],
            [c for c, b in bands if b == 1],
            [c for c, b in bands if b == 2],
        )

    @staticmethod
    def scored(f: Any, code: str, points: list[int]) -> tuple[Any, ...]:
        sc = score_result(f, f.instruments[code], item_points=points)
        return (
            list(sc.competency_points),
            sc.total,
            sc.percent,
            sc.level.value,
            sc.group,
            list(sc.deficits),
            list(sc.growth),
            list(sc.strengths),
        )

    @pytest.mark.parametrize(
        "thresholds",
        [None, {"deficit_below": 33.33, "strength_from": 66.67}, {"deficit_below": 50, "strength_from": 50}],
    )
    def test_every_score_of_every_instrument(self, thresholds: dict[str, float] | None) -> None:
        doc = framework_doc()
        if thresholds:
            doc["thresholds"] = thresholds
            doc["competencies"][2]["thresholds"] = {"deficit_below": 12.5, "strength_from": 87.5}
            doc["levels"][1]["min_percent"] = 33.33
        doc["instruments"][0]["items"][3]["max_points"] = 2.5
        f = fw(doc)
        rng = random.Random(7)
        for code, ins in f.instruments.items():
            maxes = [int(it.max_points) for it in ins.items]
            for n in range(400):
                points = [min(m, int(rng.random() * (m + 1) * (n / 200))) for m in maxes]
                assert self.tabulated(f, code, points) == self.scored(f, code, points), points

    def test_csv_that_copy_would_read_otherwise_is_left_to_python(self, tmp_path: Path) -> None:
        ins = fw().instruments[MATH]
        head = "external_id;" + ";".join(it.code for it in ins.items)
        row = "t-1;" + ";".join("1" for _ in ins.items)

        def layout(text: str, encoding: str = "utf-8") -> Any:
            p = tmp_path / "u.csv"
            p.write_bytes(text.encode(encoding))
            return copyable_csv(SpooledBody(p, p.stat().st_size, "", encoding == "utf-8"), None, ins)

        plain = layout(f"{head}\n{row}\n")
        assert plain is not None and (plain.delimiter, plain.encoding, plain.width) == (";", "UTF8", 31)
        assert layout(f"{head}\r\n{row}\r\n", "cp1251").encoding == "WIN1251"
        quoted = row.replace("t-1", '"t-1"')
        for text in (
            f"{head}\n",
            f"{head}\n{quoted}\n",
            f"{head}\n{row}\n\\.\n",
            f"{head};level\n{row};high\n",
            "external_id;total\nt-1;5\n",
            "",
        ):
            assert layout(text) is None, text


class TestExplanations:
    def test_deficit_names_items_points_and_threshold(self) -> None:
        f = fw()
        ins = f.instruments[MATH]
        items = scores_with({"M3"})
        s = score_result(f, ins, item_points=items)
        explained = {c["competency"]: c for c in explain_competencies(f, ins, s.competency_points, items)}
        m3 = explained["M3"]
        assert m3["band"] == "deficit" and m3["threshold"] == 50
        assert m3["points"] == 0 and m3["max_points"] == 8 and m3["percent"] == 0
        assert [(i["item"], i["points"], i["max_points"]) for i in m3["items"]] == [
            ("25", 0, 2),
            ("26", 0, 3),
            ("27", 0, 3),
        ]
        assert "ниже порога 50 %" in m3["explanation"]
        assert "25 (0 из 2)" in m3["explanation"]
        assert explained["M1"]["band"] == "strength" and "Точка опоры" in explained["M1"]["explanation"]

    def test_growth_point_shows_both_thresholds(self) -> None:
        f = fw()
        ins = f.instruments[MATH]
        items = scores_with()
        idx = [i for i, it in enumerate(ins.items) if it.competency == "M1"]
        items[idx[2]] = 1  # 5 of 7 = 71.43 %
        s = score_result(f, ins, item_points=items)
        m1 = next(c for c in explain_competencies(f, ins, s.competency_points, items) if c["competency"] == "M1")
        assert m1["band"] == "growth" and "от 50 % до 80 %" in m1["explanation"]
        assert "71,43 %" in m1["explanation"]


class TestShares:
    def test_percents_add_up_to_100(self) -> None:
        assert percent_shares([1, 1, 1]) == [33.4, 33.3, 33.3]
        assert sum(percent_shares([7, 5, 3, 1])) == pytest.approx(100.0)
        assert percent_shares([2, 0, 0, 0]) == [100.0, 0.0, 0.0, 0.0]

    def test_no_counts_gives_zeros(self) -> None:
        assert percent_shares([0, 0]) == [0.0, 0.0]

    def test_trend_markers(self) -> None:
        assert trend(None, 5) is None
        assert trend(10, 12) == "up" and trend(12, 10) == "down" and trend(10, 10.02) == "same"


class TestParsing:
    def test_delimiter_is_sniffed_from_the_header(self) -> None:
        assert sniff_delimiter("external_id;1;2;3\n") == ";"
        assert sniff_delimiter("external_id,1,2,3\n") == ","
        assert sniff_delimiter('"a;b",c,d\n') == ","

    @pytest.mark.parametrize(
        ("cell", "value"),
        [
            ("1,5", 1.5),
            (" 2 ", 2.0),
            ("2.25", 2.25),
            ("1 000", 1000.0),
            ("nan", None),
            ("inf", None),
            ("1_0", None),
            ("два", None),
            ("", None),
        ],
    )
    def test_score_cells(self, cell: str, value: float | None) -> None:
        assert _slow_number(cell) == value

    def test_encoding_detection(self, tmp_path: Path) -> None:
        p = tmp_path / "a.csv"
        p.write_bytes("\ufeffexternal_id;ФИО\n".encode())
        assert csv_encoding(SpooledBody(p, 1, "", True), None) == "utf-8-sig"
        p.write_bytes("external_id;ФИО\n".encode("cp1251"))
        assert csv_encoding(SpooledBody(p, 1, "", False), None) == "cp1251"
        assert csv_encoding(SpooledBody(p, 1, "", True), None) == "utf-8"

    def test_header_problems_are_all_reported(self) -> None:
        ins = fw().instruments[MATH]
        header = ["Идентификатор", "ФИО", *[it.code for it in ins.items][:-1], "Секретная колонка", "ФИО"]
        with pytest.raises(UploadRejected) as e:
            map_header(header, ins)
        codes = {(x.code, x.column) for x in e.value.errors or []}
        assert ("unknown-column", "Секретная колонка") in codes
        assert ("duplicate-column", "ФИО") in codes
        assert ("missing-column", "30") in codes

    def test_russian_aliases_map_to_fields(self) -> None:
        ins = fw().instruments[MATH]
        cols = map_header(["Идентификатор", "ФИО", "Код МО", "Код ОО", "Итого", "Уровень"], ins)
        assert set(cols.fields) == {"external_id", "full_name", "municipality", "organisation", "total", "level"}

    def test_zip_bomb_is_refused_before_parsing(self, tmp_path: Path) -> None:
        p = tmp_path / "bomb.xlsx"
        with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("xl/worksheets/sheet1.xml", b"\0" * (20 * 1024 * 1024))
        with pytest.raises(UploadRejected) as e:
            check_xlsx_archive(p, ArchiveLimits(max_uncompressed=1024**3, max_ratio=200))
        assert e.value.status == 413
        with pytest.raises(UploadRejected):
            check_xlsx_archive(p, ArchiveLimits(max_uncompressed=10 * 1024 * 1024, max_ratio=10**6))

    def test_not_a_zip_is_unreadable(self, tmp_path: Path) -> None:
        p = tmp_path / "x.xlsx"
        p.write_bytes(b"PK not really")
        with pytest.raises(UploadRejected) as e:
            check_xlsx_archive(p, ArchiveLimits(max_uncompressed=1024, max_ratio=10))
        assert e.value.code == "unreadable-file"


def test_framework_document_is_not_mutated_by_scoring() -> None:
    doc = framework_doc()
    before = copy.deepcopy(doc)
    framework_from_document(doc, 3)
    assert doc == before
