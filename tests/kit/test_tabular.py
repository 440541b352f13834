"""kit.tabular's whole-table readers (CSV/XLSX through kit.uploads), the records view and formula escaping."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from benchmarks.uploads import crafted
from kit.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from kit.tabular import TABLE_MAX_CELLS, read_csv, read_table, read_xlsx, records, safe_cell

pytestmark = pytest.mark.no_db


def col(n: int) -> str:
    out = ""
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(65 + rest) + out
    return out


class TestTabular:
    def test_csv_semicolon_cp1251(self) -> None:
        t = read_csv("Код;Цели\nmo-1;10,5\n\nmo-2;3\n".encode("cp1251"), max_rows=10)
        assert t.headers == ["Код", "Цели"] and t.rows == [(1, ["mo-1", "10,5"]), (3, ["mo-2", "3"])]

    def test_too_many_rows(self) -> None:
        with pytest.raises(ValidationFailed):
            read_csv(b"a\n1\n2\n3\n", max_rows=2)

    def test_xlsx_is_checked_before_parsing(self) -> None:
        wb = openpyxl.Workbook()
        wb.active.append(["a", "b"])
        wb.active.append([1, "x" * 5000])
        buf = io.BytesIO()
        wb.save(buf)
        with pytest.raises(PayloadTooLarge):
            read_xlsx(buf.getvalue(), max_rows=10, max_uncompressed=4000)
        assert read_xlsx(buf.getvalue(), max_rows=10, max_uncompressed=10**7).rows[0][1][0] == 1

    def test_a_table_kept_whole_is_capped_by_its_cells(self, tmp_path: Path) -> None:
        """Sparse rows under a 1,024-column header cost the header's width each: the cap stops them."""
        header = "".join(
            f'<c r="A1" t="inlineStr"><is><t>h{i}</t></is></c>'.replace("A1", f"{col(i)}1") for i in range(1, 1025)
        )
        rows = "".join(f'<row r="{n}"><c r="AMJ{n}"><v>1</v></c></row>' for n in range(2, TABLE_MAX_CELLS // 1024 + 3))
        path = tmp_path / "wide.xlsx"
        crafted(path, f'<row r="1">{header}</row>{rows}', "A1")
        with pytest.raises(PayloadTooLarge) as e:
            read_xlsx(path.read_bytes(), max_rows=20_000, max_uncompressed=10**8)
        assert e.value.code == "too-many-cells"
        assert len(read_xlsx(path.read_bytes(), max_rows=20_000, max_uncompressed=10**8, max_cells=10**7).rows) > 1950

    def test_a_deadline_is_passed_to_the_reader(self) -> None:
        with pytest.raises(PayloadTooLarge) as e:
            read_table(b"a\n1\n", "text/csv", max_rows=5, max_uncompressed=1, max_seconds=0)
        assert e.value.code == "too-slow-to-read"

    def test_not_a_workbook_and_unknown_type(self) -> None:
        with pytest.raises(ValidationFailed):
            read_xlsx(b"not a zip", max_rows=1, max_uncompressed=10)
        with pytest.raises(UnsupportedMediaType):
            read_table(b"x", "application/pdf", max_rows=1, max_uncompressed=1)

    def test_records_need_required_columns(self) -> None:
        t = read_csv(b"a;c\n1;2\n", max_rows=5)
        with pytest.raises(ValidationFailed) as e:
            records(t, lambda h: h, required=["a", "b"])
        assert [x.code for x in e.value.errors or []] == ["missing-column"]

    def test_safe_cell(self) -> None:
        assert [safe_cell(v) for v in ("=1+1", "+7", "-x", "@a", "ok", 5)] == ["'=1+1", "'+7", "'-x", "'@a", "ok", 5]
