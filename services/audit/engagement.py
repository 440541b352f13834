"""Engagement of municipal services in the monitoring: a total of 30% or more, i.e. out of the lowest band.

The monitoring's "not engaged" list and the KPI of engaged municipalities both read this rule.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from services.audit.bands import lower_edge, percent_of
from services.audit.vocab import TOTAL_MAX, Band

if TYPE_CHECKING:
    from services.audit.monitoring import ScoreRow

ENGAGED_FROM_BAND = Band.low
ENGAGED_FROM: Decimal = lower_edge(ENGAGED_FROM_BAND)


def is_engaged(total_percent: Decimal) -> bool:
    """Whether a municipality whose total is this percent of the maximum is engaged in the monitoring."""
    return total_percent >= ENGAGED_FROM


def count_engaged(rows: Iterable[ScoreRow], municipalities: Collection[str]) -> int:
    """How many of `municipalities` are engaged by their rows of a campaign (a municipality without a row is not)."""
    return sum(1 for r in rows if r.municipality in municipalities and is_engaged(percent_of(r.total, TOTAL_MAX)))
