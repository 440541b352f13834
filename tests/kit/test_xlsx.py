"""kit.xlsx: the streaming XLSX writer (layout, highlighted rows, dates, stable bytes, zip limits)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest

from kit import xlsx
from kit.xlsx import SheetLayout, WorkbookTooLarge, XlsxSheet, clean_text, column_letter, sheet_title, write_workbook

pytestmark = pytest.mark.no_db

LAYOUT = SheetLayout(("Name", "Count", "When"), (30, 8, 12), header_fill="00112233", highlight_fill="00445566")
STAMP = datetime(2031, 5, 1)
ROWS: list[tuple[list[Any], bool]] = [
    (["A & <b>", 1, date(2031, 5, 2)], True),
    (["=cmd", 2, None], False),
    (["", 3, date(2031, 5, 4)], False),
]


def book(folder: Path, sheets: list[tuple[str, list[tuple[list[Any], bool]]]], layout: SheetLayout = LAYOUT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, (title, rows) in enumerate(sheets):
        sheet = XlsxSheet(folder / f"part{i}", layout)
        sheet.write(rows[:1])
        sheet.write(iter(rows[1:]))
        parts.append((title, sheet.finish()))
    path = folder / "book.xlsx"
    with open(path, "wb") as sink:
        write_workbook(sink, layout, parts, title="T & t", stamp=STAMP, creator="kit")
    return path


class TestLayout:
    def test_column_letters_run_past_z(self) -> None:
        assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]

    def test_a_width_per_header(self) -> None:
        with pytest.raises(ValueError):
            SheetLayout(("a", "b"), (1,))

    def test_sheet_titles_are_valid_and_unique(self) -> None:
        used: set[str] = set()
        titles = [sheet_title(n, used) for n in ("a:b", "A:B", "'x'", "", "y" * 40, "y" * 40)]
        assert titles[:4] == ["a_b", "A_B~2", "x", "Sheet"]
        assert titles[4] == "y" * 31 and titles[5] == "y" * 29 + "~2"
        assert sheet_title("", set(), fallback="Лист") == "Лист"

    def test_cell_text_is_formula_escaped_and_xml_safe(self) -> None:
        assert clean_text("=1") == "'=1" and clean_text("a\x01b") == "ab" and clean_text(3) == 3


class TestWorkbook:
    def test_the_zip_is_valid_with_one_stamp_and_well_formed_parts(self, tmp_path: Path) -> None:
        with zipfile.ZipFile(book(tmp_path, [("one", ROWS), ("empty", [])])) as z:
            assert z.testzip() is None
            for name in z.namelist():
                ElementTree.fromstring(z.read(name))
            assert {i.date_time for i in z.infolist()} == {(2031, 5, 1, 0, 0, 0)}

    def test_openpyxl_reads_back_values_styles_and_layout(self, tmp_path: Path) -> None:
        wb = openpyxl.load_workbook(book(tmp_path, [("one", ROWS), ("empty", [])]))
        ws = wb["one"]
        got = [[c.value for c in r] for r in ws.iter_rows()]
        assert got == [
            ["Name", "Count", "When"],
            ["A & <b>", 1, datetime(2031, 5, 2)],
            ["'=cmd", 2, None],
            [None, 3, datetime(2031, 5, 4)],
        ]
        assert all(c.font.b and c.fill.fgColor.rgb == "00112233" for c in ws[1])
        assert [c.fill.fgColor.rgb == "00445566" for c in ws[2]] == [True] * 3
        assert not any(c.fill.fgColor.rgb == "00445566" for c in ws[3])
        assert ws.cell(row=2, column=3).number_format == "DD.MM.YYYY"
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C4"
        assert [ws.column_dimensions[c].width for c in "ABC"] == [30, 8, 12]
        assert wb["empty"].auto_filter.ref == "A1:C1"
        assert wb.properties.created == STAMP and wb.properties.creator == "kit" and wb.properties.title == "T & t"

    def test_the_same_rows_give_the_same_bytes(self, tmp_path: Path) -> None:
        a, b = book(tmp_path / "a", [("one", ROWS)]), book(tmp_path / "b", [("one", ROWS)])
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()

    def test_an_entry_past_the_zip_limit_is_refused(self) -> None:
        class SmallZip(xlsx.StableZip):
            LIMIT = 1000

        z = SmallZip(io.BytesIO(), STAMP)
        z.add("small.xml", "x" * 1000)
        with pytest.raises(WorkbookTooLarge):
            z.add("large.xml", "x" * 1001)
