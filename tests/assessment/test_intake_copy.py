"""A plain CSV is read and scored by PostgreSQL (COPY): it must store exactly what the row checker stores."""

from __future__ import annotations

import random
from typing import Any

import asyncpg
import httpx

from services.assessment.repositories.stage_sql import ANALYZE_AFTER_NEW_TEACHERS
from tests.assessment.intake_support import create_campaign, item_codes, item_max, setup_intake, upload
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_A2, ORG_B1, as_methodologist

NAMES = [
    "Ёлкина Алёна Петровна",
    "Иванов-Петров Иван",
    "Д'Арк Жанна",
    "Учитель 17",
    "Smith John",
    "Щукин Э. Ю.",
    "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ ABCDEFGHIJKLMNOPQRSTUVWXYZ абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "Ёжиков Пётр",
]
PLACES = [(MUN_A, ORG_A1), (MUN_A, ORG_A2), (MUN_B, ORG_B1), ("", "")]

RESULT_COLUMNS = (
    "item_points, competency_points, total_points, max_points, percent, level, grp, level_source, "
    "deficit_codes, growth_codes, strength_codes, r.version"
)
TEACHER_COLUMNS = "full_name, search_name, region, municipality_code, organisation_code, position, subjects"


def region_csv(prefix: str, n: int, *, quote_header: bool = False) -> str:
    """`n` rows of new teachers (and the region's own ones) with scores over the whole range, and totals."""
    rng = random.Random(3)
    maxes = [int(m) for m in item_max()]
    head = ["external_id", "ФИО", "Код МО", "Код ОО", "Должность", "total", *item_codes()]
    if quote_header:
        head[0] = '"external_id"'  # the same header; the quote only keeps PostgreSQL from reading the file
    lines = [";".join(head)]
    for i in range(n):
        scores = [min(m, int(rng.random() * (m + 1) * (i / (n / 2)))) for m in maxes]
        mun, org = PLACES[i % len(PLACES)]
        name = NAMES[i % len(NAMES)] if i % 7 else ""
        position = "" if i % 3 else "учитель математики"
        total = str(sum(scores)) if i % 2 else ""
        lines.append(";".join([f"{prefix}-{i}", name, mun, org, position, total, *map(str, scores)]))
    for k, ext in enumerate(("t-a1-1", "t-b1-1")):
        lines.append(";".join([ext, "", "", "", "", "", *(str(m if k else 0) for m in maxes)]))
    return "\n".join(lines) + "\n"


async def stored_results(db: asyncpg.Connection, campaign_id: str, prefix: str) -> dict[str, tuple[Any, ...]]:
    rows = await db.fetch(
        f"SELECT t.external_id, {RESULT_COLUMNS} FROM assessment.results r "
        "JOIN assessment.teachers t ON t.id = r.teacher_id WHERE r.campaign_id = $1",
        campaign_id,
    )
    return {r["external_id"].removeprefix(prefix): tuple(r)[1:] for r in rows}


async def stored_teachers(db: asyncpg.Connection, prefix: str) -> dict[str, tuple[Any, ...]]:
    rows = await db.fetch(
        f"SELECT external_id, {TEACHER_COLUMNS} FROM assessment.teachers WHERE external_id LIKE $1 || '-%'", prefix
    )
    return {r["external_id"].removeprefix(prefix): tuple(r)[1:] for r in rows}


class TestCopiedCsv:
    async def test_stores_what_the_row_checker_stores(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        it = await setup_intake(api)
        other = await create_campaign(api)
        copied = await upload(api, it.campaign_id, region_csv("c", 240))
        checked = await upload(api, str(other["id"]), region_csv("p", 240, quote_header=True))
        assert copied.status_code == checked.status_code == 422
        assert copied.json()["errors"] == checked.json()["errors"]
        assert {e["code"] for e in copied.json()["errors"]} == {"unknown-teacher"}  # the rows without a school

        copied = await upload(api, it.campaign_id, region_csv("c", 240), mode="partial")
        checked = await upload(api, str(other["id"]), region_csv("p", 240, quote_header=True), mode="partial")
        assert copied.status_code == checked.status_code == 200, (copied.text, checked.text)
        summary = ("rows", "inserted", "updated", "unchanged", "rejected", "errors")
        assert [copied.json()[k] for k in summary] == [checked.json()[k] for k in summary]
        assert copied.json()["inserted"] == 156
        assert await stored_results(db, it.campaign_id, "c") == await stored_results(db, str(other["id"]), "p")
        teachers = await stored_teachers(db, "c")
        assert len(teachers) == 154 and teachers == await stored_teachers(db, "p")

        again = await upload(api, it.campaign_id, region_csv("c", 240), mode="partial")
        assert (again.json()["inserted"], again.json()["updated"], again.json()["unchanged"]) == (0, 0, 156)

    async def test_duplicate_and_out_of_range_rows_are_reported_as_ever(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        maxes = [str(int(m)) for m in item_max()]
        over = [*maxes[:-1], str(int(maxes[-1]) + 1)]
        text = (
            "\n".join(
                [
                    ";".join(["external_id", *item_codes()]),
                    ";".join(["t-a1-1", *maxes]),
                    ";".join(["t-a1-1", *maxes]),
                    ";".join(["t-b1-1", *over]),
                ]
            )
            + "\n"
        )
        r = await upload(api, it.campaign_id, text)
        assert r.status_code == 422
        assert [(e["row"], e["code"]) for e in r.json()["errors"]] == [(2, "duplicate-in-batch"), (3, "above-max")]

    async def test_scope_holds_for_copied_rows(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        maxes = [str(int(m)) for m in item_max()]
        text = (
            "\n".join(
                [";".join(["external_id", *item_codes()]), ";".join(["t-a1-1", *maxes]), ";".join(["t-b1-1", *maxes])]
            )
            + "\n"
        )
        r = await upload(api, it.campaign_id, text, headers=as_methodologist(MUN_A))
        assert r.status_code == 422
        assert [(e["row"], e["code"]) for e in r.json()["errors"]] == [(2, "unknown-teacher")]


class TestLargeFirstUpload:
    async def test_the_teachers_statistics_count_a_large_batch_of_new_teachers(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        # Without it, an autovacuum ANALYZE running meanwhile records the table as empty and the results'
        # key check on teachers is planned as a scan per row (73 s for 80,000 rows instead of 2.5 s).
        it = await setup_intake(api)
        n = ANALYZE_AFTER_NEW_TEACHERS
        head = ["external_id", "ФИО", "Код МО", "Код ОО", *item_codes()]
        scores = ";".join("1" for _ in item_codes())
        lines = [";".join(head)] + [f"big-{i};Учитель {i};{MUN_A};{ORG_A1};{scores}" for i in range(n)]
        r = await upload(api, it.campaign_id, "\n".join(lines) + "\n")
        assert r.status_code == 200 and r.json()["inserted"] == n, r.text
        reltuples = await db.fetchval("SELECT reltuples FROM pg_class WHERE oid = 'assessment.teachers'::regclass")
        assert reltuples >= n
