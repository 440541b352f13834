"""The region workbook's summary sheet: routes by support group and by status, per municipality, and the total."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from kit.xlsx import SheetLayout, SheetPart, XlsxSheet
from services.routes.exports.rows import group_label
from services.routes.labels import LEVEL_LABELS, STATUS_RU

SUMMARY_TITLE = "Сводка по муниципалитетам"
TOTAL = "Итого по региону"
GROUPS = tuple(sorted(LEVEL_LABELS))
STATUSES = tuple(STATUS_RU)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


SUMMARY_HEADERS = (
    "Муниципалитет",
    "Код муниципалитета",
    "Маршрутов всего",
    *(_capital(group_label(g)) for g in GROUPS),
    *(_capital(STATUS_RU[s]) for s in STATUSES),
)
SUMMARY_LAYOUT = SheetLayout(
    SUMMARY_HEADERS, (30, 12, 10, *(14 for _ in GROUPS), *(14 for _ in STATUSES)), header_height=48
)


def summary_rows(
    municipalities: Sequence[tuple[str, str]], tally: Mapping[str, Counter[tuple[int, str]]]
) -> list[list[object]]:
    """A row per municipality (name, code) in the order given, then the region's total row."""
    rows: list[list[object]] = []
    total: Counter[tuple[int, str]] = Counter()
    for code, name in municipalities:
        counts = tally.get(code, Counter())
        total.update(counts)
        rows.append([name, code, *_counts(counts)])
    rows.append([TOTAL, "", *_counts(total)])
    return rows


def _counts(counts: Counter[tuple[int, str]]) -> list[int]:
    by_group = Counter({g: 0 for g in GROUPS})
    by_status = Counter({s: 0 for s in STATUSES})
    for (group, status), n in counts.items():
        by_group[group] += n
        by_status[status] += n
    return [sum(counts.values()), *(by_group[g] for g in GROUPS), *(by_status[s] for s in STATUSES)]


def write_summary(path: Path, rows: list[list[object]]) -> SheetPart:
    """The summary sheet, deflated into `path`: the total row is highlighted."""
    sheet = XlsxSheet(path, SUMMARY_LAYOUT)
    try:
        sheet.write((r, i == len(rows) - 1) for i, r in enumerate(rows))
        return sheet.finish()
    except BaseException:
        sheet.discard()
        raise
