"""Monitoring of municipalities through the gateway: intake, bands, analysis, XLSX/SVG report, scope."""

from __future__ import annotations

import io
import json
import re
import uuid
from typing import Any

import httpx
import openpyxl
import pytest

from kit.auth import Role
from services.audit.bands import band_row
from services.audit.vocab import Band
from tests.audit.support import (
    STEPS,
    create_campaign,
    register_municipalities,
    row_with_total_percent,
    score_row,
    to_csv,
    upload_scores,
)
from tests.harness import auth
from tests.region import MUN_A, MUN_B, REGION, as_methodologist, as_regional, as_school

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def scores(
    api: httpx.AsyncClient, campaign_id: str, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    r = await api.get(f"/api/v1/monitoring/campaigns/{campaign_id}/scores", headers=headers or as_regional())
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def report(api: httpx.AsyncClient, campaign_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = await api.get(f"/api/v1/monitoring/campaigns/{campaign_id}/report", headers=headers or as_regional())
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


@pytest.fixture(autouse=True)
async def directory(api: httpx.AsyncClient) -> None:
    await register_municipalities(api)


# Weakest region-wide: decisions (3 of 9 points), then indicators (11 of 30), then effectiveness (4 of 9).
CRAFTED = [
    score_row(
        "mo-01",
        {
            "goals": 21,
            "indicators": 7,
            "methods": 3,
            "monitoring": 15,
            "analysis": 15,
            "recommendations": 9,
            "measures": 21,
            "decisions": 2,
            "effectiveness": 3,
        },
        name="Северный",
    ),
    score_row(
        "mo-02",
        {
            "goals": 12,
            "indicators": 3,
            "methods": 2,
            "monitoring": 8,
            "analysis": 9,
            "recommendations": 5,
            "measures": 12,
            "decisions": 1,
            "effectiveness": 1,
        },
        name="Южный",
    ),
    score_row(
        "mo-03",
        {
            "goals": 3,
            "indicators": 1,
            "methods": 1,
            "monitoring": 2,
            "analysis": 2,
            "recommendations": 2,
            "measures": 3,
            "decisions": 0,
            "effectiveness": 0,
        },
        name="Западный",
    ),
]


class TestCampaigns:
    async def test_create_and_list(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "2026-spring", "2026-04-15")
        assert c["region"] == REGION and c["municipalities"] == 0
        listed = (await api.get("/api/v1/monitoring/campaigns", headers=as_methodologist(MUN_A))).json()
        assert [x["id"] for x in listed["items"]] == [c["id"]]

    async def test_code_is_unique_in_region(self, api: httpx.AsyncClient) -> None:
        await create_campaign(api, "c1", "2026-04-15")
        r = await api.post(
            "/api/v1/monitoring/campaigns",
            json={"code": "c1", "title": "x", "held_on": "2026-05-01"},
            headers=as_regional(),
        )
        assert r.status_code == 409 and r.json()["code"] == "campaign-code-taken"

    async def test_only_regional_roles_open_campaigns(self, api: httpx.AsyncClient) -> None:
        body = {"code": "c1", "title": "x", "held_on": "2026-05-01"}
        for h in (as_methodologist(MUN_A), as_school("oo-a1", MUN_A)):
            assert (await api.post("/api/v1/monitoring/campaigns", json=body, headers=h)).status_code == 403

    async def test_other_region_does_not_see_the_campaign(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        other = auth(Role.regional_specialist, region="r-other")
        assert (await api.get(f"/api/v1/monitoring/campaigns/{c['id']}", headers=other)).status_code == 404
        assert (await upload_scores(api, c["id"], CRAFTED, headers=other)).status_code == 404


class TestUpload:
    async def test_json_upload_stores_every_row(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        r = await upload_scores(api, c["id"], CRAFTED)
        assert r.status_code == 200, r.text
        assert r.json() == {"received": 3, "inserted": 3, "updated": 0, "removed": 0}
        got = {x["municipality"]: x for x in await scores(api, c["id"])}
        assert got["mo-01"]["total"] == 96 and got["mo-01"]["band"] == "high"
        goals = got["mo-02"]["steps"][0]
        assert goals == {"step": "goals", "points": 12, "max": 21, "percent": 57.1, "band": "low"}

    async def test_csv_with_russian_headers_and_comma_decimals(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        header = [
            "Код",
            "Муниципалитет",
            "Цели",
            "Показатели",
            "Методы сбора и обработки информации",
            "Мониторинг показателей",
            "Анализ результатов мониторинга",
            "Адресные рекомендации",
            "Меры и мероприятия",
            "Управленческие решения",
            "Анализ эффективности принятых мер",
            "Итого",
        ]
        row = score_row("mo-01", {"analysis": 7.5}, name="Северный")
        r = await upload_scores(api, c["id"], to_csv([row], header).encode("cp1251"), "text/csv; charset=windows-1251")
        assert r.status_code == 200, r.text
        got = (await scores(api, c["id"]))[0]
        assert got["municipality_name"] == "Северный"
        assert next(s for s in got["steps"] if s["step"] == "analysis")["points"] == 7.5

    async def test_xlsx_upload(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        rows = [["№", "municipality", "municipality_name", *STEPS, "total"]]
        for i, r in enumerate(CRAFTED, start=1):
            rows.append([i, r["municipality"], r["municipality_name"], *(r[s] for s in STEPS), r["total"]])
        r = await upload_scores(api, c["id"], xlsx_bytes(rows), XLSX)
        assert r.status_code == 200, r.text
        assert r.json()["inserted"] == 3

    async def test_above_max_and_bad_totals_are_rejected_naming_the_row(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        bad = [
            score_row("mo-01"),
            score_row("mo-02", {"methods": 4}),
            score_row("mo-03", total=99),
            score_row("mo-04", {"goals": 22, "decisions": -1}),
        ]
        r = await upload_scores(api, c["id"], bad)
        assert r.status_code == 422
        problem = r.json()
        got = {(e["row"], e["column"], e["code"]) for e in problem["errors"]}
        assert got == {
            (2, "methods", "above-max"),
            (3, "total", "total-mismatch"),
            (4, "goals", "above-max"),
            (4, "decisions", "negative"),
        }
        assert "Отклонено строк: 3" in problem["detail"]
        assert await scores(api, c["id"]) == []

    async def test_a_code_outside_the_regions_directory_is_rejected_naming_the_row(
        self, api: httpx.AsyncClient
    ) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        r = await upload_scores(api, c["id"], [score_row("mo-01"), score_row("mo-zz"), score_row("mo-02")])
        assert r.status_code == 422, r.text
        [error] = r.json()["errors"]
        assert (error["row"], error["column"], error["code"]) == (2, "municipality", "unknown-municipality")
        assert await scores(api, c["id"]) == []

    async def test_csv_errors_name_the_data_row(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        text = to_csv([score_row("mo-01"), score_row("mo-02", {"measures": 25})])
        r = await upload_scores(api, c["id"], text, "text/csv")
        assert [(e["row"], e["column"]) for e in r.json()["errors"]] == [(2, "measures")]

    async def test_missing_column_is_reported(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        r = await upload_scores(api, c["id"], "municipality;goals\nmo-01;3\n", "text/csv")
        assert r.status_code == 422
        assert {e["column"] for e in r.json()["errors"]} == set(STEPS) - {"goals"}

    async def test_idempotency_key(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        key, h = uuid.uuid4().hex, as_regional()  # keys belong to the caller (the token's subject)
        first = await upload_scores(api, c["id"], CRAFTED, key=key, headers=h)
        again = await upload_scores(api, c["id"], CRAFTED, key=key, headers=h)
        assert again.status_code == 200 and again.json() == first.json()
        assert again.headers.get("idempotent-replayed") == "true"
        other = await upload_scores(api, c["id"], CRAFTED[:1], key=key, headers=h)
        assert other.status_code == 422 and other.json()["code"] == "idempotency-key-reused"
        missing = await upload_scores(api, c["id"], CRAFTED, key=None, headers=h)
        assert missing.status_code == 400

    async def test_upload_again_updates_and_replace_removes_the_rest(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        await upload_scores(api, c["id"], CRAFTED)
        r = await upload_scores(api, c["id"], [score_row("mo-01", fill=1.0)])
        assert r.json() == {"received": 1, "inserted": 0, "updated": 1, "removed": 0}
        r = await upload_scores(api, c["id"], [score_row("mo-01", fill=1.0)], params={"replace": "true"})
        assert r.json()["removed"] == 2
        assert [x["municipality"] for x in await scores(api, c["id"])] == ["mo-01"]

    async def test_unsupported_media_type(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        r = await upload_scores(api, c["id"], b"%PDF", "application/pdf")
        assert r.status_code == 415

    async def test_json_with_unknown_fields_is_rejected(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        r = await upload_scores(api, c["id"], [{**score_row("mo-01"), "bonus": 5}])
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown-field"

    async def test_methodologist_cannot_upload(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        r = await upload_scores(api, c["id"], CRAFTED, headers=as_methodologist(MUN_A))
        assert r.status_code == 403


class TestBands:
    async def test_band_edges_on_totals(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        edges = {29: "critical", 30: "low", 59: "low", 60: "medium", 79: "medium", 80: "high"}
        rows = [row_with_total_percent(f"mo-{p}", p) for p in edges]
        assert (await upload_scores(api, c["id"], rows)).status_code == 200
        got = {x["municipality"]: (x["total_percent"], x["band"]) for x in await scores(api, c["id"])}
        assert got == {f"mo-{p}": (float(p), band) for p, band in edges.items()}

    async def test_step_band_is_exact_at_thirty_percent(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        await upload_scores(api, c["id"], [score_row("mo-01", {"goals": 6.3}), score_row("mo-02", {"goals": 6.29})])
        got = {x["municipality"]: x["steps"][0] for x in await scores(api, c["id"])}
        assert (got["mo-01"]["percent"], got["mo-01"]["band"]) == (30.0, "low")
        assert (got["mo-02"]["percent"], got["mo-02"]["band"]) == (30.0, "critical")


class TestReport:
    async def test_top_deficits_not_engaged_leaders_on_a_crafted_region(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        await upload_scores(api, c["id"], CRAFTED)
        rep = await report(api, c["id"])
        assert [s["step"] for s in rep["top_deficits"]] == ["decisions", "indicators", "effectiveness"]
        assert [s["percent"] for s in rep["top_deficits"]] == [33.3, 36.7, 44.4]
        ranks = {s["step"]: s["rank"] for s in rep["steps"]}
        assert ranks["methods"] == 9 and ranks["goals"] < ranks["recommendations"]
        assert [m["municipality"] for m in rep["not_engaged"]] == ["mo-03"]
        assert [m["municipality"] for m in rep["leaders"]] == ["mo-01"]
        self_audit = {m["municipality"]: m["reasons"] for m in rep["needing_self_audit"]}
        assert set(self_audit) == {"mo-02", "mo-03"}
        assert self_audit["mo-03"][0] == "итог ниже 30% (не вовлечён)"
        assert rep["region"]["band_counts"] == {"critical": 1, "low": 1, "medium": 0, "high": 1}
        assert rep["previous"] is None and rep["municipalities"][0]["change"] is None

    async def test_change_against_the_previous_campaign(self, api: httpx.AsyncClient) -> None:
        old = await create_campaign(api, "2025", "2025-04-15")
        new = await create_campaign(api, "2026", "2026-04-15")
        await upload_scores(api, old["id"], [row_with_total_percent("mo-01", 50), row_with_total_percent("mo-02", 70)])
        await upload_scores(api, new["id"], [row_with_total_percent("mo-01", 65), row_with_total_percent("mo-03", 10)])
        rep = await report(api, new["id"])
        assert rep["previous"]["id"] == old["id"]
        by = {m["municipality"]: m["change"] for m in rep["municipalities"]}
        assert by["mo-01"]["previous_total"] == 50 and by["mo-01"]["delta_total"] == 15
        assert by["mo-01"]["previous_band"] == "low" and by["mo-03"] is None
        assert rep["region"]["previous_average_total"] == 60

    async def test_xlsx_report_values_and_fill_colours(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        await upload_scores(api, c["id"], CRAFTED)
        r = await api.get(f"/api/v1/monitoring/campaigns/{c['id']}/report.xlsx", headers=as_regional())
        assert r.status_code == 200 and r.headers["content-type"] == XLSX
        assert 'filename="monitoring-c1.xlsx"' in r.headers["content-disposition"]
        wb = openpyxl.load_workbook(io.BytesIO(r.content))
        ws = wb["Мониторинг"]
        header = [c.value for c in ws[4]]
        assert header[:4] == ["№", "Код муниципалитета", "Муниципалитет", "Цели"] and header[-4:-2] == ["Итого", None]
        # Every text a person reads is Russian: no Latin words (codes only in the code column), no enum values.
        latin = [
            (sheet.title, cell.coordinate, cell.value)
            for sheet in wb.worksheets
            for row in sheet.iter_rows()
            for cell in row
            if isinstance(cell.value, str)
            and re.search(r"[A-Za-z]", cell.value)
            and not (cell.column == 2 and sheet.title == "Мониторинг")
            and not (cell.column == 1 and sheet.title == "Самоаудит")
            and c["title"] not in cell.value  # the campaign's own title, as its author wrote it
        ]
        assert latin == []
        rows = {ws.cell(i, 2).value: i for i in range(6, 9)}
        assert set(rows) == {"mo-01", "mo-02", "mo-03"}
        top = rows["mo-01"]
        assert ws.cell(top, 3).value == "Северный"
        assert (ws.cell(top, 4).value, ws.cell(top, 5).value) == (21, 100)
        assert ws.cell(top, 4).fill.start_color.rgb == "00" + band_row(Band.high).colour
        # indicators 7 of 10 = 70%: the medium band.
        assert ws.cell(top, 7).value == 70
        assert ws.cell(top, 7).fill.start_color.rgb == "00" + band_row(Band.medium).colour
        total_col = 4 + 2 * len(STEPS)
        assert ws.cell(top, total_col).value == 96 and ws.cell(top, total_col + 1).value == 96
        low = rows["mo-03"]
        assert ws.cell(low, total_col).fill.start_color.rgb == "00" + band_row(Band.critical).colour
        footer = ws.cell(9, 3).value
        assert footer == "Среднее по региону"
        deficits = wb["Дефициты"]
        assert [deficits.cell(i, 2).value for i in range(4, 7)] == [
            "Управленческие решения",
            "Показатели",
            "Анализ эффективности принятых мер",
        ]
        audit_sheet = wb["Самоаудит"]
        listed = [audit_sheet.cell(i, 1).value for i in range(3, 5)]
        assert listed == ["mo-03", "mo-02"]
        assert len(wb["Диаграмма"]._charts) == 1

    async def test_svg_chart(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        await upload_scores(api, c["id"], CRAFTED)
        r = await api.get(f"/api/v1/monitoring/campaigns/{c['id']}/chart.svg", headers=as_regional())
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert r.text.startswith("<svg") and r.text.count("<rect x=") == 9
        assert "Управленческие решения" in r.text

    async def test_steps_vocabulary(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/monitoring/steps", headers=as_regional())
        body = r.json()
        assert [s["max"] for s in body["steps"]] == [21, 10, 3, 15, 15, 9, 21, 3, 3] and body["total_max"] == 100
        assert [(b["from_percent"], b["to_percent"]) for b in body["bands"]] == [
            (0, 29),
            (30, 59),
            (60, 79),
            (80, None),
        ]


class TestScope:
    async def test_methodologist_sees_only_own_row(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        await upload_scores(api, c["id"], [score_row(MUN_A), score_row(MUN_B)])
        h = as_methodologist(MUN_A)
        assert [x["municipality"] for x in await scores(api, c["id"], h)] == [MUN_A]
        rep = await report(api, c["id"], h)
        assert [m["municipality"] for m in rep["municipalities"]] == [MUN_A]
        r = await api.get(f"/api/v1/monitoring/campaigns/{c['id']}/report.xlsx", headers=h)
        ws = openpyxl.load_workbook(io.BytesIO(r.content))["Мониторинг"]
        assert ws.cell(6, 2).value == MUN_A and ws.cell(7, 3).value == "Среднее по региону"

    async def test_school_and_teacher_roles_are_refused(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        r = await api.get(f"/api/v1/monitoring/campaigns/{c['id']}/scores", headers=as_school("oo-a1", MUN_A))
        assert r.status_code == 403

    async def test_pages(self, api: httpx.AsyncClient) -> None:
        c = await create_campaign(api, "c1", "2026-04-15")
        await upload_scores(api, c["id"], [score_row(f"mo-{i:02d}") for i in range(5)])
        r1 = await api.get(f"/api/v1/monitoring/campaigns/{c['id']}/scores", params={"limit": 3}, headers=as_regional())
        r2 = await api.get(
            f"/api/v1/monitoring/campaigns/{c['id']}/scores",
            params={"limit": 3, "cursor": r1.json()["next_cursor"]},
            headers=as_regional(),
        )
        assert [x["municipality"] for x in r1.json()["items"] + r2.json()["items"]] == [f"mo-{i:02d}" for i in range(5)]
        assert json.loads(r2.text)["next_cursor"] is None
