"""Monthly export of routes: on request through HTTP, the export job (CLI), recorded files and scope."""

from __future__ import annotations

import asyncio
import copy
import csv
import dataclasses
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import asyncpg
import httpx
import openpyxl
import orjson
import pytest
from openpyxl.utils.escape import unescape as ooxml_unescape

from deploy import demo
from deploy.stack import ROOT
from kit.auth import Role
from kit.tabular import XLSX_MEDIA_TYPE
from kit.xlsx import clean_text, column_letter
from services.routes.exports.month import Month
from services.routes.exports.names import NOT_IN_DIRECTORY, Directory
from services.routes.exports.queries import LOCK_KEY
from services.routes.exports.rows import COLUMN_WIDTHS, HEADERS, KEPT, ControlPoint, ExportRow, export_row
from services.routes.exports.summary import SUMMARY_HEADERS, SUMMARY_TITLE, TOTAL
from services.routes.exports.workbook import MonthSheet, write_month_workbook
from services.routes.generation import MentorChoice, generate
from services.routes.labels import LEVEL_LABELS
from services.routes.selfcheck import evaluate
from tests.harness import Stack, auth
from tests.region import (
    MUN_A,
    MUN_B,
    ORG_A1,
    ORG_A2,
    ORG_B1,
    REGION,
    as_methodologist,
    as_regional,
    as_school,
    seed_region,
)
from tests.routes.factory import MATCHES, START, insert_route, snapshot

MONTH = "2026-11"
LOW_FILL = "00FCE4D6"
HEADER_FILL = "00DCE6F1"
NAME, GROUP = HEADERS.index("ФИО педагога"), HEADERS.index("Уровень / группа поддержки")
CONTROL = HEADERS.index("Ближайшая контрольная точка")
LAST = column_letter(len(HEADERS) - 1)
MUN_A_NAME, MUN_B_NAME = "Округ А", "Округ Б"
NAMES = Directory({MUN_A: MUN_A_NAME}, {ORG_A1: "Школа А1"})
ROW = {
    "id": uuid.uuid4(),
    "teacher_id": uuid.uuid4(),
    "external_id": "e-1",
    "teacher_name": "x",
    "region": REGION,
    "municipality": MUN_A,
    "organisation": ORG_A1,
    "subject": "physics",
    "grp": 1,
    "status": "draft",
    "period_start": date(2026, 11, 2),
    "period_end": date(2027, 5, 2),
    "mentor_id": None,
    "next_control_on": None,
}
EVIL = ['=HYPERLINK("http://x")', "+79991234567", "-2+3", "@SUM(A1)", "\tTab", "\rCr"]


async def seed(db: asyncpg.Connection, api: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Municipality A: two group-1 teachers, one group 2, one group 3; B: one; two routes outside the month.
    The directory names both municipalities and their schools (the export shows names, codes beside)."""
    await seed_region(api, teachers=[])
    made = {}
    for name, group, org in (
        ("Борисов Олег Ильич", 2, ORG_A1),
        ("Яковлева Нина Павловна", 1, ORG_A2),
        ("Абрамова Ольга Юрьевна", 3, ORG_A1),
        ("Васильев Денис Петрович", 1, ORG_A1),
    ):
        made[name] = await insert_route(db, teacher_name=name, group=group, organisation=org)
    made["b"] = await insert_route(
        db, teacher_name="Кузнецов Иван Андреевич", group=2, municipality=MUN_B, organisation=ORG_B1
    )
    # Ended before November / starts after it: not in the November export.
    await insert_route(db, teacher_name="Прошлый Маршрут", group=3, start=date(2026, 5, 4))
    await insert_route(db, teacher_name="Будущий Маршрут", group=3, start=date(2026, 12, 7))
    return made


REGION_BOOK = f"region-{REGION}.xlsx"


async def seed_other_region(db: asyncpg.Connection) -> None:
    """One route of the month in another region (a deployment serving several regions)."""
    await insert_route(
        db,
        teacher_name="Соседова Алла Петровна",
        group=1,
        region="r-other",
        municipality="mo-other",
        organisation="oo-other",
    )


A_ORDER = ["Васильев Денис Петрович", "Яковлева Нина Павловна", "Борисов Олег Ильич", "Абрамова Ольга Юрьевна"]


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))


async def monthly(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> httpx.Response:
    return await api.get("/api/v1/exports/monthly", params={"month": MONTH, **params}, headers=headers)


async def export_cli(live: Stack, out: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.routes",
        "export",
        "--out",
        str(out),
        *args,
        env=live.env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


async def export_month(live: Stack, out: Path) -> dict[str, Any]:
    code, stdout, stderr = await export_cli(live, out, "--month", MONTH)
    assert code == 0, stderr
    return dict(json.loads(stdout.strip().splitlines()[-1]))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def size(path: Path) -> int:
    return path.stat().st_size


def listing(out: Path) -> dict[str, str]:
    return {p.name: sha(p) for p in sorted((out / MONTH).iterdir())}


class TestMonthlyOnRequest:
    async def test_csv_is_excel_friendly_utf8_bom_semicolons_crlf(self, api: httpx.AsyncClient, db: Any) -> None:
        await seed(db, api)
        r = await monthly(api, as_methodologist(MUN_A), format="csv")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        assert f'filename="iom-{MONTH}-{MUN_A}.csv"' in r.headers["content-disposition"]
        assert r.content.startswith(b"\xef\xbb\xbf")
        first_line = r.content[3:].split(b"\r\n", 1)[0].decode()
        assert first_line == ";".join(HEADERS)
        assert r.content.count(b"\r\n") == 5 and b"\n" not in r.content.replace(b"\r\n", b"")

    async def test_rows_are_the_month_s_routes_group_1_first_then_by_name(
        self, api: httpx.AsyncClient, db: Any
    ) -> None:
        made = await seed(db, api)
        rows = csv_rows((await monthly(api, as_methodologist(MUN_A))).content)[1:]
        assert [r[NAME] for r in rows] == A_ORDER
        assert [r[GROUP] for r in rows] == [
            "низкий уровень (группа 1)",
            "низкий уровень (группа 1)",
            "базовый уровень (группа 2)",
            "повышенный уровень (группа 3)",
        ]
        first = dict(zip(HEADERS, rows[0], strict=True))
        route = made["Васильев Денис Петрович"]
        assert first["Образовательная организация"] == "Школа А1" and first["Код ОО"] == ORG_A1
        assert first["Муниципалитет"] == MUN_A_NAME and first["Код муниципалитета"] == MUN_A
        assert first["Предмет"] == "Математика"
        assert first["Статус маршрута"] == "реализуется"
        assert first["Период"] == f"{route['period_start']:%d.%m.%Y} – {route['period_end']:%d.%m.%Y}"
        assert first["Дефициты"] == "Технологии; Оценивание"
        assert first["Число задач"] == "4"
        assert first["Наставник"] == "Петрова Анна Сергеевна" and first["Контакт наставника"] == "не указан"
        # The first control point in November of a task not done: its date, what is presented, who checks.
        point = min(
            (p for p in route["content"]["control_points"] if p["date"] >= "2026-11-01"), key=lambda p: p["date"]
        )
        assert first["Ближайшая контрольная точка"] == date.fromisoformat(point["date"]).strftime("%d.%m.%Y")
        assert first["Что предъявляется"] == point["what"] and first["Кто проверяет"] == point["checked_by"]
        assert "Петрова Анна Сергеевна" in first["Кто проверяет"]
        assert 0 <= int(first["Самопроверка по данным маршрута, баллов из 10"]) <= 10

    async def test_formula_cells_are_escaped(self, api: httpx.AsyncClient, db: Any) -> None:
        for i, evil in enumerate(EVIL):
            await insert_route(db, teacher_name=evil, organisation=f"=cmd|{i}", group=2)
        rows = csv_rows((await monthly(api, as_methodologist(MUN_A))).content)[1:]
        assert sorted(r[NAME] for r in rows) == sorted("'" + e for e in EVIL)
        org_code = HEADERS.index("Код ОО")
        assert all(r[org_code].startswith("'=cmd|") for r in rows)
        assert {r[HEADERS.index("Образовательная организация")] for r in rows} == {NOT_IN_DIRECTORY}

    async def test_xlsx_has_styled_header_and_highlighted_group_1(self, api: httpx.AsyncClient, db: Any) -> None:
        await seed(db, api)
        await insert_route(db, teacher_name="=1+1", group=4)
        r = await monthly(api, as_regional(), municipality=MUN_A, format="xlsx")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == XLSX_MEDIA_TYPE
        wb = openpyxl.load_workbook(io.BytesIO(r.content))
        assert wb.sheetnames == [MUN_A_NAME]
        ws = wb[MUN_A_NAME]
        rows = list(ws.iter_rows())
        assert [c.value for c in rows[0]] == list(HEADERS)
        assert all(c.font.b and c.fill.fgColor.rgb == HEADER_FILL for c in rows[0])
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{LAST}{len(rows)}"
        names = [row[NAME].value for row in rows[1:]]
        assert names == [*A_ORDER, "'=1+1"]
        assert all(c.data_type != "f" for row in rows for c in row)
        for row in rows[1:]:
            low = row[GROUP].value.startswith("низкий")
            assert all((c.fill.fgColor.rgb == LOW_FILL) == low for c in row)
        control = rows[1][HEADERS.index("Ближайшая контрольная точка")]
        assert control.is_date and control.number_format == "DD.MM.YYYY"

    async def test_json_is_an_array_of_rows_in_the_same_order(self, api: httpx.AsyncClient, db: Any) -> None:
        made = await seed(db, api)
        r = await monthly(api, as_methodologist(MUN_A), format="json")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        items = r.json()
        assert [i["teacher_name"] for i in items] == A_ORDER
        first = items[0]
        route = made[A_ORDER[0]]
        assert first["route_id"] == str(route["id"]) and first["group"] == 1 and first["level"] == "низкий"
        assert first["deficits"] == ["M2", "M3"] and first["deficit_names"] == ["Технологии", "Оценивание"]
        assert first["mentor_id"] == "mentor-1" and first["mentor_contact"] == "не указан"
        assert (first["municipality"], first["municipality_name"]) == (MUN_A, MUN_A_NAME)
        assert (first["organisation"], first["organisation_name"]) == (ORG_A1, "Школа А1")
        assert first["status_label"] == "реализуется" and first["group_label"] == "низкий уровень (группа 1)"
        point = min(
            (p for p in route["content"]["control_points"] if p["date"] >= "2026-11-01"), key=lambda p: p["date"]
        )
        assert (first["next_control_on"], first["next_control_what"]) == (point["date"], point["what"])

    async def test_self_check_is_the_machine_score_of_the_whole_route(self, api: httpx.AsyncClient, db: Any) -> None:
        made = await seed(db, api)
        route = made["Борисов Олег Ильич"]
        content = copy.deepcopy(route["content"])
        goals = content["sections"]["goals"]
        first = goals[0]["tasks"][0]
        first.update(chosen_resource_id=first["forms"][0]["resource_id"], done=True, evidence=[{"title": "конспект"}])
        goals[-1]["tasks"][-1]["forms"] = []  # no concrete event left
        goals[-1]["tasks"][0]["result_form"] = "Проведение мастер-классов"  # a practice form for a learning task
        assert evaluate(content)["auto_total"] != evaluate(route["content"])["auto_total"]
        await db.execute("UPDATE routes.routes SET content = $1::jsonb WHERE id = $2", json.dumps(content), route["id"])
        items = (await monthly(api, as_methodologist(MUN_A), format="json")).json()
        stored = await db.fetch("SELECT id, content::text AS content FROM routes.routes")
        whole = {str(r["id"]): json.loads(r["content"]) for r in stored}
        assert [i["self_check_auto"] for i in items] == [evaluate(whole[i["route_id"]])["auto_total"] for i in items]

    async def test_an_empty_month_gives_the_header_only(self, api: httpx.AsyncClient, db: Any) -> None:
        await seed(db, api)
        r = await api.get(
            "/api/v1/exports/monthly", params={"month": "2025-01", "format": "json"}, headers=as_methodologist(MUN_A)
        )
        assert r.status_code == 200 and r.json() == []
        r = await api.get("/api/v1/exports/monthly", params={"month": "2025-01"}, headers=as_methodologist(MUN_A))
        assert csv_rows(r.content) == [list(HEADERS)]

    async def test_methodologist_cannot_export_another_municipality(self, api: httpx.AsyncClient, db: Any) -> None:
        await seed(db, api)
        r = await monthly(api, as_methodologist(MUN_A), municipality=MUN_B)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"

    async def test_regional_specialist_names_the_municipality(self, api: httpx.AsyncClient, db: Any) -> None:
        await seed(db, api)
        assert (await monthly(api, as_regional())).status_code == 422
        rows = csv_rows((await monthly(api, as_regional(), municipality=MUN_B)).content)[1:]
        assert [r[NAME] for r in rows] == ["Кузнецов Иван Андреевич"]

    async def test_another_region_sees_nothing(self, api: httpx.AsyncClient, db: Any) -> None:
        await seed(db, api)
        other = auth(Role.regional_specialist, region="r-other")
        assert csv_rows((await monthly(api, other, municipality=MUN_A)).content) == [list(HEADERS)]

    @pytest.mark.parametrize("role", [Role.teacher, Role.school_admin])
    async def test_teachers_and_schools_are_refused(self, api: httpx.AsyncClient, role: Role) -> None:
        h = as_school(ORG_A1, MUN_A) if role == Role.school_admin else auth(role, region=REGION, teacher_id="x")
        assert (await monthly(api, h)).status_code == 403

    async def test_a_bad_month_is_422(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/exports/monthly", params={"month": "2026-13"}, headers=as_methodologist(MUN_A))
        assert r.status_code == 422


class TestExportJob:
    async def test_writes_every_municipality_in_every_format_and_the_region_workbook(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        code, stdout, stderr = await export_cli(live, tmp_path, "--month", MONTH)
        assert code == 0, stderr
        assert json.loads(stdout)["routes"] == 5 and "100%" in stderr and "маршрутов" in stderr
        assert sorted(listing(tmp_path)) == sorted(
            [f"{m}.{f}" for m in (MUN_A, MUN_B) for f in ("csv", "xlsx", "json")] + [REGION_BOOK]
        )
        a = csv_rows((tmp_path / MONTH / f"{MUN_A}.csv").read_bytes())
        assert [r[NAME] for r in a[1:]] == A_ORDER
        assert [i["teacher_name"] for i in json.loads((tmp_path / MONTH / f"{MUN_B}.json").read_bytes())] == [
            "Кузнецов Иван Андреевич"
        ]
        region = openpyxl.load_workbook(tmp_path / MONTH / REGION_BOOK)
        assert region.sheetnames == [SUMMARY_TITLE, MUN_A_NAME, MUN_B_NAME]
        assert [c.value for c in next(region[MUN_B_NAME].iter_rows(min_row=2))][NAME] == "Кузнецов Иван Андреевич"
        own = openpyxl.load_workbook(tmp_path / MONTH / f"{MUN_A}.xlsx")
        assert [[c.value for c in r] for r in own[MUN_A_NAME].iter_rows()] == [
            [c.value for c in r] for r in region[MUN_A_NAME].iter_rows()
        ]
        assert region[MUN_A_NAME]["A2"].fill.fgColor.rgb == LOW_FILL and region[MUN_A_NAME]["A1"].font.b

    async def test_the_region_workbook_opens_with_routes_by_group_and_status_per_municipality(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        made = await seed(db, api)
        await db.execute("UPDATE routes.routes SET status = 'approved' WHERE id = $1", made["Борисов Олег Ильич"]["id"])
        await export_month(live, tmp_path)
        book = openpyxl.load_workbook(tmp_path / MONTH / REGION_BOOK)
        assert book.sheetnames[0] == SUMMARY_TITLE and book.active.title == SUMMARY_TITLE
        rows = [[c.value for c in r] for r in book[SUMMARY_TITLE].iter_rows()]
        assert rows[0] == list(SUMMARY_HEADERS)
        got = {r[0]: dict(zip(SUMMARY_HEADERS, r, strict=True)) for r in rows[1:]}
        assert list(got) == [MUN_A_NAME, MUN_B_NAME, TOTAL]
        a, b, total = got[MUN_A_NAME], got[MUN_B_NAME], got[TOTAL]
        assert a["Код муниципалитета"] == MUN_A and a["Маршрутов всего"] == 4
        levels = [f"{LEVEL_LABELS[g].capitalize()} уровень (группа {g})" for g in (1, 2, 3, 4)]
        assert [a[level] for level in levels] == [2, 1, 1, 0]
        assert a["Реализуется"] == 3 and a["Утверждён ОО, тьютор назначен"] == 1 and a["Черновик"] == 0
        assert b["Маршрутов всего"] == 1 and b["Базовый уровень (группа 2)"] == 1 and b["Реализуется"] == 1
        assert total["Маршрутов всего"] == 5 and total["Низкий уровень (группа 1)"] == 2 and total["Реализуется"] == 4
        assert book[SUMMARY_TITLE].auto_filter.ref == f"A1:{column_letter(len(SUMMARY_HEADERS) - 1)}4"

    async def test_records_one_row_per_file(self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path) -> None:
        await seed(db, api)
        await export_month(live, tmp_path)
        records = await db.fetch("SELECT * FROM routes.exports ORDER BY municipality, format")
        assert len(records) == 7
        for rec in records:
            path = Path(rec["path"])
            assert path.parent == (tmp_path / MONTH).resolve() and path.name == rec["filename"]
            assert rec["sha256"] == sha(path) and rec["size_bytes"] == size(path)
            assert rec["month"] == MONTH and rec["region"] == REGION
        assert {(r["municipality"], r["format"], r["rows"]) for r in records} >= {
            ("", "xlsx", 5),
            (MUN_A, "csv", 4),
            (MUN_B, "json", 1),
        }

    async def test_a_rerun_gives_the_same_bytes_and_replaces_the_records(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await export_month(live, tmp_path)
        first = listing(tmp_path)
        before = {(r["municipality"], r["format"]): r["id"] for r in await db.fetch("SELECT * FROM routes.exports")}
        await export_month(live, tmp_path)
        assert listing(tmp_path) == first
        after = {(r["municipality"], r["format"]): r["id"] for r in await db.fetch("SELECT * FROM routes.exports")}
        assert after == before
        with zipfile.ZipFile(tmp_path / MONTH / REGION_BOOK) as z:
            assert {i.date_time for i in z.infolist()} == {(2026, 11, 1, 0, 0, 0)}
            core = z.read("docProps/core.xml").decode()
        assert core.count("2026-11-01T00:00:00Z") == 2

    async def test_worker_processes_write_the_same_bytes(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await export_month(live, tmp_path / "one")
        code, stdout, stderr = await export_cli(live, tmp_path / "two", "--month", MONTH, "--workers", "2")
        assert code == 0, stderr
        assert json.loads(stdout)["routes"] == 5 and "100%" in stderr
        assert listing(tmp_path / "one") == listing(tmp_path / "two")

    async def test_a_changed_route_changes_only_its_municipality(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        made = await seed(db, api)
        await export_month(live, tmp_path)
        first = listing(tmp_path)
        await db.execute("UPDATE routes.routes SET status = 'completed' WHERE id = $1", made["b"]["id"])
        await export_month(live, tmp_path)
        changed = {name for name, digest in listing(tmp_path).items() if first[name] != digest}
        assert changed == {f"{MUN_B}.csv", f"{MUN_B}.xlsx", f"{MUN_B}.json", REGION_BOOK}

    async def test_a_municipality_without_routes_now_loses_its_files(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await export_month(live, tmp_path)
        await db.execute("DELETE FROM routes.routes WHERE municipality = $1", MUN_B)
        summary = await export_month(live, tmp_path)
        assert summary["removed_stale"] == 3
        assert not any(name.startswith(MUN_B) for name in listing(tmp_path))
        assert await db.fetchval("SELECT count(*) FROM routes.exports WHERE municipality = $1", MUN_B) == 0

    async def test_each_region_gets_its_own_workbook_and_records(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await seed_other_region(db)
        summary = await export_month(live, tmp_path)
        assert summary["routes"] == 6
        assert {REGION_BOOK, "region-r-other.xlsx", "mo-other.csv"} <= set(listing(tmp_path))
        assert openpyxl.load_workbook(tmp_path / MONTH / REGION_BOOK).sheetnames == [
            SUMMARY_TITLE,
            MUN_A_NAME,
            MUN_B_NAME,
        ]
        other = openpyxl.load_workbook(tmp_path / MONTH / "region-r-other.xlsx")
        assert other.sheetnames == [SUMMARY_TITLE, "mo-other"]  # the directory holds no name for it
        assert [c.value for c in next(other["mo-other"].iter_rows(min_row=2))][NAME] == "Соседова Алла Петровна"
        books = await db.fetch("SELECT region, rows FROM routes.exports WHERE municipality = ''")
        assert {(r["region"], r["rows"]) for r in books} == {(REGION, 5), ("r-other", 1)}
        await export_month(live, tmp_path)  # a re-run keeps one record per file
        assert await db.fetchval("SELECT count(*) FROM routes.exports") == 11

    async def test_a_region_workbook_of_an_earlier_version_is_replaced(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await export_month(live, tmp_path)
        old = (tmp_path / MONTH / "region.xlsx").resolve()  # as versions before region-<code>.xlsx wrote it
        (tmp_path / MONTH / REGION_BOOK).rename(old)
        await db.execute(
            "UPDATE routes.exports SET filename = 'region.xlsx', path = $1 WHERE municipality = ''", str(old)
        )
        await export_month(live, tmp_path)
        assert not old.exists() and (tmp_path / MONTH / REGION_BOOK).exists()
        assert await db.fetchval("SELECT filename FROM routes.exports WHERE municipality = ''") == REGION_BOOK

    async def test_a_concurrent_run_is_refused(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        assert await db.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)  # as a running export holds it
        try:
            code, _, stderr = await export_cli(live, tmp_path, "--month", MONTH)
        finally:
            await db.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
        assert code == 75 and "идёт другая ежемесячная выгрузка" in stderr
        assert not (tmp_path / MONTH).exists()
        assert await db.fetchval("SELECT count(*) FROM routes.exports") == 0

    async def test_formats_can_be_chosen(self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path) -> None:
        await seed(db, api)
        code, _, stderr = await export_cli(live, tmp_path, "--month", MONTH, "--formats", "csv", "--quiet")
        assert code == 0 and stderr == ""
        assert sorted(listing(tmp_path)) == [f"{MUN_A}.csv", f"{MUN_B}.csv"]

    async def test_a_bad_month_is_refused_before_anything_runs(self, live: Stack, tmp_path: Path) -> None:
        code, _, stderr = await export_cli(live, tmp_path, "--month", "11-2026")
        assert code == 2 and "YYYY-MM" in stderr


class TestRecordedExports:
    async def test_methodologist_lists_own_municipality_only(
        self, live: Stack, api: httpx.AsyncClient, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await export_month(live, tmp_path)
        r = await api.get("/api/v1/exports", params={"month": MONTH}, headers=as_methodologist(MUN_A))
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert {(i["municipality"], i["format"]) for i in items} == {(MUN_A, f) for f in ("csv", "json", "xlsx")}

    async def test_regional_specialist_lists_all_with_the_region_workbook(
        self, live: Stack, api: httpx.AsyncClient, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await export_month(live, tmp_path)
        r = await api.get("/api/v1/exports", params={"month": MONTH, "limit": 4}, headers=as_regional())
        page = r.json()
        r2 = await api.get("/api/v1/exports", params={"cursor": page["next_cursor"]}, headers=as_regional())
        items = page["items"] + r2.json()["items"]
        assert r2.json()["next_cursor"] is None and len(items) == 7
        region = next(i for i in items if i["scope"] == "region")
        assert region["municipality"] is None and region["filename"] == REGION_BOOK and region["rows"] == 5
        assert len({i["id"] for i in items}) == 7

    async def test_each_region_lists_only_its_own_files_in_a_shared_month(
        self, live: Stack, api: httpx.AsyncClient, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await seed_other_region(db)
        await export_month(live, tmp_path)
        other = auth(Role.regional_specialist, region="r-other")
        items = (await api.get("/api/v1/exports", params={"month": MONTH}, headers=other)).json()["items"]
        assert sorted(i["filename"] for i in items) == [
            "mo-other.csv",
            "mo-other.json",
            "mo-other.xlsx",
            "region-r-other.xlsx",
        ]
        ours = (await api.get("/api/v1/exports", params={"month": MONTH}, headers=as_regional())).json()["items"]
        assert len(ours) == 7 and "region-r-other.xlsx" not in {i["filename"] for i in ours}

    async def test_download_streams_the_recorded_file(
        self, live: Stack, api: httpx.AsyncClient, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await export_month(live, tmp_path)
        items = (await api.get("/api/v1/exports", headers=as_methodologist(MUN_A))).json()["items"]
        for item in items:
            r = await api.get(item["download_url"], headers=as_methodologist(MUN_A))
            assert r.status_code == 200
            assert hashlib.sha256(r.content).hexdigest() == item["sha256"]
            assert f"iom-{MONTH}-{MUN_A}.{item['format']}" in r.headers["content-disposition"]
            expected = {"csv": "text/csv", "xlsx": XLSX_MEDIA_TYPE, "json": "application/json"}[item["format"]]
            assert r.headers["content-type"].startswith(expected)

    async def test_another_municipality_s_export_is_not_found(
        self, live: Stack, api: httpx.AsyncClient, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await export_month(live, tmp_path)
        ids = {(r["municipality"], r["format"]): r["id"] for r in await db.fetch("SELECT * FROM routes.exports")}
        h = as_methodologist(MUN_A)
        assert (await api.get(f"/api/v1/exports/{ids[(MUN_B, 'csv')]}/download", headers=h)).status_code == 404
        assert (await api.get(f"/api/v1/exports/{ids[('', 'xlsx')]}/download", headers=h)).status_code == 404
        r = await api.get("/api/v1/exports", params={"municipality": MUN_B}, headers=h)
        assert r.json()["items"] == []

    @pytest.mark.parametrize("role", [Role.teacher, Role.school_admin])
    async def test_teachers_and_schools_cannot_list(self, api: httpx.AsyncClient, role: Role) -> None:
        h = as_school(ORG_A1, MUN_A) if role == Role.school_admin else auth(role, region=REGION, teacher_id="x")
        assert (await api.get("/api/v1/exports", headers=h)).status_code == 403

    async def test_openapi_declares_the_file_types(self, api: httpx.AsyncClient) -> None:
        spec = (await api.get("/openapi.json")).json()
        content = spec["paths"]["/api/v1/exports/monthly"]["get"]["responses"]["200"]["content"]
        assert {"text/csv", XLSX_MEDIA_TYPE, "application/json"} <= set(content)
        download = spec["paths"]["/api/v1/exports/{export_id}/download"]["get"]["responses"]["200"]["content"]
        assert {"text/csv", XLSX_MEDIA_TYPE, "application/json"} <= set(download)


class Tracked(dict):  # type: ignore[type-arg]
    """A route document that records every field read from it, as (path, key)."""

    def __init__(self, data: dict[str, Any], path: str, seen: set[tuple[str, str]]) -> None:
        super().__init__(data)
        self.path, self.seen = path, seen

    def _wrap(self, key: str, value: Any) -> Any:
        sub = f"{self.path}.{key}" if self.path else key
        if isinstance(value, dict):
            return Tracked(value, sub, self.seen)
        if isinstance(value, list):
            return [Tracked(v, sub + "[]", self.seen) if isinstance(v, dict) else v for v in value]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add((self.path, key))
        return self._wrap(key, super().get(key, default))

    def __getitem__(self, key: str) -> Any:
        self.seen.add((self.path, key))
        return self._wrap(key, super().__getitem__(key))

    def items(self) -> Any:
        self.seen.update((self.path, k) for k in self)
        return [(k, self._wrap(k, v)) for k, v in super().items()]


def as_fetched(doc: dict[str, Any]) -> dict[str, bytes | None]:
    """The parts of a document as `month_query` selects them: jsonb_send of each, None where it has none."""
    sections = doc.get("sections") or {}
    profile = sections.get("competency_profile") or {}

    def send(holder: dict[str, Any], key: str) -> bytes | None:
        return b"\x01" + orjson.dumps(holder[key]) if key in holder else None  # jsonb's version 1, then text

    return {
        "doc_period": send(doc, "period"),
        "doc_mentoring": send(doc, "mentoring"),
        "doc_control_points": send(doc, "control_points"),
        "doc_deficits": send(profile, "deficits"),
        "doc_goals": send(sections, "goals"),
    }


def documents() -> list[dict[str, Any]]:
    """Route documents of every shape the self-check meets: groups, no deficits, people's changes."""
    base = dict(teacher_name="x", municipality=MUN_A, organisation=ORG_A1, region=REGION, subject="physics")
    docs = []
    for group, deficits in ((1, ("M2", "M3")), (2, ("M2",)), (3, ()), (4, ("M1", "M2", "M3", "M4"))):
        snap = snapshot(group=group, deficits=deficits, assessed_on=START, **base)
        mentor = MentorChoice("m-1", "Наставник", "округ") if group == 1 else None
        docs.append(generate(snap, MATCHES, mentor, START))
    changed = copy.deepcopy(docs[0])
    goals = changed["sections"]["goals"]
    goals[0]["tasks"][0].update(chosen_resource_id=goals[0]["tasks"][0]["forms"][0]["resource_id"], done=True)
    goals[0]["tasks"][1].update(forms=[], ends_on=goals[0]["tasks"][1]["starts_on"], result_form="Эссе")
    goals[-1]["tasks"] = goals[-1]["tasks"][:1]
    docs.append(changed)
    return docs


@pytest.mark.no_db
class TestRules:
    def test_the_self_check_reads_only_the_part_of_the_document_fetched(self) -> None:
        seen: set[tuple[str, str]] = set()
        for doc in documents():
            evaluate(Tracked(doc, "", seen))
        outside = [(path, key) for path, key in seen if path in KEPT and key not in KEPT[path]]
        assert outside == [] and ("sections.goals[].tasks[].forms[]", "starts_on") in seen

    def test_a_row_from_the_parts_fetched_is_the_row_of_the_whole_document(self) -> None:
        for doc in documents():
            row = export_row({**ROW, **as_fetched(doc)}, Month.parse(MONTH), NAMES)
            assert row.self_check == evaluate(doc)["auto_total"]
            assert row.deficits == tuple(doc["sections"]["competency_profile"]["deficits"])
            names = {g["competency"]: g["competency_name"] for g in doc["sections"]["goals"]}
            assert row.deficit_names == tuple(names[d] for d in row.deficits)
            assert (row.municipality_name, row.organisation_name) == (MUN_A_NAME, "Школа А1")
            assert row.tasks == sum(len(g["tasks"]) for g in doc["sections"]["goals"])
            assert row.mentor == ("Наставник" if doc.get("mentoring") else "")

    def test_parts_a_document_lacks_are_missing_not_empty(self) -> None:
        doc = documents()[0]
        bare = {"sections": {"goals": doc["sections"]["goals"]}}
        row = export_row({**ROW, **as_fetched(bare)}, Month.parse(MONTH), Directory())
        assert row.deficits == () and row.mentor == "" and row.self_check == evaluate(bare)["auto_total"]
        assert row.municipality_name == row.organisation_name == NOT_IN_DIRECTORY
        # A route made before the content had its list of control points: each task's own point.
        assert row.next_control is not None and row.next_control.what.startswith("Предъявление результата")

    def test_previous_month_is_the_calendar_month_before_today(self) -> None:
        assert Month.parse("previous", today=date(2027, 1, 1)).key == "2026-12"
        m = Month.parse("previous", today=date(2026, 3, 31))
        assert (m.key, m.first, m.last) == ("2026-02", date(2026, 2, 1), date(2026, 2, 28))

    def test_month_must_be_yyyy_mm(self) -> None:
        for bad in ("2026-13", "2026-1", "11.2026", "", "0000-01", "1979-12", "2108-01"):
            with pytest.raises(ValueError):
                Month.parse(bad)

    def test_formula_prefixes_are_escaped_and_xml_control_characters_dropped(self) -> None:
        for evil in EVIL:
            assert clean_text(evil).startswith("'")
        assert clean_text("\x00=1") == "'=1"
        assert clean_text("Иванова") == "Иванова" and clean_text(-5) == -5


def export_rows_for_writer() -> list[ExportRow]:
    """Rows whose texts an XML writer can get wrong: markup, quotes, edge spaces, control characters."""
    names = [
        "Кто & <что> \"так\" 'ли'",
        "  с пробелами по краям  ",
        "=1+1",
        "строка\nперенос",
        "управляющий\x01\uffffсимвол",
        "Ёлкина 😀 Анна",
    ]
    rows = []
    for i, name in enumerate(names):
        rows.append(
            ExportRow(
                route_id=uuid.uuid4(),
                teacher_id=uuid.uuid4(),
                external_id=f"e-{i}",
                teacher_name=name,
                region=REGION,
                municipality=MUN_A,
                municipality_name=MUN_A_NAME,
                organisation="ОО & Co" if i else "",
                organisation_name="Школа & <1>" if i else "",
                subject="physics" if i % 2 else None,
                group=1 if i < 3 else 2,
                status="in_progress",
                period_start=date(2026, 9, 1),
                period_end=date(2027, 2, 28),
                deficits=("M1", "M3") if i % 3 else (),
                deficit_names=("Планирование", "Оценивание") if i % 3 else (),
                tasks=i,
                mentor_id="m-1" if i < 3 else None,
                mentor="Наставник <главный>" if i < 3 else "",
                mentor_contact="не указан",
                next_control=ControlPoint(date(2026, 11, 20 + i), "Эссе", "наставник") if i % 2 else None,
                self_check=10 - i,
            )
        )
    return rows


def write_book(folder: Path, sheets: list[tuple[str, list[ExportRow]]]) -> Path:
    parts = []
    for i, (title, rows) in enumerate(sheets):
        sheet = MonthSheet(folder / f"sheet{i}")
        sheet.write(rows[:3])
        sheet.write(rows[3:])
        parts.append((title, sheet.finish()))
    path = folder / "book.xlsx"
    with open(path, "wb") as sink:
        write_month_workbook(sink, Month.parse(MONTH), parts)
    return path


@pytest.mark.no_db
class TestWorkbookWriter:
    def test_the_zip_is_valid_and_every_part_is_well_formed_xml(self, tmp_path: Path) -> None:
        path = write_book(tmp_path, [("Кто & 'что'", export_rows_for_writer()), ("пусто", [])])
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None
            names = z.namelist()
            assert {"[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml", "xl/worksheets/sheet2.xml"} <= set(names)
            for name in names:
                ElementTree.fromstring(z.read(name))  # raises on anything not well-formed
            assert {i.date_time for i in z.infolist()} == {(2026, 11, 1, 0, 0, 0)}

    def test_openpyxl_reads_back_the_values_styles_and_layout(self, tmp_path: Path) -> None:
        rows = export_rows_for_writer()
        path = write_book(tmp_path, [("Кто & 'что'", rows), ("пусто", [])])
        wb = openpyxl.load_workbook(path)
        assert wb.sheetnames == ["Кто & 'что'", "пусто"]
        ws = wb["Кто & 'что'"]
        got = [[c.value for c in r] for r in ws.iter_rows()]
        assert got[0] == list(HEADERS)
        expected = [[clean_text(v) if isinstance(v, str) else v for v in row.cells()] for row in rows]
        for want, have in zip(expected, got[1:], strict=True):
            when = want[CONTROL]
            want[CONTROL] = None if when is None else datetime(when.year, when.month, when.day)
            assert have == [None if v == "" else v for v in want]
        assert got[1][NAME] == "Кто & <что> \"так\" 'ли'" and got[2][NAME] == "  с пробелами по краям  "
        assert got[3][NAME] == "'=1+1" and got[5][NAME] == "управляющийсимвол"
        assert all(c.font.b and c.fill.fgColor.rgb == HEADER_FILL and c.alignment.wrap_text for c in ws[1])
        assert ws.row_dimensions[1].height == 32
        for r in ws.iter_rows(min_row=2):
            low = r[GROUP].value.startswith("низкий")
            assert all((c.fill.fgColor.rgb == LOW_FILL) == low for c in r)
        control = ws.cell(row=3, column=CONTROL + 1)
        assert control.is_date and control.number_format == "DD.MM.YYYY"
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{LAST}{len(rows) + 1}"
        assert [ws.column_dimensions[chr(65 + i)].width for i in range(len(HEADERS))] == list(COLUMN_WIDTHS)
        assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
        empty = wb["пусто"]
        assert [[c.value for c in r] for r in empty.iter_rows()] == [list(HEADERS)]
        assert empty.auto_filter.ref == f"A1:{LAST}1"
        assert wb.properties.created == wb.properties.modified == datetime(2026, 11, 1)

    def test_a_text_that_looks_like_an_ooxml_escape_stays_literal(self, tmp_path: Path) -> None:
        # Excel shows `_x0041_` in a cell as "A" unless its "_" is written `_x005F_` (ECMA-376 ST_Xstring).
        names = ["Школа_x0041_", "a_x00e9_b__x1234_", "_x12_ не escape"]
        base = export_rows_for_writer()[: len(names)]
        rows = [dataclasses.replace(r, teacher_name=n) for r, n in zip(base, names, strict=True)]
        ws = openpyxl.load_workbook(write_book(tmp_path, [("A", rows)]))["A"]
        written = [ws.cell(row=i + 2, column=NAME + 1).value for i in range(len(names))]
        assert written[0] == "Школа_x005F_x0041_" and written[2] == "_x12_ не escape"
        assert [ooxml_unescape(w) for w in written] == names  # what Excel displays

    def test_the_same_rows_give_the_same_bytes(self, tmp_path: Path) -> None:
        rows = export_rows_for_writer()
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        assert sha(write_book(tmp_path / "a", [("A", rows)])) == sha(write_book(tmp_path / "b", [("A", rows)]))

    @pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
    def test_libreoffice_opens_it(self, tmp_path: Path) -> None:
        path = write_book(tmp_path, [("Кто & 'что'", export_rows_for_writer())])
        done = subprocess.run(
            ["soffice", "--headless", "--convert-to", "csv", "--outdir", str(tmp_path / "csv"), str(path)],
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        text = (tmp_path / "csv" / "book.csv").read_text(encoding="utf-8", errors="replace")
        assert text.splitlines()[0].startswith("ФИО педагога") and "'=1+1" in text


# Latin-script words a Russian reader meets as they are (international studies); anything else Latin in a
# text meant for people is a code, an enum value or an untranslated word.
ACRONYMS = frozenset({"PISA", "PIRLS", "TIMSS", "ICILS"})
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
CODE_COLUMNS = frozenset({"Код муниципалитета", "Код ОО"})
PEOPLE_KEYS = (
    "teacher_name",
    "municipality_name",
    "organisation_name",
    "subject_label",
    "level",
    "group_label",
    "status_label",
    "deficit_names",
    "mentor",
    "mentor_contact",
    "next_control_what",
    "next_control_checked_by",
)
PLACEHOLDERS = ("…", "...", "и др.", "None", "null", "нет в справочнике", "без названия")
RU_DAY = re.compile(r"^\d{2}\.\d{2}\.\d{4}$")


def unreadable(text: str) -> list[str]:
    """What in a text meant for people is not Russian a methodologist would write: Latin words (codes, enum
    values) but the acronyms, and placeholders."""
    found = [w for w in LATIN_WORD.findall(text) if w not in ACRONYMS]
    return found + [p for p in PLACEHOLDERS if p in text]


def scan_table(name: str, header: list[str], rows: list[list[Any]]) -> list[str]:
    problems = [f"{name}: header {h!r}" for h in header if unreadable(str(h))]
    for i, row in enumerate(rows, start=2):
        for column, value in zip(header, row, strict=True):
            if column in CODE_COLUMNS or value is None or isinstance(value, int | datetime | date):
                continue
            problems += [f"{name} row {i} {column}: {bad!r} in {value!r}" for bad in unreadable(str(value))]
    return problems


class TestTheDemoExportReadsAsADocument:
    async def test_every_cell_of_the_demo_s_monthly_files_is_russian_names_not_codes(
        self, live: Stack, api: httpx.AsyncClient, db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for key, value in live.env.items():  # the loader signs its tokens with the stack's secret
            monkeypatch.setenv(key, value)
        await asyncio.to_thread(demo.load_if_empty, live.gateway)
        teachers = len(demo.region_data()["teachers"])
        for _ in range(150):
            if await db.fetchval("SELECT count(*) FROM routes.routes") >= teachers:
                break
            await asyncio.sleep(0.2)
        start = await db.fetchval("SELECT min(period_start) FROM routes.routes")
        month = f"{start:%Y-%m}"
        code, _, stderr = await export_cli(live, tmp_path / "one", "--month", month, "--quiet")
        assert code == 0, stderr
        code, _, stderr = await export_cli(live, tmp_path / "two", "--month", month, "--quiet")
        assert code == 0, stderr
        one, two = tmp_path / "one" / month, tmp_path / "two" / month
        assert {p.name: sha(p) for p in one.iterdir()} == {p.name: sha(p) for p in two.iterdir()}  # same bytes

        problems: list[str] = []
        municipalities = {m["code"]: m["name"] for m in demo.region_data()["municipalities"]}
        for path in sorted(one.glob("*.csv")):
            table = csv_rows(path.read_bytes())
            assert table[0] == list(HEADERS)
            problems += scan_table(path.name, table[0], table[1:])
            for row in table[1:]:
                cells = dict(zip(HEADERS, row, strict=True))
                assert cells["Муниципалитет"] == municipalities[cells["Код муниципалитета"]]
                assert RU_DAY.match(cells["Ближайшая контрольная точка"] or "00.00.0000")
                assert all(RU_DAY.match(d) for d in cells["Период"].split(" – "))
        for path in sorted(one.glob("*.xlsx")):
            book = openpyxl.load_workbook(path)
            for ws in book.worksheets:
                table = [[c.value for c in r] for r in ws.iter_rows()]
                problems += scan_table(f"{path.name}/{ws.title}", table[0], table[1:])
                assert not unreadable(ws.title), ws.title
        for path in sorted(one.glob("*.json")):
            for i, item in enumerate(json.loads(path.read_bytes())):
                for key in PEOPLE_KEYS:
                    values = item[key] if isinstance(item[key], list) else [item[key]]
                    problems += [f"{path.name} {i} {key}: {b!r}" for v in values if v for b in unreadable(str(v))]
        assert problems == []

        book = openpyxl.load_workbook(one / f"region-{demo.REGION}.xlsx")
        assert book.sheetnames[0] == SUMMARY_TITLE and set(book.sheetnames[1:]) <= set(municipalities.values())
        summary = [[c.value for c in r] for r in book[SUMMARY_TITLE].iter_rows()]
        total = dict(zip(SUMMARY_HEADERS, summary[-1], strict=True))
        assert total["Муниципалитет"] == TOTAL and total["Маршрутов всего"] == await db.fetchval(
            "SELECT count(*) FROM routes.routes WHERE period_start <= $1 AND period_end >= $2",
            Month.parse(month).last,
            Month.parse(month).first,
        )
        assert total["Маршрутов всего"] > 0
        groups = [h for h in SUMMARY_HEADERS if "группа" in h]
        assert sum(total[g] for g in groups) == total["Маршрутов всего"]
        assert [r[2] for r in summary[1:-1]] == [
            len(json.loads((one / f"{c}.json").read_bytes()))
            for c in sorted(municipalities)
            if (one / f"{c}.json").exists()
        ]
