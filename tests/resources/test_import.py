"""Bulk import of resources and mentors: formats, every bad row reported, all-or-nothing, idempotency."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile

import httpx
from openpyxl import Workbook

from tests.region import as_methodologist
from tests.resources.helpers import MUN_A, MUN_B, as_regional, new_id, teacher_headers

URL = "/api/v1/resources/import"
MURL = "/api/v1/mentors/import"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = [
    "external_id",
    "kind",
    "title",
    "competencies",
    "subjects",
    "levels",
    "learning_type",
    "mode",
    "municipalities",
    "hours",
    "federal_registry",
    "starts_on",
    "ends_on",
    "capacity",
]
ROWS = [
    [
        "c-1",
        "course",
        "Оценивание без стресса",
        "M3|MATH.1",
        "mathematics",
        "1,2",
        "formal",
        "online",
        "",
        "72",
        "да",
        "01.09.2026",
        "20.12.2026",
        "30",
    ],
    ["c-2", "community", "Клуб молодых педагогов", "M4", "", "", "informal", "mixed", MUN_A, "", "нет", "", "", ""],
]


def csv_bytes(rows: list[list[str]], sep: str = ";", encoding: str = "cp1251", header: list[str] = HEADER) -> bytes:
    lines = [sep.join(header)] + [sep.join(f'"{c}"' if sep in c else c for c in r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list[object]], header: list[str] = HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def hdr(key: str | None = None, base: dict[str, str] | None = None, ctype: str = CSV) -> dict[str, str]:
    h = {**(base or as_regional()), "Content-Type": ctype}
    if key is not None:
        h["Idempotency-Key"] = key
    return h


async def titles(api: httpx.AsyncClient) -> list[str]:
    return [x["title"] for x in (await api.get("/api/v1/resources", headers=as_regional())).json()["items"]]


class TestImportFormats:
    async def test_cp1251_semicolon_csv(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, content=csv_bytes(ROWS), headers=hdr(new_id()))
        assert r.status_code == 200, r.text
        assert r.json() | {"errors": []} == {
            "mode": "all",
            "format": "csv",
            "rows": 2,
            "inserted": 2,
            "updated": 0,
            "unchanged": 0,
            "rejected": 0,
            "errors": [],
        }
        got = {x["external_id"]: x for x in (await api.get("/api/v1/resources", headers=as_regional())).json()["items"]}
        assert got["c-1"]["competencies"] == ["M3", "MATH.1"] and got["c-1"]["levels"] == [1, 2]
        assert got["c-1"]["federal_registry"] is True and got["c-1"]["starts_on"] == "2026-09-01"
        assert got["c-2"]["municipalities"] == [MUN_A] and got["c-2"]["capacity"] is None

    async def test_utf8_bom_comma_csv_with_russian_headers(self, api: httpx.AsyncClient) -> None:
        header = ["Код", "Вид", "Название", "Компетенции", "Тип обучения", "Формат"]
        body = b"\xef\xbb\xbf" + csv_bytes(
            [["e-1", "event", "Вебинар «Учёный совет»", "M1; M2", "non_formal", "online"]],
            sep=",",
            encoding="utf-8",
            header=header,
        )
        r = await api.post(URL, content=body, headers=hdr(new_id()))
        assert r.status_code == 200, r.text
        assert await titles(api) == ["Вебинар «Учёный совет»"]

    async def test_xlsx(self, api: httpx.AsyncClient) -> None:
        rows: list[list[object]] = [
            [
                "x-1",
                "course",
                "Курс из таблицы",
                "M2",
                "physics",
                3,
                "formal",
                "in_person",
                MUN_B,
                36,
                "нет",
                None,
                None,
                10,
            ]
        ]
        r = await api.post(URL, content=xlsx_bytes(rows), headers=hdr(new_id(), ctype=XLSX))
        assert r.status_code == 200, r.text
        assert r.json()["format"] == "xlsx" and r.json()["inserted"] == 1

    async def test_json_rows(self, api: httpx.AsyncClient) -> None:
        rows = [
            {
                "external_id": "j-1",
                "kind": "project",
                "title": "Школа профмастерства",
                "competencies": ["M1"],
                "learning_type": "non_formal",
                "mode": "mixed",
            }
        ]
        r = await api.post(URL, content=json.dumps({"rows": rows}), headers=hdr(new_id(), ctype="application/json"))
        assert r.status_code == 200, r.text
        assert await titles(api) == ["Школа профмастерства"]

    async def test_reimport_updates_by_external_id(self, api: httpx.AsyncClient) -> None:
        await api.post(URL, content=csv_bytes(ROWS), headers=hdr(new_id()))
        changed = [[*ROWS[0][:2], "Оценивание без стресса (2-й поток)", *ROWS[0][3:]], ROWS[1]]
        r = await api.post(URL, content=csv_bytes(changed), headers=hdr(new_id()))
        assert (r.json()["inserted"], r.json()["updated"], r.json()["unchanged"]) == (0, 1, 1)
        assert sorted(await titles(api)) == ["Клуб молодых педагогов", "Оценивание без стресса (2-й поток)"]


class TestImportErrors:
    async def test_every_bad_row_reported_and_nothing_stored(self, api: httpx.AsyncClient) -> None:
        bad = [
            ROWS[0],
            ["c-3", "lecture", "Плохой вид", "M1", "", "", "formal", "online", "", "", "", "", "", ""],
            ["c-4", "course", "Плохие часы", "M1", "", "", "formal", "online", "", "СЕКРЕТ", "", "", "", ""],
            ["c-1", "course", "Повтор кода", "M1", "", "", "formal", "online", "", "", "", "", "", ""],
            ["c-5", "course", "Плохая дата", "M1", "", "", "formal", "online", "", "", "", "31.02.2026", "", ""],
        ]
        r = await api.post(URL, content=csv_bytes(bad), headers=hdr(new_id()))
        assert r.status_code == 422, r.text
        found = {(e["row"], e["column"], e["code"]) for e in r.json()["errors"]}
        assert found == {
            (2, "kind", "enum"),
            (3, "hours", "int_parsing"),
            (4, "external_id", "duplicate-in-batch"),
            (5, "starts_on", "invalid-date"),
        }
        assert "СЕКРЕТ" not in r.text
        assert await titles(api) == []

    async def test_partial_mode_stores_good_rows(self, api: httpx.AsyncClient) -> None:
        bad = [ROWS[0], ["c-3", "lecture", "Плохой вид", "M1", "", "", "formal", "online", "", "", "", "", "", ""]]
        r = await api.post(URL, params={"mode": "partial"}, content=csv_bytes(bad), headers=hdr(new_id()))
        assert r.status_code == 200, r.text
        assert (r.json()["inserted"], r.json()["rejected"]) == (1, 1)
        assert r.json()["errors"][0]["row"] == 2
        assert await titles(api) == ["Оценивание без стресса"]

    async def test_unknown_and_missing_columns(self, api: httpx.AsyncClient) -> None:
        body = csv_bytes([["c-1", "course", "x"]], header=["external_id", "kind", "colour"])
        r = await api.post(URL, content=body, headers=hdr(new_id()))
        codes = {(e["code"], e.get("column")) for e in r.json()["errors"]}
        assert ("unknown-column", "colour") in codes
        assert {"title", "learning_type", "mode"} <= {c for code, c in codes if code == "missing-column"}

    async def test_empty_file_and_header_only(self, api: httpx.AsyncClient) -> None:
        assert (await api.post(URL, content=b"", headers=hdr(new_id()))).json()["code"] == "empty-file"
        r = await api.post(URL, content=csv_bytes([]), headers=hdr(new_id()))
        assert r.status_code == 422 and r.json()["code"] == "no-rows"

    async def test_zip_bomb_is_refused_before_parsing(self, api: httpx.AsyncClient) -> None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("xl/worksheets/sheet1.xml", b"0" * 20_000_000)
        r = await api.post(URL, content=buf.getvalue(), headers=hdr(new_id(), ctype=XLSX))
        assert r.status_code == 422 and r.json()["code"] == "xlsx-zip-bomb"

    async def test_nul_character_is_a_row_error(self, api: httpx.AsyncClient) -> None:
        rows = [
            {"external_id": "n-1", "kind": "course", "title": "Курс\u0000", "learning_type": "formal", "mode": "online"}
        ]
        r = await api.post(URL, content=json.dumps(rows), headers=hdr(new_id(), ctype="application/json"))
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "invalid-character"

    async def test_unsupported_type_is_415(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, content=b"x", headers=hdr(new_id(), ctype="application/pdf"))
        assert r.status_code == 415


class TestImportGuarantees:
    async def test_idempotency_key_is_required(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, content=csv_bytes(ROWS), headers=hdr(None))
        assert r.status_code == 400 and r.json()["code"] == "idempotency-key-required"

    async def test_same_key_replays_other_body_is_422(self, api: httpx.AsyncClient) -> None:
        h = hdr(new_id())  # one caller: keys are scoped to the caller
        first = await api.post(URL, content=csv_bytes(ROWS), headers=h)
        again = await api.post(URL, content=csv_bytes(ROWS), headers=h)
        assert again.status_code == 200 and again.json() == first.json()
        assert again.headers.get("idempotent-replayed") == "true"
        other = await api.post(URL, content=csv_bytes(ROWS[:1]), headers=h)
        assert other.status_code == 422 and other.json()["code"] == "idempotency-key-reused"

    async def test_concurrent_same_key_stores_one_batch(self, api: httpx.AsyncClient) -> None:
        h = hdr(new_id())
        answers = await asyncio.gather(*(api.post(URL, content=csv_bytes(ROWS), headers=h) for _ in range(4)))
        assert {a.status_code for a in answers} <= {200, 409}
        assert any(a.status_code == 200 for a in answers)
        assert sorted(await titles(api)) == ["Клуб молодых педагогов", "Оценивание без стресса"]

    async def test_methodologist_imports_only_local_resources(self, api: httpx.AsyncClient) -> None:
        rows = [
            ROWS[1],
            ["b-1", "event", "Семинар в Б", "M1", "", "", "non_formal", "in_person", MUN_B, "", "", "", "", ""],
        ]
        r = await api.post(URL, content=csv_bytes(rows), headers=hdr(new_id(), as_methodologist(MUN_A)))
        assert r.status_code == 422
        assert [(e["row"], e["code"]) for e in r.json()["errors"]] == [(2, "out-of-scope")]
        ok = await api.post(URL, content=csv_bytes(rows[:1]), headers=hdr(new_id(), as_methodologist(MUN_A)))
        assert ok.status_code == 200
        listed = (await api.get("/api/v1/resources", headers=as_regional())).json()["items"]
        assert listed[0]["owner_scope"] == "municipality" and listed[0]["owner_municipality"] == MUN_A

    async def test_teacher_cannot_import(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, content=csv_bytes(ROWS), headers=hdr(new_id(), teacher_headers()))
        assert r.status_code == 403


class TestMentorImport:
    async def test_mentors_imported_with_membership_history(self, api: httpx.AsyncClient) -> None:
        t1, t2 = new_id(), new_id()
        header = [
            "teacher_id",
            "municipality",
            "role",
            "subjects",
            "competencies",
            "level",
            "mode",
            "capacity",
            "joined_year",
            "joined_assessment",
        ]
        rows = [
            [t1, MUN_A, "methodist", "mathematics", "M2|MATH.1", "4", "in_person", "3", "2024", "iku-2024"],
            [t2, MUN_B, "mentor", "russian;literature", "", "3", "online", "2", "", ""],
        ]
        r = await api.post(MURL, content=csv_bytes(rows, header=header), headers=hdr(new_id()))
        assert r.status_code == 200, r.text
        assert r.json()["inserted"] == 2
        m = (await api.get(f"/api/v1/mentors/by-teacher/{t1}", headers=as_regional())).json()
        assert m["subjects"] == ["mathematics"] and m["capacity"] == 3 and m["load"] == 0
        history = (await api.get(f"/api/v1/mentors/{m['id']}/history", headers=as_regional())).json()
        assert [(h["year"], h["action"], h["assessment"]) for h in history] == [(2024, "entered", "iku-2024")]
        rows[0][7] = "5"
        again = await api.post(MURL, content=csv_bytes(rows, header=header), headers=hdr(new_id()))
        assert (again.json()["inserted"], again.json()["updated"], again.json()["unchanged"]) == (0, 1, 1)

    async def test_bad_mentor_rows(self, api: httpx.AsyncClient) -> None:
        header = ["teacher_id", "municipality", "subjects", "level", "mode", "capacity"]
        rows = [
            ["not-a-uuid", MUN_A, "mathematics", "4", "online", "2"],
            [new_id(), MUN_A, "mathematics", "9", "online", "2"],
        ]
        r = await api.post(MURL, content=csv_bytes(rows, header=header), headers=hdr(new_id()))
        assert r.status_code == 422
        assert {(e["row"], e["column"]) for e in r.json()["errors"]} == {(1, "teacher_id"), (2, "level")}
