"""The month an export is made for: `YYYY-MM` or `previous`, its first and last day, its one timestamp."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# Months a file can be made for: XLSX is a zip, whose timestamps run from 1980 to 2107.
MONTH_PATTERN = r"^(19[89][0-9]|20[0-9]{2}|210[0-7])-(0[1-9]|1[0-2])$"


@dataclass(frozen=True)
class Month:
    key: str  # YYYY-MM
    first: date
    last: date

    @classmethod
    def parse(cls, value: str, today: date | None = None) -> Month:
        """`YYYY-MM`, or `previous`: the calendar month before today (UTC)."""
        if value == "previous":
            today = today or datetime.now(UTC).date()
            last = today.replace(day=1) - timedelta(days=1)
            value = f"{last.year:04d}-{last.month:02d}"
        if not re.match(MONTH_PATTERN, value):
            raise ValueError("the month is YYYY-MM (e.g. 2026-11, years 1980..2107) or 'previous'")
        first = date(int(value[:4]), int(value[5:7]), 1)
        nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return cls(value, first, nxt - timedelta(days=1))

    @property
    def stamp(self) -> datetime:
        """The one timestamp every file of this month carries (midnight of its first day)."""
        return datetime(self.first.year, self.first.month, 1)
