"""The regional methodological active (issue 15, points 1-4 and 8), through the gateway on real PostgreSQL:
candidates from an ОМК campaign's results with their criteria in Russian, inclusion of a batch by one order,
removal with a reason (If-Match), the import of existing lists (every bad row named, partial mode, a teacher
named by full name and municipality), scope, and mentors as members of the active."""

from __future__ import annotations

import io
import json
import re
import uuid
from typing import Any

import httpx
import pytest
from openpyxl import Workbook

from kit.auth import Role
from services.resources.entry_criteria import entry_criteria, passes_gate, rules_for, years_ru
from tests.assessment.intake_support import create_campaign, load_framework, upload_json
from tests.harness import auth
from tests.region import (
    MUN_A,
    MUN_B,
    ORG_A1,
    ORG_A2,
    REGION,
    Region,
    as_methodologist,
    as_regional,
    as_school,
    as_teacher,
    seed_region,
    teacher_row,
)
from tests.resources.helpers import add_mentor

URL = "/api/v1/active"
LATIN = re.compile(r"[A-Za-z]")


def with_profile(row: dict[str, Any], category: str, years: int) -> dict[str, Any]:
    return {**row, "qualification_category": category, "experience_years": years}


TEACHERS = [
    with_profile(teacher_row("t-a1-1", "Иванова Мария Петровна", MUN_A, ORG_A1), "highest", 12),
    with_profile(teacher_row("t-a1-2", "Ёлкин Пётр Сергеевич", MUN_A, ORG_A1), "first", 3),
    with_profile(teacher_row("t-a2-1", "Смирнова Анна Игоревна", MUN_A, ORG_A2), "highest", 20),
    with_profile(teacher_row("t-b1-1", "Кузнецов Иван Андреевич", MUN_B, "oo-b1"), "highest", 7),
    with_profile(teacher_row("t-b2-1", "Попова Елена Викторовна", MUN_B, "oo-b2"), "none", 1),
    # Two teachers of the same name in municipality B: a name alone cannot say which.
    with_profile(teacher_row("t-b2-2", "Орлова Ольга Олеговна", MUN_B, "oo-b2"), "first", 8),
    with_profile(teacher_row("t-b1-2", "Орлова Ольга Олеговна", MUN_B, "oo-b1"), "first", 9),
]
# Levels of the ОМК campaign: two at or above the threshold in A, one in B; the rest below.
LEVELS = {"t-a1-1": "высокий", "t-a1-2": "повышенный", "t-a2-1": "базовый", "t-b1-1": "повышенный", "t-b2-1": "низкий"}


async def omk_campaign(api: httpx.AsyncClient) -> tuple[Region, dict[str, Any]]:
    region = await seed_region(api, TEACHERS)
    await load_framework(api)
    campaign = await create_campaign(
        api, name="ОМК 2026: математика", source="fioko_methodological", instrument="omk", subject="mathematics"
    )
    rows = [{"external_id": ext, "total": 10, "level": level} for ext, level in LEVELS.items()]
    r = await upload_json(api, str(campaign["id"]), rows)
    assert r.status_code == 200, r.text
    return region, campaign


async def candidates(api: httpx.AsyncClient, campaign_id: str, **params: str) -> httpx.Response:
    return await api.post(f"{URL}/candidates", params={"campaign_id": campaign_id, **params}, headers=as_regional())


def by_teacher(items: list[dict[str, Any]], region: Region, ext: str) -> dict[str, Any]:
    return next(m for m in items if str(m["teacher_id"]) == region.id(ext))


REGIONAL = auth(Role.regional_specialist, region=REGION, sub="test-regional-active")


async def post_import(
    api: httpx.AsyncClient, body: bytes, content_type: str, mode: str | None = None, key: str | None = None
) -> httpx.Response:
    h = {**REGIONAL, "Content-Type": content_type, "Idempotency-Key": key or uuid.uuid4().hex}
    return await api.post(f"{URL}/import", content=body, headers=h, params={"mode": mode} if mode else None)


def json_rows(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps({"rows": rows}, ensure_ascii=False).encode()


class TestCandidatesFromResults:
    async def test_elevated_and_high_become_candidates_with_criteria_in_russian(self, api: httpx.AsyncClient) -> None:
        region, campaign = await omk_campaign(api)
        r = await candidates(api, str(campaign["id"]))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["participants"], body["added"], body["policy"]) == (5, 3, "threshold")
        assert {str(m["teacher_id"]) for m in body["items"]} == {region.id(x) for x in ("t-a1-1", "t-a1-2", "t-b1-1")}
        strong = by_teacher(body["items"], region, "t-a1-1")
        assert (strong["status"], strong["status_label"], strong["subjects"]) == (
            "candidate",
            "кандидат",
            ["mathematics"],
        )
        assert (strong["basis"]["kind"], strong["basis"]["level"], strong["basis"]["level_label"]) == (
            "omk",
            "high",
            "высокий",
        )
        assert [c["holds"] for c in strong["criteria"]] == [True, True, True]
        weak = by_teacher(body["items"], region, "t-a1-2")
        held = {c["code"]: c for c in weak["criteria"]}
        assert held["level"]["holds"] and not held["qualification_category"]["holds"]
        assert not held["experience"]["holds"]
        assert held["qualification_category"]["text"] == "Квалификационная категория — первая; требуется высшая"
        assert held["experience"]["text"] == "Педагогический стаж — 3 года: меньше требуемых 5 лет"
        for c in weak["criteria"] + strong["criteria"]:
            assert not LATIN.search(c["text"]), c["text"]
        history = (await api.get(f"{URL}/members/{weak['id']}/history", headers=as_regional())).json()
        assert [(h["status_from"], h["status_to"], h["status_label"]) for h in history] == [
            (None, "candidate", "кандидат")
        ]

    async def test_a_repeat_recomputes_and_everyone_policy(self, api: httpx.AsyncClient) -> None:
        _region, campaign = await omk_campaign(api)
        assert (await candidates(api, str(campaign["id"]))).json()["added"] == 3
        again = (await candidates(api, str(campaign["id"]))).json()
        assert (again["added"], again["updated"]) == (0, 3)
        everyone = (await candidates(api, str(campaign["id"]), policy="recommendations")).json()
        assert (everyone["added"], everyone["updated"], len(everyone["items"])) == (2, 3, 5)

    async def test_only_omk_campaigns_and_only_regional_roles(self, api: httpx.AsyncClient) -> None:
        region, campaign = await omk_campaign(api)
        subject = await create_campaign(api, name="ОКУ: математика")
        r = await candidates(api, str(subject["id"]))
        assert r.status_code == 422 and r.json()["code"] == "not-an-omk-campaign"
        assert (await candidates(api, str(uuid.uuid4()))).status_code == 404
        r = await api.post(
            f"{URL}/candidates", params={"campaign_id": str(campaign["id"])}, headers=as_methodologist(MUN_A)
        )
        assert r.status_code == 403 and not LATIN.search(r.json()["detail"])
        r = await api.post(
            f"{URL}/candidates", params={"campaign_id": str(campaign["id"])}, headers=as_teacher(region, "t-a1-1")
        )
        assert r.status_code == 403


class TestInclusionAndRemoval:
    async def test_a_batch_by_one_order_then_removal_with_reason(self, api: httpx.AsyncClient) -> None:
        region, campaign = await omk_campaign(api)
        items = (await candidates(api, str(campaign["id"]))).json()["items"]
        batch = [{"id": m["id"], "version": m["version"]} for m in items]
        order = {"number": "01-12/345", "date": "2026-09-01"}
        r = await api.post(f"{URL}/orders", json={"order": order, "members": batch}, headers=as_regional())
        assert r.status_code == 200, r.text
        included = r.json()["included"]
        assert {m["status"] for m in included} == {"member"}
        assert {(m["order"]["number"], m["order"]["date"], m["since"]) for m in included} == {
            ("01-12/345", "2026-09-01", "2026-09-01")
        }
        # The same members again: already members, nothing changes.
        again = [{"id": m["id"], "version": m["version"]} for m in included]
        r = await api.post(f"{URL}/orders", json={"order": order, "members": again}, headers=as_regional())
        assert r.status_code == 422 and {e["code"] for e in r.json()["errors"]} == {"already-member"}

        member = by_teacher(included, region, "t-a1-2")
        path = f"{URL}/members/{member['id']}"
        reason = {"reason": "Переход на работу в другой регион", "date": "2026-10-01"}
        assert (await api.post(f"{path}/remove", json=reason, headers=as_regional())).status_code == 428
        stale = {**as_regional(), "If-Match": f'"{member["version"] - 1}"'}
        assert (await api.post(f"{path}/remove", json=reason, headers=stale)).status_code == 412
        etag = (await api.get(path, headers=as_regional())).headers["etag"]
        no = await api.post(f"{path}/remove", json=reason, headers={**as_methodologist(MUN_A), "If-Match": etag})
        assert no.status_code == 403
        r = await api.post(f"{path}/remove", json=reason, headers={**as_regional(), "If-Match": etag})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["status_label"], r.json()["left_reason"], r.json()["since"]) == (
            "left",
            "выбыл",
            reason["reason"],
            "2026-10-01",
        )
        history = (await api.get(f"{path}/history", headers=as_regional())).json()
        assert [(h["status_to"], (h["order"] or {}).get("number"), h["reason"]) for h in history] == [
            ("candidate", None, "Отобран по результатам оценки методических компетенций"),
            ("member", "01-12/345", None),
            ("left", None, reason["reason"]),
        ]

    async def test_a_stale_member_refuses_the_whole_batch(self, api: httpx.AsyncClient) -> None:
        _region, campaign = await omk_campaign(api)
        items = (await candidates(api, str(campaign["id"]))).json()["items"]
        await candidates(api, str(campaign["id"]))  # recomputed: every version moved on
        batch = [{"id": m["id"], "version": m["version"]} for m in items]
        body = {"order": {"number": "7", "date": "2026-09-01"}, "members": batch}
        r = await api.post(f"{URL}/orders", json=body, headers=as_regional())
        assert r.status_code == 412
        listed = (await api.get(f"{URL}/members", params={"status": "member"}, headers=as_regional())).json()
        assert listed["items"] == []


class TestScope:
    async def test_municipal_sees_own_municipality_teacher_own_status(self, api: httpx.AsyncClient) -> None:
        region, campaign = await omk_campaign(api)
        items = (await candidates(api, str(campaign["id"]))).json()["items"]
        in_b = by_teacher(items, region, "t-b1-1")
        listed = (await api.get(f"{URL}/members", headers=as_methodologist(MUN_A))).json()["items"]
        assert {m["municipality"] for m in listed} == {MUN_A} and len(listed) == 2
        assert (await api.get(f"{URL}/members/{in_b['id']}", headers=as_methodologist(MUN_A))).status_code == 404
        assert (await api.get(f"{URL}/members/{in_b['id']}", headers=as_methodologist(MUN_B))).status_code == 200
        own = (await api.get(f"{URL}/members", headers=as_teacher(region, "t-a1-1"))).json()["items"]
        assert [str(m["teacher_id"]) for m in own] == [region.id("t-a1-1")]
        other = by_teacher(items, region, "t-a1-2")
        r = await api.get(f"{URL}/members/{other['id']}", headers=as_teacher(region, "t-a1-1"))
        assert r.status_code == 404
        r = await api.get(f"{URL}/members/{other['id']}/history", headers=as_school(ORG_A2, MUN_A))
        assert r.status_code == 404
        school = (await api.get(f"{URL}/members", headers=as_school(ORG_A1, MUN_A))).json()["items"]
        assert {m["organisation"] for m in school} == {ORG_A1}


class TestImport:
    async def test_every_bad_row_named_and_nothing_stored(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, TEACHERS)
        rows = [
            {
                "teacher_external_id": "t-a1-1",
                "subjects": "математика",
                "status": "член актива",
                "order_number": "12",
                "order_date": "01.09.2025",
                "basis": "ОМК",
                "basis_level": "высокий",
            },
            {"teacher_external_id": "t-nobody", "subjects": "математика", "status": "кандидат"},
            {"teacher_external_id": "t-a1-2", "subjects": "алхимия", "status": "кандидат"},
            {"teacher_external_id": "t-a2-1", "subjects": "физика", "status": "член актива"},
            {"full_name": "Орлова Ольга Олеговна", "municipality": MUN_B, "subjects": "история", "status": "кандидат"},
            {"teacher_external_id": "t-a1-1", "subjects": "физика", "status": "кандидат"},
        ]
        r = await post_import(api, json_rows(rows), "application/json")
        assert r.status_code == 422, r.text
        errors = r.json()["errors"]
        assert {(e["row"], e["code"]) for e in errors} == {
            (2, "unknown-teacher"),
            (3, "value_error"),
            (4, "value_error"),
            (5, "ambiguous-teacher"),
            (6, "duplicate-in-batch"),
        }
        for e in errors:
            assert not LATIN.search(e["message"]), e["message"]
        assert (await api.get(f"{URL}/members", headers=as_regional())).json()["items"] == []

    async def test_partial_csv_cp1251_with_russian_headers_and_name_match(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api, TEACHERS)
        csv = (
            "ФИО;Код муниципалитета;Внешний ID;Предметы;Статус;Дата включения;Основание;Номер приказа;Дата приказа\n"
            f"Кузнецов Иван Андреевич;{MUN_B};;математика;член актива;01.09.2024;эксперт ЕГЭ;77-о;30.08.2024\n"
            ";;t-a1-1;русский язык, литература;кандидат;;ОМК;;\n"
            f"Несуществующий Педагог Петрович;{MUN_A};;математика;кандидат;;;;\n"
            f"Орлова Ольга Олеговна;{MUN_B};;история;кандидат;;;;\n"
        )
        r = await post_import(api, csv.encode("cp1251"), "text/csv", mode="partial")
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["inserted"], body["rejected"]) == (2, 2)
        assert {(e["row"], e["code"]) for e in body["errors"]} == {(3, "unknown-teacher"), (4, "ambiguous-teacher")}
        listed = (await api.get(f"{URL}/members", headers=as_regional())).json()["items"]
        expert = by_teacher(listed, region, "t-b1-1")
        assert (expert["status"], expert["since"], expert["basis"]["kind"], expert["basis"]["label"]) == (
            "member",
            "2024-09-01",
            "exam_expert",
            "ведущий или старший эксперт предметной комиссии ЕГЭ или ОГЭ",
        )
        assert (expert["order"]["number"], expert["order"]["date"], expert["organisation"]) == (
            "77-о",
            "2024-08-30",
            "oo-b1",
        )
        assert by_teacher(listed, region, "t-a1-1")["subject_labels"] == ["русский язык", "литература"]

    async def test_xlsx_and_a_replay(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, TEACHERS)
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.append(["Внешний ID", "Предмет", "Статус"])
        ws.append(["t-a2-1", "Русский язык", "кандидат"])
        buf = io.BytesIO()
        wb.save(buf)
        xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        first = await post_import(api, buf.getvalue(), xlsx, key="k-active")
        assert first.status_code == 200 and first.json()["inserted"] == 1, first.text
        replay = await post_import(api, buf.getvalue(), xlsx, key="k-active")
        assert replay.json() == first.json()
        assert len((await api.get(f"{URL}/members", headers=as_regional())).json()["items"]) == 1

    async def test_only_regional_roles_import(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, TEACHERS)
        h = {**as_methodologist(MUN_A), "Content-Type": "application/json", "Idempotency-Key": "k"}
        r = await api.post(f"{URL}/import", content=json_rows([]), headers=h)
        assert r.status_code == 403


class TestMentorsAreMembers:
    async def test_a_mentor_is_a_member_and_leaves_matching_with_the_active(self, api: httpx.AsyncClient) -> None:
        m = await add_mentor(api, capacity=3)
        listed = (await api.get(f"{URL}/members", headers=as_regional())).json()["items"]
        assert len(listed) == 1
        member = listed[0]
        assert (member["mentor_id"], member["status"], member["basis"]["kind"]) == (
            m["id"],
            "member",
            "tutor_or_mentor",
        )
        assert member["teacher_id"] == m["teacher_id"]
        mentors = (await api.get("/api/v1/mentors", params={"has_free": "true"}, headers=as_regional())).json()
        assert [x["id"] for x in mentors["items"]] == [m["id"]]
        etag = (await api.get(f"{URL}/members/{member['id']}", headers=as_regional())).headers["etag"]
        r = await api.post(
            f"{URL}/members/{member['id']}/remove",
            json={"reason": "Завершил работу в активе"},
            headers={**as_regional(), "If-Match": etag},
        )
        assert r.status_code == 200, r.text
        mentor = (await api.get(f"/api/v1/mentors/{m['id']}", headers=as_regional())).json()
        assert mentor["status"] == "inactive"
        history = (await api.get(f"/api/v1/mentors/{m['id']}/history", headers=as_regional())).json()
        assert history[-1]["action"] == "left"
        # Mentoring again brings the member back into the active (by the role of mentor).
        etag = (await api.get(f"/api/v1/mentors/{m['id']}", headers=as_regional())).headers["etag"]
        r = await api.post(f"/api/v1/mentors/{m['id']}/activate", headers={**as_regional(), "If-Match": etag})
        assert r.status_code == 200, r.text
        back = (await api.get(f"{URL}/members/{member['id']}", headers=as_regional())).json()
        assert (back["status"], back["basis"]["kind"]) == ("member", "tutor_or_mentor")

    async def test_a_candidate_registered_as_mentor_becomes_a_member(self, api: httpx.AsyncClient) -> None:
        region, campaign = await omk_campaign(api)
        items = (await candidates(api, str(campaign["id"]))).json()["items"]
        cand = by_teacher(items, region, "t-a1-1")
        m = await add_mentor(api, teacher_id=region.id("t-a1-1"))
        got = (await api.get(f"{URL}/members/{cand['id']}", headers=as_regional())).json()
        assert (got["status"], got["mentor_id"]) == ("member", m["id"])
        history = (await api.get(f"{URL}/members/{cand['id']}/history", headers=as_regional())).json()
        assert [(h["status_from"], h["status_to"]) for h in history] == [(None, "candidate"), ("candidate", "member")]

    async def test_imported_mentors_are_members(self, api: httpx.AsyncClient) -> None:
        rows = [
            {
                "teacher_id": str(uuid.uuid4()),
                "municipality": MUN_A,
                "subjects": "mathematics",
                "level": 4,
                "mode": "online",
                "capacity": 2,
            },
        ]
        h = {**as_regional(), "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        r = await api.post("/api/v1/mentors/import", content=json_rows(rows), headers=h)
        assert r.status_code == 200, r.text
        listed = (await api.get(f"{URL}/members", headers=as_regional())).json()["items"]
        assert [(str(m["teacher_id"]), m["status"]) for m in listed] == [(rows[0]["teacher_id"], "member")]
        assert listed[0]["mentor_id"] is not None


@pytest.mark.no_db
class TestEntryRule:
    def test_threshold_and_years(self) -> None:
        rules = rules_for()
        assert [passes_gate(x, rules) for x in ("low", "basic", "elevated", "high")] == [False, False, True, True]
        assert all(passes_gate(x, rules_for("recommendations")) for x in ("low", "basic"))
        assert [years_ru(n) for n in (1, 2, 5, 11, 21, 22)] == [
            "1 год",
            "2 года",
            "5 лет",
            "11 лет",
            "21 год",
            "22 года",
        ]
        got = entry_criteria("elevated", None, None, rules)
        assert [c.holds for c in got] == [True, False, False]
        assert got[1].text == "Квалификационная категория не известна; требуется высшая"
