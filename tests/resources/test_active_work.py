"""Expert work and training of the methodological active (issue 15, points 6-8), through the gateway on real
PostgreSQL: assignments to duties with period and load, never the member's own school, counts per member,
subject and duty; enrolments of members and candidates in the map's courses with their completion; scope; and
the import that would make an active mentor a candidate again (refused)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from services.resources.expert_work import assignment_problems
from tests.region import (
    MUN_A,
    MUN_B,
    ORG_A1,
    Region,
    as_methodologist,
    as_regional,
    as_school,
    as_teacher,
    seed_region,
)
from tests.resources.helpers import add_mentor, resource
from tests.resources.test_active import TEACHERS, by_teacher, json_rows, post_import

URL = "/api/v1/active"
LATIN = re.compile(r"[A-Za-z]")
MEMBERS = [
    {
        "teacher_external_id": "t-a1-1",
        "subjects": "математика",
        "status": "член актива",
        "order_number": "12",
        "order_date": "01.09.2025",
    },
    {
        "teacher_external_id": "t-b1-1",
        "subjects": "физика",
        "status": "член актива",
        "order_number": "12",
        "order_date": "01.09.2025",
    },
    {"teacher_external_id": "t-a1-2", "subjects": "математика", "status": "кандидат"},
]


async def active_region(api: httpx.AsyncClient) -> tuple[Region, list[dict[str, Any]]]:
    region = await seed_region(api, TEACHERS)
    r = await post_import(api, json_rows(MEMBERS), "application/json")
    assert r.status_code == 200, r.text
    listed = (await api.get(f"{URL}/members", headers=as_regional())).json()["items"]
    return region, listed


def duty(member: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = {
        "member_id": member["id"],
        "duty": "extended_answers",
        "subject": "mathematics",
        "starts_on": "2026-05-20",
        "ends_on": "2026-06-10",
        "load": 120,
        "schools": ["oo-b1", "oo-b2"],
    }
    return {**body, **over}


class TestExpertWork:
    async def test_own_school_and_other_refusals_in_russian(self, api: httpx.AsyncClient) -> None:
        region, listed = await active_region(api)
        member = by_teacher(listed, region, "t-a1-1")
        r = await api.post(f"{URL}/duties", json=duty(member, schools=["oo-b1", ORG_A1]), headers=as_regional())
        assert r.status_code == 422, r.text
        assert [(e["code"], e["loc"]) for e in r.json()["errors"]] == [("own-school", ["body", "schools"])]
        assert (
            r.json()["errors"][0]["message"]
            == "Член актива не может проверять работы своей образовательной организации"
        )
        r = await api.post(
            f"{URL}/duties", json=duty(member, load=501, schools=[], ends_on="2026-05-01"), headers=as_regional()
        )
        assert [e["code"] for e in r.json()["errors"]] == ["period-reversed", "load-too-high", "schools-required"]
        candidate = by_teacher(listed, region, "t-a1-2")
        r = await api.post(f"{URL}/duties", json=duty(candidate), headers=as_regional())
        assert [e["code"] for e in r.json()["errors"]] == ["not-a-member"]
        for e in r.json()["errors"]:
            assert not LATIN.search(e["message"]), e["message"]
        assert not LATIN.search(r.json()["detail"])
        r = await api.post(f"{URL}/duties", json=duty({"id": str(uuid.uuid4())}), headers=as_regional())
        assert r.status_code == 404
        # Only the regional centre assigns.
        r = await api.post(f"{URL}/duties", json=duty(member), headers=as_methodologist(MUN_A))
        assert r.status_code == 403
        assert (await api.get(f"{URL}/duties", headers=as_regional())).json()["items"] == []

    async def test_assignments_counted_per_member_subject_and_duty_in_scope(self, api: httpx.AsyncClient) -> None:
        region, listed = await active_region(api)
        a, b = by_teacher(listed, region, "t-a1-1"), by_teacher(listed, region, "t-b1-1")
        bodies = [
            duty(a),
            duty(a, duty="regional_practices", load=10, schools=[], starts_on="2026-09-01", ends_on="2026-10-01"),
            duty(b, duty="contest_works", subject="physics", load=30, schools=[ORG_A1]),
            duty(a, load=40, starts_on="2025-03-01", ends_on="2025-03-20"),
        ]
        made = []
        for body in bodies:
            r = await api.post(f"{URL}/duties", json=body, headers=as_regional())
            assert r.status_code == 201, r.text
            made.append(r.json())
        first = made[0]
        assert (first["duty_label"], first["subject_label"], first["unit"], first["schools"]) == (
            "проверка развёрнутых ответов участников оценки",
            "математика",
            "работ",
            ["oo-b1", "oo-b2"],
        )
        counts = (await api.get(f"{URL}/duties/counts", params={"year": 2026}, headers=as_regional())).json()
        got = {(str(i["teacher_id"]), i["subject"], i["duty"]): (i["assignments"], i["load"]) for i in counts["items"]}
        assert got == {
            (region.id("t-a1-1"), "mathematics", "extended_answers"): (1, 120),
            (region.id("t-a1-1"), "mathematics", "regional_practices"): (1, 10),
            (region.id("t-b1-1"), "physics", "contest_works"): (1, 30),
        }
        by_member = {str(m["teacher_id"]): (m["assignments"], m["load"]) for m in counts["by_member"]}
        assert by_member == {region.id("t-a1-1"): (2, 130), region.id("t-b1-1"): (1, 30)}
        assert {(s["label"], s["assignments"], s["load"]) for s in counts["by_subject"]} == {
            ("математика", 2, 130),
            ("физика", 1, 30),
        }
        assert {d["label"] for d in counts["by_duty"]} == {
            "проверка развёрнутых ответов участников оценки",
            "отбор эффективных региональных практик",
            "экспертиза конкурсных работ",
        }
        every = (await api.get(f"{URL}/duties/counts", headers=as_regional())).json()
        assert sum(m["load"] for m in every["by_member"]) == 200
        # Scope: a municipality its members, a teacher their own, a school its own.
        in_b = (await api.get(f"{URL}/duties", headers=as_methodologist(MUN_B))).json()["items"]
        assert [str(x["teacher_id"]) for x in in_b] == [region.id("t-b1-1")]
        r = await api.get(f"{URL}/duties/{first['id']}", headers=as_methodologist(MUN_B))
        assert r.status_code == 404
        assert (await api.get(f"{URL}/duties/{first['id']}", headers=as_methodologist(MUN_A))).status_code == 200
        own = (await api.get(f"{URL}/duties", headers=as_teacher(region, "t-a1-1"))).json()["items"]
        assert len(own) == 3 and {str(x["teacher_id"]) for x in own} == {region.id("t-a1-1")}
        r = await api.get(f"{URL}/duties/{first['id']}", headers=as_teacher(region, "t-a1-2"))
        assert r.status_code == 404
        school = (await api.get(f"{URL}/duties/counts", headers=as_school("oo-b1", MUN_B))).json()
        assert [m["load"] for m in school["by_member"]] == [30]
        page = (await api.get(f"{URL}/duties", params={"limit": 2}, headers=as_regional())).json()
        rest = (await api.get(f"{URL}/duties", params={"cursor": page["next_cursor"]}, headers=as_regional())).json()
        assert len({x["id"] for x in page["items"] + rest["items"]}) == 4


class TestTraining:
    async def test_enrolment_completion_and_scope(self, api: httpx.AsyncClient) -> None:
        region, listed = await active_region(api)
        member, candidate = by_teacher(listed, region, "t-a1-1"), by_teacher(listed, region, "t-a1-2")
        course = (await api.post("/api/v1/resources", json=resource(), headers=as_regional())).json()
        event = (
            await api.post("/api/v1/resources", json=resource(kind="project", hours=None), headers=as_regional())
        ).json()
        body = {"member_id": member["id"], "resource_id": course["id"], "enrolled_on": "2026-09-15"}
        r = await api.post(f"{URL}/enrolments", json=body, headers=as_regional())
        assert r.status_code == 201, r.text
        enrolment = r.json()
        assert (enrolment["status"], enrolment["status_label"], enrolment["resource_title"]) == (
            "enrolled",
            "зачислен",
            course["title"],
        )
        assert (enrolment["member_status"], enrolment["member_status_label"]) == ("member", "член актива")
        again = await api.post(f"{URL}/enrolments", json=body, headers=as_regional())
        assert again.status_code == 409 and not LATIN.search(again.json()["detail"])
        r = await api.post(
            f"{URL}/enrolments",
            json={"member_id": candidate["id"], "resource_id": course["id"], "enrolled_on": "2026-10-01"},
            headers=as_regional(),
        )
        assert r.status_code == 201 and r.json()["member_status_label"] == "кандидат", r.text
        for rid, code in ((event["id"], "not-a-course"), (str(uuid.uuid4()), "resource-not-found")):
            r = await api.post(
                f"{URL}/enrolments", json={"member_id": member["id"], "resource_id": rid}, headers=as_regional()
            )
            assert r.status_code == 422 and [e["code"] for e in r.json()["errors"]] == [code], r.text
            assert not LATIN.search(r.json()["errors"][0]["message"])
        r = await api.post(
            f"{URL}/enrolments",
            json={"member_id": member["id"], "resource_id": course["id"]},
            headers=as_methodologist(MUN_A),
        )
        assert r.status_code == 403

        path = f"{URL}/enrolments/{enrolment['id']}"
        done = {"completed_on": "2026-12-01"}
        assert (await api.post(f"{path}/complete", json=done, headers=as_regional())).status_code == 428
        etag = (await api.get(path, headers=as_regional())).headers["etag"]
        r = await api.post(f"{path}/complete", json=done, headers={**as_regional(), "If-Match": etag})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["status_label"], r.json()["completed_on"]) == (
            "completed",
            "завершил обучение",
            "2026-12-01",
        )
        r = await api.post(f"{path}/complete", json=done, headers={**as_regional(), "If-Match": r.headers["etag"]})
        assert r.status_code == 409

        own = (await api.get(f"{URL}/enrolments", headers=as_teacher(region, "t-a1-2"))).json()["items"]
        assert [str(e["teacher_id"]) for e in own] == [region.id("t-a1-2")]
        assert (await api.get(path, headers=as_teacher(region, "t-a1-2"))).status_code == 404
        assert (await api.get(path, headers=as_methodologist(MUN_B))).status_code == 404
        completed = (await api.get(f"{URL}/enrolments", params={"status": "completed"}, headers=as_regional())).json()
        assert [e["id"] for e in completed["items"]] == [enrolment["id"]]

        summary = (await api.get(f"{URL}/summary", params={"year": 2026}, headers=as_regional())).json()
        assert (summary["training"]["enrolled"], summary["training"]["completed"]) == (2, 1)
        by_status = {s["status"]: (s["label"], s["enrolled"], s["completed"]) for s in summary["training"]["by_status"]}
        assert by_status["member"] == ("член актива", 1, 1) and by_status["candidate"] == ("кандидат", 1, 0)


class TestImportOfAnActiveMentor:
    async def test_a_mentor_cannot_be_imported_back_as_a_candidate(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api, TEACHERS)
        m = await add_mentor(api, teacher_id=region.id("t-a1-1"))
        rows = [
            {"teacher_external_id": "t-a1-1", "subjects": "математика", "status": "кандидат"},
            {"teacher_external_id": "t-a1-2", "subjects": "математика", "status": "кандидат"},
        ]
        r = await post_import(api, json_rows(rows), "application/json")
        assert r.status_code == 422, r.text
        assert [(e["row"], e["code"]) for e in r.json()["errors"]] == [(1, "active-mentor")]
        assert r.json()["errors"][0]["message"] == (
            "Педагог — действующий наставник и член актива: кандидатом его не сделать, "
            "сначала завершите наставничество или исключите из актива"
        )
        mentor = (await api.get(f"/api/v1/mentors/{m['id']}", headers=as_regional())).json()
        assert mentor["status"] == "active"
        listed = (await api.get(f"{URL}/members", headers=as_regional())).json()["items"]
        assert [(str(x["teacher_id"]), x["status"]) for x in listed] == [(region.id("t-a1-1"), "member")]
        # Listed as a member (or as having left) the mentor's row is taken as before.
        rows[0] |= {"status": "член актива", "order_number": "12", "order_date": "01.09.2025"}
        r = await post_import(api, json_rows(rows), "application/json")
        assert r.status_code == 200 and r.json()["inserted"] == 1, r.text


@pytest.mark.no_db
class TestExpertRules:
    def test_every_problem_in_reading_order(self) -> None:
        import datetime as dt

        got = assignment_problems(
            status="candidate",
            member_school="oo-1",
            duty="contest_works",
            load=201,
            schools=["oo-1"],
            starts_on=dt.date(2026, 2, 1),
            ends_on=dt.date(2026, 1, 1),
        )
        assert [p[1] for p in got] == ["not-a-member", "period-reversed", "load-too-high", "own-school"]
        ok = assignment_problems(
            status="member",
            member_school=None,
            duty="regional_practices",
            load=100,
            schools=[],
            starts_on=dt.date(2026, 1, 1),
            ends_on=dt.date(2026, 1, 1),
        )
        assert ok == []
