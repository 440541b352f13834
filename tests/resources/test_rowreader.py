"""kit.rowreader: the upload reader the resource imports use (pure, no database)."""

from __future__ import annotations

import io
import zipfile

import pytest

from kit.errors import UnsupportedMediaType, ValidationFailed
from kit.rowreader import ZipLimits, check_zip, decode_text, read_upload, safe_cell, sniff_delimiter, split_list

pytestmark = pytest.mark.no_db


def test_decodes_bom_utf8_and_cp1251() -> None:
    assert decode_text("\ufeffучитель".encode()) == "учитель"
    assert decode_text("учитель".encode("cp1251")) == "учитель"


def test_sniffs_semicolon_comma_and_tab() -> None:
    assert sniff_delimiter("a;b;c") == ";" and sniff_delimiter("a,b") == "," and sniff_delimiter("a\tb") == "\t"


def test_rows_are_numbered_as_the_user_sees_them_and_blank_rows_skipped() -> None:
    body = "Код;Название\r\nx-1;Первый\r\n;\r\nx-2;Второй\r\n".encode("cp1251")
    table = read_upload(body, "text/csv; charset=windows-1251", allowed=["external_id", "title"],
                        aliases={"код": "external_id", "название": "title"})
    assert table.rows == [
        (1, {"external_id": "x-1", "title": "Первый"}),
        (3, {"external_id": "x-2", "title": "Второй"}),
    ]


def test_header_problems_are_all_reported() -> None:
    with pytest.raises(ValidationFailed) as e:
        read_upload(b"a,a,zzz\n1,2,3\n", "text/csv", allowed=["a", "b"], required=["b"])
    assert [(x.code, x.column) for x in e.value.errors or []] == [
        ("duplicate-column", "a"), ("unknown-column", "zzz"), ("missing-column", "b")]


def test_row_limit() -> None:
    with pytest.raises(ValidationFailed) as e:
        read_upload(b"a\n1\n2\n3\n", "text/csv", allowed=["a"], max_rows=2)
    assert e.value.code == "too-many-rows"


def test_unknown_media_type_is_415() -> None:
    with pytest.raises(UnsupportedMediaType):
        read_upload(b"x", "application/pdf", allowed=["a"])


def test_zip_checks_size_and_ratio_without_extracting() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.xml", b"x" * 1_000_000)
    with pytest.raises(ValidationFailed) as e:
        check_zip(buf.getvalue(), ZipLimits(max_ratio=50))
    assert e.value.code == "xlsx-zip-bomb"
    with pytest.raises(ValidationFailed) as e:
        check_zip(buf.getvalue(), ZipLimits(max_uncompressed_bytes=1000, max_ratio=10_000))
    assert e.value.code == "xlsx-too-large"
    with pytest.raises(ValidationFailed):
        check_zip(b"not a zip", ZipLimits())


def test_lists_and_formula_escaping() -> None:
    assert split_list("M1, M2|M3; M4") == ["M1", "M2", "M3", "M4"] and split_list(None) == []
    assert split_list(["a", " b "]) == ["a", "b"]
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_cell("мо-01") == "мо-01" and safe_cell(3) == 3
