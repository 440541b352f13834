"""The levels table (services/assessment/data/levels.json) is the one place of the level and band rules."""

from __future__ import annotations

import math

import pytest

from services.assessment.scoring import (
    DEFAULT_DEFICIT_BELOW,
    DEFAULT_STRENGTH_FROM,
    KPI_FROM_GROUP,
    LEVEL_ALIASES,
    LEVEL_GROUP,
    LEVELS_TABLE,
    Band,
    Level,
    Thresholds,
    band_for,
    framework_from_document,
    percent_of,
    whole_point_cuts,
)
from tests.assessment.intake_support import framework_doc

pytestmark = pytest.mark.no_db


def test_the_table_lists_every_level_in_order_with_groups_one_to_four() -> None:
    assert [row["level"] for row in LEVELS_TABLE["levels"]] == [lv.value for lv in Level]
    assert [LEVEL_GROUP[lv] for lv in Level] == [1, 2, 3, 4]
    assert LEVEL_ALIASES["повышенный"] is Level.elevated and LEVEL_ALIASES["4"] is Level.high


def test_default_thresholds_and_kpi_level_come_from_the_table() -> None:
    assert Thresholds() == Thresholds(float(DEFAULT_DEFICIT_BELOW), float(DEFAULT_STRENGTH_FROM))
    assert KPI_FROM_GROUP == LEVEL_GROUP[Level(LEVELS_TABLE["kpi"]["from_level"])]


def test_the_sql_cut_points_band_every_whole_point_sum_as_band_for_does() -> None:
    """`whole_point_cuts` (what the COPY path's SQL is generated from) agrees with `band_for` at every sum."""
    fw = framework_from_document(framework_doc(), 1)
    for ins in fw.instruments.values():
        cuts = whole_point_cuts(fw, ins)
        assert cuts is not None
        for k, mx in enumerate(ins.competency_max):
            t = ins.competency_thresholds[k]
            for s in range(math.floor(mx) + 1):
                tabulated = (
                    Band.deficit
                    if s < cuts.deficit_until[k]
                    else (Band.strength if s >= cuts.strength_from[k] else Band.growth)
                )
                assert tabulated is band_for(percent_of(s, mx), t), (ins.code, k, s)
        for total in range(math.floor(ins.max_total) + 1):
            group = max(g for g, start in enumerate(cuts.level_from, start=1) if total >= start)
            assert group == fw.level_for(percent_of(total, ins.max_total)).group
