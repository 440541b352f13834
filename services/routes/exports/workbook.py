"""The export's workbook: its layout over `kit.xlsx`, a municipality's sheet, the month's workbook."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from kit.xlsx import SheetLayout, SheetPart, XlsxSheet, write_workbook
from kit.xlsx import sheet_title as xlsx_sheet_title
from services.routes.exports.month import Month
from services.routes.exports.rows import COLUMN_WIDTHS, HEADERS, ExportRow

LAYOUT = SheetLayout(HEADERS, COLUMN_WIDTHS, header_fill="00DCE6F1", highlight_fill="00FCE4D6")
CREATOR = "Платформа ИОМ"
# A sheet title when a municipality's name leaves nothing usable.
UNNAMED_SHEET = "Муниципалитет"


class MonthSheet:
    """One municipality's sheet: group 1 (insufficient level) highlighted; deflated as rows come."""

    def __init__(self, path: Path) -> None:
        self.sheet = XlsxSheet(path, LAYOUT)

    @property
    def rows(self) -> int:
        return self.sheet.rows

    def write(self, rows: Sequence[ExportRow]) -> None:
        self.sheet.write((row.cells(), row.highlighted) for row in rows)

    def finish(self) -> SheetPart:
        return self.sheet.finish()

    def discard(self) -> None:
        self.sheet.discard()


def sheet_title(name: str, used: set[str]) -> str:
    """A municipality's sheet title (its name), unique within its workbook (`used`)."""
    return xlsx_sheet_title(name, used, fallback=UNNAMED_SHEET)


def write_month_workbook(sink: BinaryIO, month: Month, sheets: Sequence[tuple[str, SheetPart]]) -> None:
    """A workbook of the month of the given sheets (title, part), in that order; its stamps are the month's."""
    write_workbook(
        sink,
        LAYOUT,
        sheets,
        title=f"Индивидуальные образовательные маршруты педагогов, {month.first:%m.%Y}",
        stamp=month.stamp,
        creator=CREATOR,
    )
