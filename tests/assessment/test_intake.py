"""Results intake through the gateway: formats, bad rows, modes, upsert, idempotency, rollback, scope."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile

import asyncpg
import httpx
import openpyxl

from kit.auth import Role
from tests.assessment.intake_support import (
    XLSX,
    create_campaign,
    csv_text,
    full_marks,
    item_codes,
    items_obj,
    row,
    scores_with,
    setup_intake,
    upload,
    upload_json,
)
from tests.harness import auth
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_B1, as_methodologist, as_regional, as_teacher, service_headers


async def stored(db: asyncpg.Connection) -> dict[str, int]:
    out = {}
    for t in ("results", "result_changes", "intake_batches", "teachers"):
        out[t] = await db.fetchval(f"SELECT count(*) FROM assessment.{t}")
    return out


async def result_of(api: httpx.AsyncClient, teacher_id: str) -> dict:  # type: ignore[type-arg]
    r = await api.get("/api/v1/results", params={"teacher_id": teacher_id}, headers=as_regional())
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 1
    return items[0]  # type: ignore[no-any-return]


class TestFormats:
    async def test_csv_semicolon_utf8(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        r = await upload(
            api, it.campaign_id, csv_text([row("t-a1-1", scores_with({"M3"})), row("t-b1-1", full_marks())])
        )
        assert r.status_code == 200, r.text
        assert r.json() | {"batch_id": None} == {
            "batch_id": None,
            "campaign_id": it.campaign_id,
            "mode": "all",
            "format": "csv",
            "rows": 2,
            "inserted": 2,
            "updated": 0,
            "unchanged": 0,
            "rejected": 0,
            "errors": [],
            "errors_truncated": False,
        }
        res = await result_of(api, it.region.id("t-a1-1"))
        assert [d["competency"] for d in res["deficits"]] == ["M3"]
        assert res["level"] == "high" and res["group"] == 4

    async def test_csv_comma_with_bom_and_crlf(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        text = csv_text([row("t-a1-1", full_marks())], sep=",").replace("\n", "\r\n")
        r = await upload(api, it.campaign_id, "\ufeff" + text)
        assert r.status_code == 200, r.text
        assert r.json()["inserted"] == 1

    async def test_csv_windows_1251_registers_new_teachers_with_cyrillic_names(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        header = ["Идентификатор", "ФИО", "Код МО", "Код ОО", "Должность", *item_codes()]
        rows = [["new-1", "Щукина Ядвига Эдуардовна", MUN_A, ORG_A1, "учитель математики", *scores_with({"MA1"})]]
        body = csv_text(rows, header=header).encode("cp1251")
        r = await upload(api, it.campaign_id, body, "text/csv")
        assert r.status_code == 200, r.text
        got = await api.get("/api/v1/teachers/by-external-id/new-1", headers=as_regional())
        assert got.status_code == 200
        t = got.json()
        assert t["full_name"] == "Щукина Ядвига Эдуардовна"
        assert (t["municipality"], t["organisation"], t["subjects"]) == (MUN_A, ORG_A1, ["mathematics"])

    async def test_decimal_comma_scores(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        scores: list[object] = list(full_marks())
        scores[0] = "0,5"
        r = await upload(api, it.campaign_id, csv_text([["t-a1-1", *scores]]))
        assert r.status_code == 200, r.text
        assert (await result_of(api, it.region.id("t-a1-1")))["total_points"] == 56.5

    async def test_xlsx(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        wb = openpyxl.Workbook()
        ws = wb.active
        assert ws is not None
        ws.append(["external_id", *item_codes()])
        ws.append(["t-a1-1", *scores_with({"M2"})])
        ws.append(["t-a2-1", *[float(x) for x in full_marks()]])
        buf = io.BytesIO()
        wb.save(buf)
        r = await upload(api, it.campaign_id, buf.getvalue(), XLSX)
        assert r.status_code == 200, r.text
        assert (r.json()["format"], r.json()["inserted"]) == ("xlsx", 2)
        res = await result_of(api, it.region.id("t-a1-1"))
        assert [d["competency"] for d in res["deficits"]] == ["M2"]

    async def test_json_batch_with_items_competencies_and_total(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        rows = [
            {"external_id": "t-a1-1", "items": items_obj(scores_with({"M4"}))},
            {
                "external_id": "t-a1-2",
                "competencies": {"M1": 7, "M2": 7, "M3": 1, "M4": 6, "MA1": 7, "MA2": 8, "MA3": 8, "MA4": 6},
            },
            {"external_id": "t-b1-1", "total": 20, "level": "базовый"},
        ]
        r = await upload_json(api, it.campaign_id, rows)
        assert r.status_code == 200, r.text
        assert r.json()["inserted"] == 3
        assert [d["competency"] for d in (await result_of(api, it.region.id("t-a1-2")))["deficits"]] == ["M3"]
        only_total = await result_of(api, it.region.id("t-b1-1"))
        assert (only_total["level"], only_total["level_source"], only_total["competencies"]) == (
            "basic",
            "reported",
            [],
        )


class TestBadRows:
    async def test_every_bad_row_is_reported_without_values(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        it = await setup_intake(api)
        good = full_marks()
        non_numeric: list[object] = list(good)
        non_numeric[3] = "СЕКРЕТ"
        above: list[object] = list(good)
        above[0] = 9
        rows = [
            row("t-a1-1", good),
            ["t-a1-2", *non_numeric],
            ["t-a2-1", *above],
            row("t-a1-1", good),  # duplicate teacher in the batch
            row("ghost-1", good),  # unknown teacher, no registry fields
        ]
        r = await upload(api, it.campaign_id, csv_text(rows))
        assert r.status_code == 422, r.text
        problem = r.json()
        assert problem["code"] == "rows-rejected" and problem["rejected"] == 4 and problem["rows"] == 5
        got = {(e["row"], e["column"], e["code"]) for e in problem["errors"]}
        assert got == {
            (2, "4", "not-a-number"),
            (3, "1", "above-max"),
            (4, "external_id", "duplicate-in-batch"),
            (5, "external_id", "unknown-teacher"),
        }
        assert "СЕКРЕТ" not in r.text and "ghost-1" not in r.text
        assert (await stored(db))["results"] == 0

    async def test_unknown_column_is_a_header_error(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        header = ["external_id", *item_codes(), "Примечание"]
        r = await upload(api, it.campaign_id, csv_text([["t-a1-1", *full_marks(), "x"]], header=header))
        assert r.status_code == 422
        assert [(e["code"], e["column"]) for e in r.json()["errors"]] == [("unknown-column", "Примечание")]

    async def test_negative_missing_and_total_mismatch(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        header = ["external_id", *item_codes(), "total"]
        neg: list[object] = list(full_marks())
        neg[1] = -1
        missing: list[object] = list(full_marks())
        missing[2] = ""
        rows = [["t-a1-1", *neg, ""], ["t-a1-2", *missing, ""], ["t-a2-1", *full_marks(), 10]]
        r = await upload(api, it.campaign_id, csv_text(rows, header=header))
        assert r.status_code == 422
        assert {(e["row"], e["code"]) for e in r.json()["errors"]} == {
            (1, "negative-score"),
            (2, "missing-score"),
            (3, "total-mismatch"),
        }

    async def test_empty_file(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        r = await upload(api, it.campaign_id, b"")
        assert r.status_code == 422 and r.json()["code"] == "empty-file"

    async def test_header_only(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        r = await upload(api, it.campaign_id, csv_text([]))
        assert r.status_code == 422 and r.json()["code"] == "no-rows"

    async def test_empty_json_batch(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        r = await upload_json(api, it.campaign_id, [])
        assert r.status_code == 422 and r.json()["code"] == "no-rows"

    async def test_json_row_with_unknown_field_and_item(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        rows = [{"external_id": "t-a1-1", "items": {**items_obj(full_marks()), "99": 1}, "comment": "x"}]
        r = await upload_json(api, it.campaign_id, rows)
        assert r.status_code == 422
        assert {(e["column"], e["code"]) for e in r.json()["errors"]} == {
            ("comment", "unknown-column"),
            ("items.99", "unknown-column"),
        }

    async def test_unknown_organisation_for_new_teacher(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        header = ["external_id", "full_name", "municipality", "organisation", *item_codes()]
        r = await upload(
            api, it.campaign_id, csv_text([["n-1", "Новый Учитель", MUN_A, ORG_B1, *full_marks()]], header=header)
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["code"] == "unknown-organisation"

    async def test_unsupported_media_type(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        r = await upload(api, it.campaign_id, b"<xml/>", "application/xml")
        assert r.status_code == 415 and r.headers["content-type"] == "application/problem+json"

    async def test_xlsx_zip_bomb_is_refused(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("[Content_Types].xml", b"<Types/>")
            z.writestr("xl/worksheets/sheet1.xml", b"\0" * (30 * 1024 * 1024))
        r = await upload(api, it.campaign_id, buf.getvalue(), XLSX)
        assert r.status_code == 413 and r.json()["code"] == "archive-too-large"

    async def test_body_over_the_json_limit_is_413(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        big = b'{"rows": [' + b" " * (17 * 1024 * 1024) + b"]}"
        r = await upload(api, it.campaign_id, big, "application/json")
        assert r.status_code == 413


class TestModes:
    async def test_partial_stores_good_rows_and_reports_the_rest(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        it = await setup_intake(api)
        bad: list[object] = list(full_marks())
        bad[5] = "x"
        rows = [row("t-a1-1", full_marks()), ["t-a1-2", *bad], row("ghost", full_marks()), row("t-b1-1", full_marks())]
        r = await upload(api, it.campaign_id, csv_text(rows), mode="partial")
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["inserted"], body["rejected"], body["rows"]) == (2, 2, 4)
        assert {(e["row"], e["code"]) for e in body["errors"]} == {(2, "not-a-number"), (3, "unknown-teacher")}
        assert (await stored(db))["results"] == 2

    async def test_partial_with_no_good_row_is_422(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        it = await setup_intake(api)
        r = await upload(api, it.campaign_id, csv_text([row("ghost", full_marks())]), mode="partial")
        assert r.status_code == 422
        assert (await stored(db))["intake_batches"] == 0


class TestUpsert:
    async def test_corrected_results_update_and_identical_ones_stay(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        await upload(api, it.campaign_id, csv_text([row("t-a1-1", scores_with({"M3"})), row("t-b1-1", full_marks())]))
        first = await result_of(api, it.region.id("t-a1-1"))
        r = await upload(
            api,
            it.campaign_id,
            csv_text([row("t-a1-1", full_marks()), row("t-b1-1", full_marks()), row("t-a2-1", full_marks())]),
        )
        assert r.status_code == 200, r.text
        assert (r.json()["inserted"], r.json()["updated"], r.json()["unchanged"]) == (1, 1, 1)
        now = await result_of(api, it.region.id("t-a1-1"))
        assert (now["id"], now["version"], now["deficits"]) == (first["id"], 2, [])
        assert (await result_of(api, it.region.id("t-b1-1")))["version"] == 1


class TestIdempotency:
    async def test_key_is_required(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        r = await upload(api, it.campaign_id, csv_text([row("t-a1-1", full_marks())]), key=None)
        assert r.status_code == 400 and r.json()["code"] == "idempotency-key-required"

    async def test_same_key_same_body_replays(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        it = await setup_intake(api)
        body = csv_text([row("t-a1-1", full_marks())])
        me = service_headers()  # keys are scoped to the caller
        first = await upload(api, it.campaign_id, body, key="k-1", headers=me)
        again = await upload(api, it.campaign_id, body, key="k-1", headers=me)
        assert again.status_code == 200 and again.json() == first.json()
        assert again.headers.get("idempotent-replayed") == "true"
        assert (await stored(db))["intake_batches"] == 1

    async def test_same_key_other_body_is_422(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        me = service_headers()
        await upload(api, it.campaign_id, csv_text([row("t-a1-1", full_marks())]), key="k-2", headers=me)
        r = await upload(api, it.campaign_id, csv_text([row("t-a1-2", full_marks())]), key="k-2", headers=me)
        assert r.status_code == 422 and r.json()["code"] == "idempotency-key-reused"

    async def test_concurrent_same_key_stores_one_batch(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        it = await setup_intake(api)
        body = csv_text([row(t, full_marks()) for t in ("t-a1-1", "t-a1-2", "t-a2-1", "t-b1-1", "t-b2-1")])
        me = service_headers()
        answers = await asyncio.gather(*[upload(api, it.campaign_id, body, key="same", headers=me) for _ in range(4)])
        codes = sorted(a.status_code for a in answers)
        assert set(codes) <= {200, 409} and 200 in codes
        for a in answers:
            if a.status_code == 409:
                assert a.json()["code"] == "idempotency-in-flight"
        counts = await stored(db)
        assert (counts["intake_batches"], counts["results"], counts["result_changes"]) == (1, 5, 5)


class TestRollback:
    async def test_rejected_batch_leaves_nothing(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        it = await setup_intake(api)
        before = await stored(db)
        header = ["external_id", "full_name", "municipality", "organisation", *item_codes()]
        bad: list[object] = list(full_marks())
        bad[0] = 99
        rows = [
            ["new-1", "Новый Учитель Первый", MUN_A, ORG_A1, *full_marks()],
            ["new-2", "Новый Учитель Второй", MUN_A, ORG_A1, *bad],
        ]
        r = await upload(api, it.campaign_id, csv_text(rows, header=header))
        assert r.status_code == 422
        assert await stored(db) == before
        feed = await api.get("/api/v1/assessment/changes", headers=service_headers())
        assert feed.json()["items"] == []


class TestScopeAndState:
    async def test_methodologist_cannot_load_another_municipality(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        rows = [row("t-a1-1", full_marks()), row("t-b1-1", full_marks())]
        r = await upload(api, it.campaign_id, csv_text(rows), headers=as_methodologist(MUN_A))
        assert r.status_code == 422
        # Same answer as for an id that does not exist: existence outside the scope is not revealed.
        assert [(e["row"], e["code"]) for e in r.json()["errors"]] == [(2, "unknown-teacher")]
        r = await upload(api, it.campaign_id, csv_text([row("t-a1-1", full_marks())]), headers=as_methodologist(MUN_A))
        assert r.status_code == 200, r.text

    async def test_teacher_cannot_upload(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        r = await upload(
            api, it.campaign_id, csv_text([row("t-a1-1", full_marks())]), headers=as_teacher(it.region, "t-a1-1")
        )
        assert r.status_code == 403

    async def test_unknown_campaign_is_404(self, api: httpx.AsyncClient) -> None:
        await setup_intake(api)
        r = await upload(api, str(uuid.uuid4()), csv_text([row("t-a1-1", full_marks())]))
        assert r.status_code == 404

    async def test_other_regions_campaign_is_404(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        other = auth(Role.regional_specialist, region="r-other")
        r = await upload(api, it.campaign_id, csv_text([row("t-a1-1", full_marks())]), headers=other)
        assert r.status_code == 404

    async def test_closed_campaign_refuses_uploads(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        r = await api.patch(
            f"/api/v1/campaigns/{it.campaign_id}",
            json={"status": "closed"},
            headers={**as_regional(), "If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        r = await upload(api, it.campaign_id, csv_text([row("t-a1-1", full_marks())]))
        assert r.status_code == 409 and r.json()["code"] == "campaign-not-open"


class TestCampaigns:
    async def test_status_change_needs_if_match(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        path = f"/api/v1/campaigns/{it.campaign_id}"
        assert (await api.patch(path, json={"status": "closed"}, headers=as_regional())).status_code == 428
        assert (
            await api.patch(path, json={"status": "closed"}, headers={**as_regional(), "If-Match": '"7"'})
        ).status_code == 412
        ok = await api.patch(path, json={"status": "closed"}, headers={**as_regional(), "If-Match": '"1"'})
        assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
        bad = await api.patch(path, json={"status": "planned"}, headers={**as_regional(), "If-Match": '"2"'})
        assert bad.status_code == 409

    async def test_instrument_must_exist_and_fit_the_subject(self, api: httpx.AsyncClient) -> None:
        await setup_intake(api)
        body = {
            "name": "x",
            "source": "regional_iku",
            "subject": "history",
            "assessed_on": "2026-05-01",
            "framework_code": "default",
            "instrument": "oku-omk-mathematics",
        }
        r = await api.post("/api/v1/campaigns", json=body, headers=as_regional())
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "subject-mismatch"
        r = await api.post("/api/v1/campaigns", json={**body, "instrument": "nope"}, headers=as_regional())
        assert r.json()["errors"][0]["code"] == "unknown-instrument"
        r = await api.post("/api/v1/campaigns", json={**body, "instrument": "omk"}, headers=as_regional())
        assert r.status_code == 201

    async def test_list_newest_first_and_by_subject(self, api: httpx.AsyncClient) -> None:
        await setup_intake(api)
        await create_campaign(api, name="2025", assessed_on="2025-04-15")
        await create_campaign(api, name="ru", subject="russian", instrument="oku-omk-russian")
        page = (await api.get("/api/v1/campaigns", headers=as_teacher_free())).json()
        assert [c["assessed_on"] for c in page["items"]] == ["2026-04-15", "2026-04-15", "2025-04-15"]
        only = (await api.get("/api/v1/campaigns", params={"subject": "russian"}, headers=as_regional())).json()
        assert [c["name"] for c in only["items"]] == ["ru"]

    async def test_methodologist_cannot_create(self, api: httpx.AsyncClient) -> None:
        await setup_intake(api)
        body = {
            "name": "x",
            "source": "regional_iku",
            "subject": "mathematics",
            "assessed_on": "2026-05-01",
            "framework_code": "default",
            "instrument": "omk",
        }
        assert (await api.post("/api/v1/campaigns", json=body, headers=as_methodologist(MUN_B))).status_code == 403


def as_teacher_free() -> dict[str, str]:
    return auth(Role.teacher, region="r-test", teacher_id=str(uuid.uuid4()))


class TestFrameworks:
    async def test_storing_a_code_again_makes_a_new_version(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        assert it.framework["version"] == 1
        r = await api.post("/api/v1/frameworks", json=framework_doc_with_threshold(60), headers=as_regional())
        assert r.status_code == 201 and r.json()["version"] == 2
        assert r.headers["location"] == "/api/v1/frameworks/default/versions/2"
        latest = (await api.get("/api/v1/frameworks/default", headers=as_regional())).json()
        assert latest["version"] == 2 and latest["document"]["thresholds"]["deficit_below"] == 60
        v1 = (await api.get("/api/v1/frameworks/default/versions/1", headers=as_regional())).json()
        assert v1["document"]["thresholds"]["deficit_below"] == 50

    async def test_inconsistent_framework_is_422(self, api: httpx.AsyncClient) -> None:
        doc = framework_doc_with_threshold(50)
        doc["instruments"][0]["items"][0]["competency"] = "NOPE"
        r = await api.post("/api/v1/frameworks", json=doc, headers=as_regional())
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown-competency"

    async def test_teacher_cannot_store(self, api: httpx.AsyncClient) -> None:
        r = await api.post("/api/v1/frameworks", json=framework_doc_with_threshold(50), headers=as_teacher_free())
        assert r.status_code == 403


def framework_doc_with_threshold(deficit_below: float) -> dict:  # type: ignore[type-arg]
    from tests.assessment.intake_support import framework_doc

    doc = framework_doc()
    doc["thresholds"]["deficit_below"] = deficit_below
    return doc


class TestRescore:
    async def test_corrected_framework_version_rescores_and_announces(self, api: httpx.AsyncClient) -> None:
        it = await setup_intake(api)
        # M1 at 5 of 7 = 71 %: a growth point with the default thresholds.
        scores = full_marks()
        scores[20] = 1
        await upload(api, it.campaign_id, csv_text([row("t-a1-1", scores), row("t-b1-1", full_marks())]))
        feed = (await api.get("/api/v1/assessment/changes", headers=service_headers())).json()
        assert len(feed["items"]) == 2
        await api.post("/api/v1/frameworks", json=framework_doc_with_threshold(75), headers=as_regional())
        path = f"/api/v1/campaigns/{it.campaign_id}/rescore"
        assert (await api.post(path, json={"framework_version": 2}, headers=as_regional())).status_code == 428
        r = await api.post(path, json={"framework_version": 2}, headers={**as_regional(), "If-Match": '"1"'})
        assert r.status_code == 200, r.text
        assert (r.json()["results"], r.json()["changed"]) == (2, 2)
        assert r.json()["campaign"]["framework_version"] == 2
        res = await result_of(api, it.region.id("t-a1-1"))
        assert [d["competency"] for d in res["deficits"]] == ["M1"] and res["version"] == 2
        assert res["framework"]["version"] == 2
        more = (
            await api.get(
                "/api/v1/assessment/changes", params={"after": feed["next_cursor"]}, headers=service_headers()
            )
        ).json()
        assert {(i["external_id"], i["result_version"], i["framework_version"]) for i in more["items"]} == {
            ("t-a1-1", 2, 2),
            ("t-b1-1", 2, 2),
        }
