"""What a spreadsheet shows is what was written: no formulas run, no `_xHHHH_` decoded."""

from __future__ import annotations

import io

import openpyxl
import pytest
from openpyxl.utils.escape import unescape as ooxml_unescape

from kit.tabular import xlsx_cell

pytestmark = pytest.mark.no_db


def test_formula_text_gets_an_apostrophe_and_other_values_pass() -> None:
    assert xlsx_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert xlsx_cell("-1") == "'-1" and xlsx_cell(-1) == -1 and xlsx_cell(None) is None
    assert xlsx_cell("Иванова Анна") == "Иванова Анна"


def test_text_like_an_ooxml_escape_is_shown_as_written() -> None:
    names = ["МО_x0041_", "a_x00e9_b__x1234_", "_x12_", "x_x0041"]
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("A")
    for name in names:
        ws.append([xlsx_cell(name)])
    buf = io.BytesIO()
    wb.save(buf)
    read = [row[0].value for row in openpyxl.load_workbook(io.BytesIO(buf.getvalue()))["A"].iter_rows()]
    assert read[0] == "МО_x005F_x0041_"
    assert [ooxml_unescape(v) for v in read] == names  # what Excel displays
