"""The picture a region reports of its methodological active (issue 15 points 5 and 8), through the gateway on
real PostgreSQL: a region of three municipalities of which one has no member, two years of membership (growth
from the status history), candidates taken from an ОМК campaign's results and included by an order, a list
imported with a bad row, the need of support groups 1-2 against the members, the monitoring of the municipality
without members (none yet, then a campaign), the XLSX report in Russian with the zero rows highlighted, and only
regional roles."""

from __future__ import annotations

import io
import json
import re
from datetime import date
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from services.resources.active_summary import Event, Member, growth, member_in, need, years_on_record
from tests.assessment.intake_support import create_campaign, load_framework, upload_json
from tests.region import (
    MUN_A,
    MUN_B,
    REGION,
    Region,
    as_methodologist,
    as_regional,
    as_school,
    as_teacher,
    seed_region,
    service_headers,
    teacher_row,
)
from tests.resources.test_active import TEACHERS, by_teacher, candidates, json_rows, post_import, with_profile

URL = "/api/v1/active"
LATIN = re.compile(r"[A-Za-z]")
MUN_C = "mo-c"
C_TEACHER = with_profile(teacher_row("t-c1-1", "Волкова Дарья Игоревна", MUN_C, "oo-c1"), "first", 4)
# Levels of the ОМК campaign in mathematics: groups 1-2 are one teacher in A (basic), one in B (low), one in C.
LEVELS = {
    "t-a1-1": "высокий",
    "t-a1-2": "повышенный",
    "t-a2-1": "базовый",
    "t-b1-1": "повышенный",
    "t-b2-1": "низкий",
    "t-c1-1": "низкий",
}
STEP_MAX = {
    "goals": 21,
    "indicators": 10,
    "methods": 3,
    "monitoring": 15,
    "analysis": 15,
    "recommendations": 9,
    "measures": 21,
    "decisions": 3,
    "effectiveness": 3,
}


async def three_municipalities(api: httpx.AsyncClient) -> Region:
    h = service_headers()
    r = await api.put("/api/v1/municipalities", json=[{"code": MUN_C, "name": "Округ В", "region": REGION}], headers=h)
    assert r.status_code == 200, r.text
    r = await api.put(
        "/api/v1/organisations", json=[{"code": "oo-c1", "name": "Школа В1", "municipality": MUN_C}], headers=h
    )
    assert r.status_code == 200, r.text
    return await seed_region(api, [*TEACHERS, C_TEACHER])


async def the_active(api: httpx.AsyncClient) -> Region:
    """2025: one member (imported, Russian language, in A). 2026: two more (mathematics, in A and B) taken from an
    ОМК campaign's candidates by an order. Municipality C has no member."""
    region = await three_municipalities(api)
    await load_framework(api)
    campaign = await create_campaign(
        api, name="ОМК 2026: математика", source="fioko_methodological", instrument="omk", subject="mathematics"
    )
    r = await upload_json(
        api, str(campaign["id"]), [{"external_id": e, "total": 10, "level": lv} for e, lv in LEVELS.items()]
    )
    assert r.status_code == 200, r.text
    rows = [
        {
            "teacher_external_id": "t-a2-1",
            "subjects": "русский язык",
            "status": "член актива",
            "since": "01.03.2025",
            "order_number": "5",
            "order_date": "01.03.2025",
        },
        {"teacher_external_id": "t-nobody", "subjects": "математика", "status": "кандидат"},
    ]
    r = await post_import(api, json_rows(rows), "application/json", mode="partial")
    assert r.status_code == 200, r.text
    assert (r.json()["inserted"], [e["code"] for e in r.json()["errors"]]) == (1, ["unknown-teacher"])
    got = (await candidates(api, str(campaign["id"]))).json()
    assert got["added"] == 3, got
    batch = [
        {"id": m["id"], "version": m["version"]}
        for m in (by_teacher(got["items"], region, "t-a1-1"), by_teacher(got["items"], region, "t-b1-1"))
    ]
    order = {"order": {"number": "01-12/345", "date": "2026-09-01"}, "members": batch}
    r = await api.post(f"{URL}/orders", json=order, headers=as_regional())
    assert r.status_code == 200, r.text
    return region


async def summary(api: httpx.AsyncClient, year: int) -> dict[str, Any]:
    r = await api.get(f"{URL}/summary", params={"year": year}, headers=as_regional())
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def monitoring_row(mun: str, fill: float) -> dict[str, Any]:
    pts = {s: round(m * fill * 2) / 2 for s, m in STEP_MAX.items()}
    return {"municipality": mun, **pts, "total": sum(pts.values())}


async def monitoring_campaign(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/api/v1/monitoring/campaigns",
        headers=as_regional(),
        json={"code": "mon-active", "title": "Мониторинг ММС, весна 2026", "held_on": "2026-04-15"},
    )
    assert r.status_code == 201, r.text
    rows = [monitoring_row(MUN_A, 0.7), monitoring_row(MUN_B, 0.5), monitoring_row(MUN_C, 0.2)]
    r = await api.post(
        f"/api/v1/monitoring/campaigns/{r.json()['id']}/scores",
        content=json.dumps({"rows": rows}),
        headers={**as_regional(), "Content-Type": "application/json", "Idempotency-Key": "mon-active"},
    )
    assert r.status_code in (200, 201), r.text


class TestSummary:
    async def test_members_by_subject_municipality_growth_and_need(self, api: httpx.AsyncClient) -> None:
        await the_active(api)
        s = await summary(api, 2026)
        assert s["members"] == 3
        assert [(x["subject"], x["label"], x["count"]) for x in s["by_subject"]] == [
            ("mathematics", "математика", 2),
            ("russian", "русский язык", 1),
        ]
        assert [(x["municipality"], x["name"], x["count"]) for x in s["by_municipality"]] == [
            (MUN_A, "Округ А", 2),
            (MUN_B, "Округ Б", 1),
            (MUN_C, "Округ В", 0),
        ]
        assert s["without_active"] == [{"municipality": MUN_C, "name": "Округ В"}]
        assert s["directory"] == {"available": True, "note": None}
        growth_of = {g["subject"]: g["counts"] for g in s["growth"]}
        assert (growth_of["mathematics"]["2025"], growth_of["mathematics"]["2026"]) == (0, 2)
        assert (growth_of["russian"]["2025"], growth_of["russian"]["2026"]) == (1, 1)
        assert s["years"][:2] == [2025, 2026]

        last_year = await summary(api, 2025)
        assert last_year["members"] == 1
        assert [x["municipality"] for x in last_year["without_active"]] == [MUN_B, MUN_C]

        need_part = s["need"]
        assert need_part["available"] and need_part["note"] is None
        cells = {(x["subject"], x["municipality"]): (x["teachers"], x["members"]) for x in need_part["items"]}
        assert cells == {
            ("mathematics", MUN_A): (1, 1),
            ("mathematics", MUN_B): (1, 1),
            ("mathematics", MUN_C): (1, 0),
            ("russian", MUN_A): (0, 1),
        }
        # Where the need is highest relative to the active: C (no member), then B (1 per member), then A (1 per 2).
        assert [(x["name"], x["teachers_per_member"]) for x in need_part["highest"]] == [
            ("Округ В", None),
            ("Округ Б", 1.0),
            ("Округ А", 0.5),
        ]

    async def test_monitoring_of_the_municipalities_without_members(self, api: httpx.AsyncClient) -> None:
        await the_active(api)
        before = (await summary(api, 2026))["monitoring"]
        assert before == {
            "available": True,
            "note": "В регионе нет кампаний мониторинга муниципалитетов",
            "campaign": None,
            "items": [],
        }
        await monitoring_campaign(api)
        after = (await summary(api, 2026))["monitoring"]
        assert after["campaign"]["title"] == "Мониторинг ММС, весна 2026"
        assert len(after["items"]) == 1
        row = after["items"][0]
        assert (row["municipality"], row["name"], row["band"]) == (MUN_C, "Округ В", "critical")
        assert row["total"] == pytest.approx(monitoring_row(MUN_C, 0.2)["total"])
        assert row["band_label"] == "ниже 30% (не вовлечён)"

    async def test_the_xlsx_report_in_russian_with_zero_rows_highlighted(self, api: httpx.AsyncClient) -> None:
        await the_active(api)
        await monitoring_campaign(api)
        r = await api.get(f"{URL}/summary.xlsx", params={"year": 2026}, headers=as_regional())
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        wb = load_workbook(io.BytesIO(r.content))
        assert wb.sheetnames == [
            "По предметам",
            "По муниципалитетам",
            "Динамика",
            "Потребность",
            "Обучение и экспертиза",
        ]
        subjects = [tuple(row) for row in wb["По предметам"].iter_rows(values_only=True)]
        assert subjects[:3] == [("Предмет", "Членов актива"), ("математика", 2), ("русский язык", 1)]
        ws = wb["По муниципалитетам"]
        rows = {row[0].value: row for row in ws.iter_rows(min_row=2, max_row=4)}
        assert rows["Округ В"][2].value == 0
        assert all(c.fill.fgColor.rgb.endswith("F8696B") for c in rows["Округ В"][:3])
        assert rows["Округ А"][2].value == 2 and rows["Округ А"][0].fill.fill_type is None
        growth_rows = [tuple(row) for row in wb["Динамика"].iter_rows(values_only=True)]
        assert growth_rows[0][:3] == ("Предмет", "2025 год", "2026 год")
        assert growth_rows[1][:3] == ("математика", 0, 2)
        for sheet in wb.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str) and not (sheet.title == "По муниципалитетам" and cell.column == 2):
                        assert not LATIN.search(cell.value), (sheet.title, cell.value)

    async def test_only_the_regional_roles(self, api: httpx.AsyncClient) -> None:
        region = await three_municipalities(api)
        for headers in (as_methodologist(MUN_A), as_school("oo-a1", MUN_A), as_teacher(region, "t-a1-1")):
            for path in ("summary", "summary.xlsx"):
                r = await api.get(f"{URL}/{path}", headers=headers)
                assert r.status_code == 403 and not LATIN.search(r.json()["detail"]), r.text
        empty = await summary(api, 2026)
        assert (empty["members"], empty["by_subject"], empty["growth"], empty["years"]) == (0, [], [], [])
        assert [x["count"] for x in empty["by_municipality"]] == [0, 0, 0]
        assert empty["need"] == {
            "available": True,
            "note": "В регионе нет результатов оценки: потребность не рассчитана",
            "items": [],
            "highest": [],
        }


@pytest.mark.no_db
class TestMembershipInAYear:
    def test_status_history_gives_the_years(self) -> None:
        joined_left = (
            Event(date(2024, 5, 1), 1, "candidate"),
            Event(date(2024, 9, 1), 2, "member"),
            Event(date(2025, 1, 1), 3, "left"),
            Event(date(2026, 3, 1), 4, "member"),
        )
        assert [member_in(joined_left, y) for y in (2023, 2024, 2025, 2026, 2027)] == [False, True, False, True, True]
        same_day = (Event(date(2025, 6, 1), 1, "member"), Event(date(2025, 6, 1), 2, "left"))
        assert not member_in(same_day, 2025)
        members = [
            Member("a", MUN_A, ("mathematics",), joined_left),
            Member("b", MUN_B, ("mathematics", "physics"), (Event(date(2025, 2, 1), 1, "member"),)),
        ]
        years = years_on_record(members, date(2026, 12, 7))
        assert years == [2024, 2025, 2026]
        assert {g["subject"]: g["counts"] for g in growth(members, years)} == {
            "mathematics": {"2024": 1, "2025": 1, "2026": 2},
            "physics": {"2024": 0, "2025": 1, "2026": 1},
        }

    def test_need_ranks_municipalities_without_members_first(self) -> None:
        members = [Member("a", MUN_A, ("mathematics",), ())]
        got = need({("mathematics", MUN_A): {1: 2, 2: 2, 3: 5}, ("mathematics", MUN_B): {2: 1, 4: 3}}, members, {})
        assert [(h["municipality"], h["teachers"], h["members"]) for h in got["highest"]] == [
            (MUN_B, 1, 0),
            (MUN_A, 4, 1),
        ]
        assert got["items"][0]["name"] == "нет в справочнике"
