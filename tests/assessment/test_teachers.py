"""The teacher registry through the gateway, against real PostgreSQL."""

from __future__ import annotations

import httpx

from kit.auth import Role
from tests.harness import auth
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
    as_teacher,
    seed_region,
    service_headers,
    teacher_row,
)


class TestCreateTeacher:
    async def test_methodologist_registers_teacher_in_own_municipality(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [])
        body = teacher_row("new-1", "Сидорова Ольга Ивановна", MUN_A, ORG_A2)
        r = await api.post("/api/v1/teachers", json=body, headers=as_methodologist(MUN_A))
        assert r.status_code == 201, r.text
        got = r.json()
        assert got["full_name"] == "Сидорова Ольга Ивановна"
        assert got["region"] == REGION and got["version"] == 1
        assert r.headers["etag"] == '"1"'
        assert r.headers["location"] == f"/api/v1/teachers/{got['id']}"

    async def test_methodologist_cannot_register_in_other_municipality(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [])
        body = teacher_row("new-2", "Сидорова Ольга Ивановна", MUN_B, ORG_B1)
        r = await api.post("/api/v1/teachers", json=body, headers=as_methodologist(MUN_A))
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"

    async def test_teacher_role_cannot_register(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        body = teacher_row("new-3", "Сидорова Ольга Ивановна", MUN_A, ORG_A1)
        r = await api.post("/api/v1/teachers", json=body, headers=as_teacher(region, "t-a1-1"))
        assert r.status_code == 403

    async def test_extra_fields_are_rejected(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [])
        body = {**teacher_row("new-4", "Сидорова Ольга Ивановна", MUN_A, ORG_A1), "id": "x", "version": 7}
        r = await api.post("/api/v1/teachers", json=body, headers=as_regional())
        assert r.status_code == 422
        problem = r.json()
        assert {tuple(e["loc"])[-1] for e in problem["errors"]} == {"id", "version"}
        assert all(e["code"] == "extra_forbidden" for e in problem["errors"])

    async def test_validation_error_does_not_echo_values(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [])
        body = {**teacher_row("new-5", "Сидорова Ольга Ивановна", MUN_A, ORG_A1), "experience_years": "СЕКРЕТ"}
        r = await api.post("/api/v1/teachers", json=body, headers=as_regional())
        assert r.status_code == 422
        assert "СЕКРЕТ" not in r.text
        assert r.json()["request_id"] == r.headers["x-request-id"]

    async def test_organisation_must_belong_to_municipality(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [])
        body = teacher_row("new-6", "Сидорова Ольга Ивановна", MUN_A, ORG_B1)
        r = await api.post("/api/v1/teachers", json=body, headers=as_regional())
        assert r.status_code == 422
        assert r.json()["errors"][0]["code"] == "unknown-organisation"

    async def test_duplicate_external_id_is_a_conflict(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        r = await api.post(
            "/api/v1/teachers", json=teacher_row("t-a1-1", "Другая Анна", MUN_A, ORG_A1), headers=as_regional()
        )
        assert r.status_code == 409


class TestReadScope:
    async def test_methodologist_cannot_read_teacher_of_other_municipality_by_id(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        r = await api.get(f"/api/v1/teachers/{region.id('t-b1-1')}", headers=as_methodologist(MUN_A))
        assert r.status_code == 404

    async def test_methodologist_list_shows_only_own_municipality(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        r = await api.get("/api/v1/teachers", headers=as_methodologist(MUN_A))
        assert r.status_code == 200
        assert {t["external_id"] for t in r.json()["items"]} == {"t-a1-1", "t-a1-2", "t-a2-1"}

    async def test_methodologist_filtering_other_municipality_gets_nothing(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        r = await api.get("/api/v1/teachers", params={"municipality": MUN_B}, headers=as_methodologist(MUN_A))
        assert r.json()["items"] == []

    async def test_school_admin_sees_only_own_school(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        r = await api.get("/api/v1/teachers", headers=as_school(ORG_A1, MUN_A))
        assert {t["external_id"] for t in r.json()["items"]} == {"t-a1-1", "t-a1-2"}
        r = await api.get(f"/api/v1/teachers/{region.id('t-a2-1')}", headers=as_school(ORG_A1, MUN_A))
        assert r.status_code == 404

    async def test_teacher_reads_only_themself(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        me = as_teacher(region, "t-a1-1")
        assert (await api.get(f"/api/v1/teachers/{region.id('t-a1-1')}", headers=me)).status_code == 200
        assert (await api.get(f"/api/v1/teachers/{region.id('t-a1-2')}", headers=me)).status_code == 404
        listed = (await api.get("/api/v1/teachers", headers=me)).json()["items"]
        assert [t["external_id"] for t in listed] == ["t-a1-1"]

    async def test_other_region_sees_nothing(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        other = auth(Role.regional_specialist, region="r-other")
        assert (await api.get(f"/api/v1/teachers/{region.id('t-a1-1')}", headers=other)).status_code == 404
        assert (await api.get("/api/v1/teachers", headers=other)).json()["items"] == []

    async def test_lookup_by_external_id_is_scoped(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        r = await api.get("/api/v1/teachers/by-external-id/t-b1-1", headers=as_methodologist(MUN_A))
        assert r.status_code == 404


class TestListTeachers:
    async def test_name_search_is_case_insensitive_for_cyrillic(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        r = await api.get("/api/v1/teachers", params={"q": "ИВАНОВА"}, headers=as_regional())
        assert [t["external_id"] for t in r.json()["items"]] == ["t-a1-1"]

    async def test_name_search_treats_yo_as_ye(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        r = await api.get("/api/v1/teachers", params={"q": "елкин петр"}, headers=as_regional())
        assert [t["external_id"] for t in r.json()["items"]] == ["t-a1-2"]

    async def test_filters_by_subject_and_organisation(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        r = await api.get("/api/v1/teachers", params={"subject": "mathematics"}, headers=as_regional())
        assert {t["external_id"] for t in r.json()["items"]} == {"t-a1-1", "t-b1-1"}
        r = await api.get("/api/v1/teachers", params={"organisation": ORG_A2}, headers=as_regional())
        assert [t["external_id"] for t in r.json()["items"]] == ["t-a2-1"]

    async def test_keyset_pages_cover_everyone_once_in_name_order(self, api: httpx.AsyncClient) -> None:
        rows = [teacher_row(f"p-{i:02d}", f"Учитель Номер{i:02d} Тестович", MUN_A, ORG_A1) for i in range(23)]
        await seed_region(api, rows)
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
            page = (await api.get("/api/v1/teachers", params=params, headers=as_regional())).json()
            seen += [t["external_id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [f"p-{i:02d}" for i in range(23)]

    async def test_forged_cursor_is_422(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/teachers", params={"cursor": "not-a-cursor"}, headers=as_regional())
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"

    async def test_limit_above_500_is_rejected(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/teachers", params={"limit": 501}, headers=as_regional())
        assert r.status_code == 422


class TestUpdateTeacher:
    async def test_update_bumps_version_and_etag(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        tid = region.id("t-a1-1")
        r = await api.patch(
            f"/api/v1/teachers/{tid}",
            json={"experience_years": 11},
            headers={**as_school(ORG_A1, MUN_A), "If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        assert r.json()["experience_years"] == 11 and r.headers["etag"] == '"2"'

    async def test_stale_if_match_is_412(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        tid = region.id("t-a1-1")
        h = {**as_regional(), "If-Match": '"1"'}
        assert (await api.patch(f"/api/v1/teachers/{tid}", json={"experience_years": 11}, headers=h)).status_code == 200
        r = await api.patch(f"/api/v1/teachers/{tid}", json={"experience_years": 12}, headers=h)
        assert r.status_code == 412

    async def test_school_admin_cannot_move_teacher_to_other_school(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        r = await api.patch(
            f"/api/v1/teachers/{region.id('t-a1-1')}",
            json={"organisation": ORG_A2},
            headers={**as_school(ORG_A1, MUN_A), "If-Match": '"1"'},
        )
        assert r.status_code == 403

    async def test_out_of_scope_update_is_404_and_changes_nothing(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        tid = region.id("t-b1-1")
        r = await api.patch(f"/api/v1/teachers/{tid}", json={"position": "директор"}, headers=as_methodologist(MUN_A))
        assert r.status_code == 404
        again = (await api.get(f"/api/v1/teachers/{tid}", headers=as_regional())).json()
        assert again["position"] == "учитель" and again["version"] == 1


class TestBulkUpsert:
    async def test_second_upload_updates_changed_rows_only(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [])
        rows = [teacher_row(f"b-{i}", f"Учитель {i} Тестович", MUN_A, ORG_A1) for i in range(3)]
        r = await api.post("/api/v1/teachers/bulk", json={"teachers": rows}, headers=service_headers())
        assert r.json() == {"inserted": 3, "updated": 0, "unchanged": 0, "rejected": 0}
        rows[0]["position"] = "завуч"
        rows.append(teacher_row("b-9", "Новый Учитель Тестович", MUN_A, ORG_A1))
        r = await api.post("/api/v1/teachers/bulk", json={"teachers": rows}, headers=service_headers())
        assert r.json() == {"inserted": 1, "updated": 1, "unchanged": 2, "rejected": 0}

    async def test_bad_rows_are_all_named_and_nothing_is_stored(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [])
        rows = [
            teacher_row("ok-1", "Хороший Учитель Тестович", MUN_A, ORG_A1),
            teacher_row("bad-org", "Плохой Учитель Тестович", MUN_A, "oo-none"),
            teacher_row("ok-1", "Повтор Учитель Тестович", MUN_A, ORG_A1),
        ]
        r = await api.post("/api/v1/teachers/bulk", json={"teachers": rows}, headers=service_headers())
        assert r.status_code == 422
        errors = r.json()["errors"]
        assert {(e["row"], e["code"]) for e in errors} == {(2, "unknown-organisation"), (3, "duplicate-in-batch")}
        listed = (await api.get("/api/v1/teachers", headers=as_regional())).json()["items"]
        assert listed == []

    async def test_methodologist_bulk_outside_municipality_is_refused(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [])
        rows = [teacher_row("x-1", "Учитель Чужой Тестович", MUN_B, ORG_B1)]
        r = await api.post("/api/v1/teachers/bulk", json={"teachers": rows}, headers=as_methodologist(MUN_A))
        # The same row error as a teacher registered outside the caller's scope (no existence oracle).
        assert r.status_code == 422, r.text
        assert [(e["row"], e["code"]) for e in r.json()["errors"]] == [(1, "teacher-out-of-scope")]

    async def test_a_teacher_of_another_municipality_cannot_be_claimed(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [teacher_row("t-b", "Учитель Соседний Тестович", MUN_B, ORG_B1)])
        claim = [teacher_row("t-b", "Учитель Соседний Тестович", MUN_A, ORG_A1)]
        r = await api.post("/api/v1/teachers/bulk", json={"teachers": claim}, headers=as_methodologist(MUN_A))
        assert r.status_code == 422, r.text
        [error] = r.json()["errors"]
        assert (error["row"], error["column"], error["code"]) == (1, "external_id", "teacher-out-of-scope")
        [still] = (await api.get("/api/v1/teachers", headers=as_regional())).json()["items"]
        assert (still["municipality"], still["organisation"]) == (MUN_B, ORG_B1)

    async def test_another_region_cannot_claim_a_teacher(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [teacher_row("t-a", "Учитель Свой Тестович", MUN_A, ORG_A1)])
        other = auth(Role.service, region="r-other")
        r = await api.put(
            "/api/v1/municipalities", json=[{"code": "mo-o", "name": "Чужой", "region": "r-other"}], headers=other
        )
        assert r.status_code == 200
        r = await api.put(
            "/api/v1/organisations", json=[{"code": "oo-o", "name": "Чужая", "municipality": "mo-o"}], headers=other
        )
        assert r.status_code == 200
        claim = [teacher_row("t-a", "Учитель Свой Тестович", "mo-o", "oo-o")]
        r = await api.post("/api/v1/teachers/bulk", json={"teachers": claim}, headers=other)
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "teacher-out-of-scope", r.text
        [still] = (await api.get("/api/v1/teachers", headers=as_regional())).json()["items"]
        assert still["municipality"] == MUN_A

    async def test_the_region_moves_a_teacher_between_municipalities(self, api: httpx.AsyncClient) -> None:
        await seed_region(api, [teacher_row("t-m", "Учитель Переезжающий Тестович", MUN_A, ORG_A1)])
        move = [teacher_row("t-m", "Учитель Переезжающий Тестович", MUN_B, ORG_B1)]
        r = await api.post("/api/v1/teachers/bulk", json={"teachers": move}, headers=as_regional())
        assert r.status_code == 200 and r.json()["updated"] == 1, r.text
        [moved] = (await api.get("/api/v1/teachers", headers=as_regional())).json()["items"]
        assert (moved["municipality"], moved["organisation"]) == (MUN_B, ORG_B1)
