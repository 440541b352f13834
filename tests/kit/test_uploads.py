"""The one upload reader (kit.uploads) and kit.tabular over it: encodings, delimiters, limits, XLSX safety."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from benchmarks.uploads import SAFETY_CASES, crafted, run
from kit.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from kit.tabular import read_csv, read_table, read_xlsx, records
from kit.uploads import (
    Answer,
    Refusal,
    UploadLimits,
    UploadRefused,
    UploadTooLarge,
    check_archive,
    csv_encoding,
    read_rows,
    sniff_delimiter,
)

pytestmark = pytest.mark.no_db

LIMITS = UploadLimits(max_rows=100, max_cells=10_000)


def rows_of(source: bytes | Path, fmt: str = "csv", limits: UploadLimits = LIMITS) -> tuple[list[str], list[Any]]:
    with read_rows(source, fmt, limits) as table:
        return table.headers, list(table.rows)


def workbook(*rows: list[Any]) -> bytes:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


class TestCsv:
    @pytest.mark.parametrize(
        "body",
        [
            "Код;Цели\nmo-1;10,5\n".encode(),
            "\ufeffКод;Цели\nmo-1;10,5\n".encode(),
            "Код;Цели\nmo-1;10,5\n".encode("cp1251"),
            "Код;Цели\r\nmo-1;10,5\r\n".encode("cp1251"),
        ],
        ids=["utf-8", "utf-8-bom", "cp1251", "cp1251-crlf"],
    )
    def test_encodings(self, body: bytes) -> None:
        assert rows_of(body) == (["Код", "Цели"], [(1, ["mo-1", "10,5"])])

    @pytest.mark.parametrize("delimiter", [";", ",", "\t"])
    def test_delimiters(self, delimiter: str) -> None:
        body = delimiter.join(["a", "b", "c"]) + "\n" + delimiter.join(["1", "2", "3"]) + "\n"
        assert rows_of(body.encode()) == (["a", "b", "c"], [(1, ["1", "2", "3"])])

    def test_delimiter_is_sniffed_outside_quotes(self) -> None:
        assert sniff_delimiter('"a;b",c,d') == "," and sniff_delimiter("a;b,c;d") == ";"
        assert sniff_delimiter("a;b,c") == ";" and sniff_delimiter("single") == ","

    def test_encoding_of_a_file(self, tmp_path: Path) -> None:
        p = tmp_path / "a.csv"
        p.write_bytes("a;б\n".encode("cp1251"))
        assert csv_encoding(p) == "cp1251" and csv_encoding(p, utf8=True) == "utf-8"
        assert csv_encoding("a;б\n".encode(), declared="windows-1251") == "cp1251"

    def test_a_spooled_file_reads_like_bytes(self, tmp_path: Path) -> None:
        body = "a;b\n1;2\n\n3;4\n".encode("cp1251")
        p = tmp_path / "upload"
        p.write_bytes(body)
        assert rows_of(p) == rows_of(body) == (["a", "b"], [(1, ["1", "2"]), (3, ["3", "4"])])

    def test_blank_rows_are_skipped_but_numbered_and_counted(self) -> None:
        body = b"a;b\n1;2\n;\n\n  ; \n3;4\n"
        assert rows_of(body) == (["a", "b"], [(1, ["1", "2"]), (5, ["3", "4"])])
        with pytest.raises(ValidationFailed) as e:
            rows_of(body, limits=UploadLimits(max_rows=4))
        assert e.value.code == "too-many-rows"
        assert rows_of(body, limits=UploadLimits(max_rows=5))[1][-1][0] == 5

    def test_empty_and_undecodable(self) -> None:
        for body in (b"", b"\n\na;b\n"):
            with pytest.raises(ValidationFailed) as e:
                rows_of(body)
            assert e.value.code == "empty"
        with pytest.raises(ValidationFailed) as e:
            rows_of(b"a;b\n1;\x98\n")  # 0x98 is neither UTF-8 here nor Windows-1251
        assert e.value.code == "bad-encoding"

    def test_columns_and_cells_are_limited(self) -> None:
        with pytest.raises(ValidationFailed) as e:
            rows_of(b"a;b;c\n1;2;3\n", limits=UploadLimits(max_columns=2))
        assert e.value.code == "too-many-columns"
        with pytest.raises(PayloadTooLarge) as big:
            rows_of(b"a;b\n" + b"1;2\n" * 10, limits=UploadLimits(max_cells=15))
        assert big.value.code == "too-many-cells"
        with pytest.raises(PayloadTooLarge) as body:
            rows_of(b"a;b\n1;2\n", limits=UploadLimits(max_bytes=4))
        assert body.value.code == "payload-too-large"

    def test_a_caller_answers_with_its_own_codes(self) -> None:
        mine = {Refusal.empty: Answer(422, "empty-file", "Файл пуст")}
        with pytest.raises(UploadRefused) as e:
            read_rows(b"\n", "csv", LIMITS, answers=mine)
        assert (e.value.status, e.value.code, e.value.detail, e.value.refusal) == (
            422,
            "empty-file",
            "Файл пуст",
            Refusal.empty,
        )
        assert isinstance(e.value, ValidationFailed) and e.value.errors is None


class TestXlsx:
    def test_header_then_numbered_rows(self) -> None:
        body = workbook([None], ["a", "b", None], [1, "x"], [None, None], [2.5, None])
        assert rows_of(body, "xlsx") == (["a", "b"], [(1, [1, "x"]), (3, [2.5, None])])

    def test_blank_rows_count_against_the_row_cap(self) -> None:
        body = workbook(["a"], [1], [None], [None], [2])
        with pytest.raises(ValidationFailed) as e:
            rows_of(body, "xlsx", UploadLimits(max_rows=3))
        assert e.value.code == "too-many-rows"
        assert rows_of(body, "xlsx", UploadLimits(max_rows=4))[1] == [(1, [1]), (4, [2])]

    def test_rows_are_cut_to_the_header(self) -> None:
        body = workbook(["a", "b"], [1, 2, 3, 4, 5])
        assert rows_of(body, "xlsx") == (["a", "b"], [(1, [1, 2])])

    def test_a_declared_dimension_is_not_trusted(self, tmp_path: Path) -> None:
        path = tmp_path / "declared.xlsx"
        crafted(path, *SAFETY_CASES["declared A1:XFD1048576, 2 rows"])
        assert rows_of(path, "xlsx") == (["a", "b"], [(1, [1, None])])

    def test_a_far_cell_meets_the_row_cap(self, tmp_path: Path) -> None:
        path = tmp_path / "far.xlsx"
        crafted(path, *SAFETY_CASES["one far cell XFD1048576"])
        with pytest.raises(ValidationFailed) as e:
            rows_of(path, "xlsx", UploadLimits(max_rows=1000))
        assert e.value.code == "too-many-rows"

    def test_a_far_cell_meets_the_cell_budget(self, tmp_path: Path) -> None:
        path = tmp_path / "sparse.xlsx"
        crafted(path, *SAFETY_CASES["sparse: XFD2 and row 900000"])
        with pytest.raises(PayloadTooLarge) as e:
            rows_of(path, "xlsx", UploadLimits(max_rows=1_000_000, max_cells=100_000))
        assert e.value.code == "too-many-cells"
        assert rows_of(path, "xlsx", UploadLimits())[1] == [(1, [1, None]), (899_999, [3, None])]

    def test_blank_rows_above_the_header_count_their_whole_width(self, tmp_path: Path) -> None:
        path = tmp_path / "leading.xlsx"
        blank_far = "".join(
            f'<row r="{n}"><c r="XFD{n}" t="inlineStr"><is><t> </t></is></c></row>' for n in range(1, 200)
        )
        crafted(path, blank_far + '<row r="200"><c r="A200"><v>1</v></c></row>', "A1")
        with pytest.raises(PayloadTooLarge) as e:
            rows_of(path, "xlsx", UploadLimits(max_cells=1_000_000))
        assert e.value.code == "too-many-cells"

    def test_a_far_header_cell_is_too_many_columns(self, tmp_path: Path) -> None:
        path = tmp_path / "wide.xlsx"
        crafted(path, '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="XFD1"><v>1</v></c></row>', "A1")
        with pytest.raises(ValidationFailed) as e:
            rows_of(path, "xlsx")
        assert e.value.code == "too-many-columns"

    def test_an_empty_sheet(self) -> None:
        with pytest.raises(ValidationFailed) as e:
            rows_of(workbook([None, None]), "xlsx")
        assert e.value.code == "empty"


class TestDeadline:
    def test_rows_past_the_deadline_are_refused_and_the_reading_stops(self) -> None:
        body = b"a;b\n" + b"1;2\n" * 1000
        table = read_rows(body, "csv", UploadLimits(max_seconds=0.05))
        time.sleep(0.1)  # past the deadline: the next row read is refused, inside the row loop
        with pytest.raises(UploadTooLarge) as e:
            next(table.rows)
        assert (e.value.status, e.value.code, e.value.refusal) == (413, "too-slow-to-read", Refusal.too_slow)
        assert e.value.detail == "Таблицу не удалось прочитать за отведённое время (0.05 с): разделите её на части"
        assert list(table.rows) == []  # the generator ended: nothing goes on reading
        table.close()

    def test_a_workbook_is_refused_once_its_deadline_has_passed(self) -> None:
        with pytest.raises(PayloadTooLarge) as e:
            rows_of(workbook(["a"], [1]), "xlsx", UploadLimits(max_seconds=0))
        assert e.value.code == "too-slow-to-read"

    def test_a_reader_in_a_worker_thread_stops_at_its_deadline(self, tmp_path: Path) -> None:
        path = tmp_path / "far.xlsx"
        crafted(path, *SAFETY_CASES["one far cell XFD1048576"])
        outcome: list[BaseException] = []

        def read() -> None:
            try:
                rows_of(path, "xlsx", UploadLimits(max_seconds=0))
            except UploadRefused as e:
                outcome.append(e)

        worker = threading.Thread(target=read)
        worker.start()
        worker.join()  # it returns because the reader stopped itself
        assert [getattr(e, "code", None) for e in outcome] == ["too-slow-to-read"]

    def test_no_deadline_by_default(self) -> None:
        assert UploadLimits().max_seconds is None and rows_of(b"a\n1\n") == (["a"], [(1, ["1"])])


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
)


class TestXmlBombs:
    def test_openpyxl_parses_with_defusedxml(self) -> None:
        assert openpyxl.DEFUSEDXML

    def test_entities_in_a_sheet_are_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "laughs.xlsx"
        crafted(path, '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>', "A1")
        with zipfile.ZipFile(path) as z:
            parts = {n: z.read(n) for n in z.namelist()}
        parts["xl/worksheets/sheet1.xml"] = BILLION_LAUGHS.encode() + parts["xl/worksheets/sheet1.xml"]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in parts.items():
                z.writestr(name, data)
        with pytest.raises(ValidationFailed) as e:
            rows_of(path, "xlsx")
        assert e.value.code == "bad-xlsx"
        assert any(type(c).__module__.startswith("defusedxml") for c in causes(e.value))  # EntitiesForbidden


def causes(error: BaseException) -> list[BaseException]:
    """The exceptions an error was raised from, nearest first."""
    out: list[BaseException] = []
    while (nxt := error.__cause__ or error.__context__) is not None and nxt not in out:
        out.append(nxt)
        error = nxt
    return out


class TestArchive:
    def bomb(self, size: int = 20 * 1024 * 1024) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("[Content_Types].xml", b"<Types/>")
            z.writestr("xl/worksheets/sheet1.xml", b"\0" * size)
        return buf.getvalue()

    def test_a_zip_bomb_is_refused_before_parsing(self) -> None:
        with pytest.raises(PayloadTooLarge) as e:
            check_archive(self.bomb(), UploadLimits(max_uncompressed=1 << 30, max_ratio=200))
        assert e.value.code == "xlsx-too-large"
        with pytest.raises(PayloadTooLarge):
            check_archive(self.bomb(), UploadLimits(max_uncompressed=10 << 20, max_ratio=10**6))

    def test_parts_and_shared_strings_are_limited(self) -> None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for i in range(5):
                z.writestr(f"xl/part{i}.xml", b"<a/>")
            z.writestr("xl/sharedStrings.xml", bytes(range(256)) * 4)
        with pytest.raises(PayloadTooLarge):
            check_archive(buf.getvalue(), UploadLimits(max_entries=3))
        with pytest.raises(PayloadTooLarge):
            check_archive(buf.getvalue(), UploadLimits(max_shared_strings=100))
        check_archive(buf.getvalue(), UploadLimits())

    def test_not_a_workbook(self) -> None:
        for body in (b"not a zip", self.bomb(10)):
            with pytest.raises(ValidationFailed) as e:
                rows_of(body, "xlsx")
            assert e.value.code == "bad-xlsx"

    def test_calamine_is_not_used_because_a_far_cell_aborts_it(self, tmp_path: Path) -> None:
        """Why kit.uploads reads XLSX with openpyxl: this 1.6 KB workbook kills a process reading it with calamine.

        Should a calamine release read it (or raise), measure again with benchmarks/uploads.py.
        """
        path = tmp_path / "far.xlsx"
        crafted(path, *SAFETY_CASES["one far cell XFD1048576"])
        assert path.stat().st_size < 2000
        assert run("calamine", path, address_space_mb=2048)[2].startswith("process died")
        assert "refused" in run("kit.uploads", path, address_space_mb=2048)[2]


class TestTabular:
    def test_csv_semicolon_cp1251(self) -> None:
        t = read_csv("Код;Цели\nmo-1;10,5\n\nmo-2;3\n".encode("cp1251"), max_rows=10)
        assert t.headers == ["Код", "Цели"] and t.rows == [(1, ["mo-1", "10,5"]), (3, ["mo-2", "3"])]

    def test_cells_are_stripped(self) -> None:
        assert read_csv(b" a ; b \n 1 ;x \n", max_rows=5).rows == [(1, ["1", "x"])]
        assert read_xlsx(workbook([" a "], [" x "]), max_rows=5, max_uncompressed=10**7).rows == [(1, ["x"])]

    def test_xlsx_is_checked_before_parsing(self) -> None:
        body = workbook(["a", "b"], [1, "x" * 5000])
        with pytest.raises(PayloadTooLarge):
            read_xlsx(body, max_rows=10, max_uncompressed=4000)
        assert read_xlsx(body, max_rows=10, max_uncompressed=10**7).rows[0][1][0] == 1

    def test_unknown_type_and_records(self) -> None:
        with pytest.raises(UnsupportedMediaType):
            read_table(b"x", "application/pdf", max_rows=1, max_uncompressed=1)
        t = read_table(b"a;c\n1;2\n", "text/csv; charset=utf-8", max_rows=5, max_uncompressed=1)
        with pytest.raises(ValidationFailed) as e:
            records(t, lambda h: h, required=["a", "b"])
        assert [x.code for x in e.value.errors or []] == ["missing-column"]
