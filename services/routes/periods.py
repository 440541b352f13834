"""The period of a route: one route per teacher and half-year, running its support group's months."""

from __future__ import annotations

import calendar
from datetime import date

from services.routes.support_groups import group_rules


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def period_key(on: date) -> str:
    """Routes are one per teacher and half-year of the assessment (e.g. 2026-H2)."""
    return f"{on.year}-H{1 if on.month <= 6 else 2}"


def route_period(group: int, assessed_on: date, today: date) -> tuple[date, date]:
    """Start and end of a route: from the assessment (or today, when it is past), for the group's months."""
    start = max(today, assessed_on)
    return start, add_months(start, group_rules(group).months)
