"""Colour bands of a monitoring percent: the one table of their edges, Russian labels and colours.

Every threshold of the monitoring reads this table: a municipality is not engaged below the low
band (engagement.py), a step is weak there too, a self-audit is due below the medium band and the
leaders are the high band (monitoring.py); the report's chart marks the same edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.audit.vocab import Band


@dataclass(frozen=True)
class BandRow:
    band: Band
    from_percent: int  # the band starts here (inclusive) and ends where the next band starts
    colour: str  # RGB fill analysts use (red, amber, light green, green)
    note: str = ""  # what the band means, added to its label

    @property
    def label(self) -> str:
        """The band in Russian, as analysts write it in the report, made from the edges: "30–59%"."""
        low, high = band_range(self.band)
        text = (
            f"ниже {high + 1}%"
            if low == 0 and high is not None
            else f"{low}% и выше"
            if high is None
            else f"{low}–{high}%"
        )
        return f"{text} ({self.note})" if self.note else text


BANDS: tuple[BandRow, ...] = (
    BandRow(Band.critical, 0, "F8696B", note="не вовлечён"),
    BandRow(Band.low, 30, "FFD966"),
    BandRow(Band.medium, 60, "C6E0B4"),
    BandRow(Band.high, 80, "63BE7B"),
)
if [b.band for b in BANDS] != list(Band) or [b.from_percent for b in BANDS] != sorted({b.from_percent for b in BANDS}):
    raise RuntimeError("BANDS must list every band once, lowest first, with rising edges")
_BY_BAND = {b.band: b for b in BANDS}
HUNDRED = Decimal(100)


def band_of(percent: Decimal) -> Band:
    """The band an exact percent falls in (the highest band whose edge it reaches)."""
    for row in reversed(BANDS):
        if percent >= row.from_percent:
            return row.band
    return BANDS[0].band


def percent_of(points: Decimal, maximum: int) -> Decimal:
    """Exact percent of the maximum (Decimal, so 6.3 of 21 is 30, not 29.999...)."""
    return points * HUNDRED / Decimal(maximum)


def band_row(band: Band) -> BandRow:
    return _BY_BAND[band]


def lower_edge(band: Band) -> Decimal:
    """The percent where `band` starts: a value below it is in a lower band."""
    return Decimal(_BY_BAND[band].from_percent)


def band_range(band: Band) -> tuple[int, int | None]:
    """(from, to) in whole percents as the vocabulary shows them; the highest band has no upper end."""
    i = BANDS.index(_BY_BAND[band])
    upper = BANDS[i + 1].from_percent - 1 if i + 1 < len(BANDS) else None
    return BANDS[i].from_percent, upper


def inner_edges() -> list[int]:
    """The edges between bands (30, 60, 80), which the chart marks."""
    return [b.from_percent for b in BANDS[1:]]
