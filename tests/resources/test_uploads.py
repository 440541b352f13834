"""Reading catalogue uploads (services.resources.uploads over kit.tabular): pure, no database."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from kit.errors import UnsupportedMediaType, ValidationFailed
from services.resources.uploads import check_ratio, import_limits, read_upload, split_list

pytestmark = pytest.mark.no_db
ALIASES = {"код": "external_id", "название": "title"}


def test_rows_are_numbered_as_the_user_sees_them_and_blank_rows_skipped() -> None:
    body = "Код;Название\r\nx-1;Первый\r\n;\r\nx-2;Второй\r\n".encode("cp1251")
    up = read_upload(body, "text/csv; charset=windows-1251", allowed=["external_id", "title"], aliases=ALIASES)
    assert up.format == "csv"
    assert up.rows == [
        (1, {"external_id": "x-1", "title": "Первый"}),
        (3, {"external_id": "x-2", "title": "Второй"}),
    ]


def test_header_problems_are_all_reported() -> None:
    with pytest.raises(ValidationFailed) as e:
        read_upload(b"a,a,zzz\n1,2,3\n", "text/csv", allowed=["a", "b"], required=["b"])
    assert sorted((x.code, x.column) for x in e.value.errors or []) == [
        ("duplicate-column", "a"),
        ("missing-column", "b"),
        ("unknown-column", "zzz"),
    ]


def test_xlsx_cells_become_plain_values() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["hours", "title", None])
    ws.append([36.0, "  Курс  ", None])
    buf = io.BytesIO()
    wb.save(buf)
    up = read_upload(
        buf.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", allowed=["hours", "title"]
    )
    assert up.rows == [(1, {"hours": 36, "title": "Курс"})]


def test_limits_and_media_types() -> None:
    with pytest.raises(ValidationFailed):
        read_upload(b"a\n1\n2\n3\n", "text/csv", allowed=["a"], limits=import_limits(max_rows=2))
    with pytest.raises(UnsupportedMediaType):
        read_upload(b"x", "application/pdf", allowed=["a"])
    with pytest.raises(ValidationFailed) as e:
        read_upload(b"a\n", "text/csv", allowed=["a"])
    assert e.value.code == "no-rows"


def test_json_rows_with_unknown_keys_are_row_errors() -> None:
    with pytest.raises(ValidationFailed) as e:
        read_upload(b'[{"a": 1}, {"a": 2, "b": 3}, 7]', "application/json", allowed=["a"])
    assert [(x.row, x.code) for x in e.value.errors or []] == [(2, "unknown-column"), (3, "not-an-object")]


def test_compression_ratio_is_checked_without_extracting() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.xml", b"x" * 1_000_000)
    with pytest.raises(ValidationFailed) as e:
        check_ratio(buf.getvalue(), 50)
    assert e.value.code == "xlsx-zip-bomb"
    check_ratio(buf.getvalue(), 10_000)
    with pytest.raises(ValidationFailed):
        check_ratio(b"not a zip", 100)


def test_lists() -> None:
    assert split_list("M1, M2|M3; M4") == ["M1", "M2", "M3", "M4"] and split_list(None) == []
    assert split_list(["a", " b "]) == ["a", "b"]
