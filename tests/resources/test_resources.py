"""The catalogue through the gateway: create, scope, update, archive, list, search."""

from __future__ import annotations

import asyncpg
import httpx

from kit.auth import Role
from tests.harness import auth
from tests.region import as_methodologist, as_school
from tests.resources.helpers import (
    MUN_A,
    MUN_B,
    a_route,
    add_resource,
    as_regional,
    new_id,
    resource,
    teacher_headers,
)

URL = "/api/v1/resources"


class TestCreateResource:
    async def test_regional_specialist_adds_course(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, json=resource(federal_registry=True, capacity=30), headers=as_regional())
        assert r.status_code == 201, r.text
        got = r.json()
        assert got["owner_scope"] == "region" and got["free"] == 30 and got["reserved"] == 0
        assert r.headers["etag"] == '"1"' and r.headers["location"] == f"{URL}/{got['id']}"

    async def test_methodologist_adds_local_resource_of_own_municipality(self, api: httpx.AsyncClient) -> None:
        r = await api.post(
            URL,
            json=resource(kind="methodological_association", learning_type="non_formal", mode="in_person"),
            headers=as_methodologist(MUN_A),
        )
        assert r.status_code == 201, r.text
        assert r.json()["owner_scope"] == "municipality"
        assert r.json()["owner_municipality"] == MUN_A and r.json()["municipalities"] == [MUN_A]

    async def test_methodologist_cannot_add_for_other_municipality(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, json=resource(municipalities=[MUN_B]), headers=as_methodologist(MUN_A))
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"

    async def test_teacher_offers_own_peer_resource(self, api: httpx.AsyncClient) -> None:
        me = new_id()
        body = resource(
            kind="peer_resource",
            title="Мой опыт: проектные задачи",
            learning_type="informal",
            mode="in_person",
            capacity=5,
        )
        r = await api.post(URL, json=body, headers=teacher_headers(me))
        assert r.status_code == 201, r.text
        assert r.json()["owner_scope"] == "teacher" and r.json()["owner_teacher_id"] == me
        assert r.json()["municipalities"] == [MUN_A]

    async def test_teacher_cannot_add_a_course(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, json=resource(), headers=teacher_headers())
        assert r.status_code == 403

    async def test_teacher_cannot_offer_in_someone_elses_name(self, api: httpx.AsyncClient) -> None:
        body = resource(kind="peer_resource", learning_type="informal", owner_teacher_id=new_id())
        r = await api.post(URL, json=body, headers=teacher_headers())
        assert r.status_code == 403

    async def test_school_admin_cannot_add(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, json=resource(), headers=as_school("oo-a1", MUN_A))
        assert r.status_code == 403

    async def test_clients_cannot_set_server_fields(self, api: httpx.AsyncClient) -> None:
        body = {**resource(), "id": new_id(), "reserved": 3, "owner_scope": "region", "version": 9}
        r = await api.post(URL, json=body, headers=as_regional())
        assert r.status_code == 422
        assert {e["loc"][-1] for e in r.json()["errors"]} == {"id", "reserved", "owner_scope", "version"}

    async def test_event_format_only_for_events(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, json=resource(event_format="webinar"), headers=as_regional())
        assert r.status_code == 422
        ok = await api.post(
            URL, json=resource(kind="event", event_format="webinar", learning_type="non_formal"), headers=as_regional()
        )
        assert ok.status_code == 201

    async def test_dates_must_be_ordered(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, json=resource(starts_on="2026-10-01", ends_on="2026-09-01"), headers=as_regional())
        assert r.status_code == 422

    async def test_duplicate_external_id_is_a_conflict(self, api: httpx.AsyncClient) -> None:
        await add_resource(api, external_id="c-1")
        r = await api.post(URL, json=resource(external_id="c-1"), headers=as_regional())
        assert r.status_code == 409


class TestEditScope:
    async def test_methodologist_cannot_edit_regional_resource(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api)
        r = await api.patch(f"{URL}/{res['id']}", json={"hours": 36}, headers=as_methodologist(MUN_A))
        assert r.status_code == 403

    async def test_methodologist_edits_own_local_resource(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api, headers=as_methodologist(MUN_A), mode="in_person")
        r = await api.patch(
            f"{URL}/{res['id']}", json={"hours": 36}, headers={**as_methodologist(MUN_A), "If-Match": '"1"'}
        )
        assert r.status_code == 200 and r.json()["hours"] == 36 and r.json()["version"] == 2
        other = await api.patch(f"{URL}/{res['id']}", json={"hours": 12}, headers=as_methodologist(MUN_B))
        assert other.status_code == 403
        emptied = await api.patch(
            f"{URL}/{res['id']}", json={"municipalities": []}, headers={**as_methodologist(MUN_A), "If-Match": '"2"'}
        )
        assert emptied.json()["municipalities"] == [MUN_A]

    async def test_teacher_edits_only_own_peer_resource(self, api: httpx.AsyncClient) -> None:
        me = new_id()
        res = await add_resource(api, headers=teacher_headers(me), kind="peer_resource", learning_type="informal")
        assert (
            await api.patch(
                f"{URL}/{res['id']}", json={"capacity": 3}, headers={**teacher_headers(me), "If-Match": '"1"'}
            )
        ).status_code == 200
        assert (
            await api.patch(f"{URL}/{res['id']}", json={"capacity": 4}, headers=teacher_headers())
        ).status_code == 403

    async def test_other_region_gets_404(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api)
        other = auth(Role.regional_specialist, region="r-other")
        assert (await api.get(f"{URL}/{res['id']}", headers=other)).status_code == 404
        assert (await api.patch(f"{URL}/{res['id']}", json={"hours": 1}, headers=other)).status_code == 404

    async def test_stale_if_match_is_412(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api)
        r = await api.patch(f"{URL}/{res['id']}", json={"hours": 10}, headers={**as_regional(), "If-Match": '"7"'})
        assert r.status_code == 412

    async def test_capacity_cannot_fall_below_reserved(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        res = await add_resource(api, capacity=2)
        body = {**(await a_route(db)), "resource_id": res["id"]}
        assert (await api.post("/api/v1/reservations", json=body, headers=as_regional())).status_code == 201
        body = {**(await a_route(db)), "resource_id": res["id"]}
        assert (await api.post("/api/v1/reservations", json=body, headers=as_regional())).status_code == 201
        got = await api.get(f"{URL}/{res['id']}", headers=as_regional())
        r = await api.patch(
            f"{URL}/{res['id']}", json={"capacity": 1}, headers={**as_regional(), "If-Match": got.headers["etag"]}
        )
        assert r.status_code == 409 and r.json()["code"] == "capacity-below-reserved"

    async def test_capacity_can_become_unlimited(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api, capacity=2)
        r = await api.patch(f"{URL}/{res['id']}", json={"capacity": None}, headers={**as_regional(), "If-Match": '"1"'})
        assert r.status_code == 200 and r.json()["capacity"] is None and r.json()["free"] is None


class TestArchive:
    async def test_archive_needs_if_match(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api)
        r = await api.post(f"{URL}/{res['id']}/archive", headers=as_regional())
        assert r.status_code == 428

    async def test_archived_leaves_list_and_matching_and_comes_back(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api)
        r = await api.post(f"{URL}/{res['id']}/archive", headers={**as_regional(), "If-Match": '"1"'})
        assert r.status_code == 200 and r.json()["status"] == "archived"
        assert (await api.get(URL, headers=as_regional())).json()["items"] == []
        archived = await api.get(URL, params={"status": "archived"}, headers=as_regional())
        assert [x["id"] for x in archived.json()["items"]] == [res["id"]]
        m = await api.post(
            "/api/v1/matching",
            json={"deficits": ["M3"], "subject": "mathematics", "group": 2, "municipality": MUN_A},
            headers=as_regional(),
        )
        assert m.json()["deficits"][0]["gap"] is True
        back = await api.post(f"{URL}/{res['id']}/restore", headers={**as_regional(), "If-Match": r.headers["etag"]})
        assert back.status_code == 200 and back.json()["status"] == "active"

    async def test_stale_archive_is_412(self, api: httpx.AsyncClient) -> None:
        res = await add_resource(api)
        h = {**as_regional(), "If-Match": '"1"'}
        assert (await api.patch(f"{URL}/{res['id']}", json={"hours": 10}, headers=h)).status_code == 200
        r = await api.post(f"{URL}/{res['id']}/archive", headers=h)
        assert r.status_code == 412


class TestListResources:
    async def test_filters_by_kind_subject_and_availability(self, api: httpx.AsyncClient) -> None:
        await add_resource(api, title="Онлайн курс", mode="online", municipalities=[MUN_B])
        await add_resource(
            api,
            title="Очный семинар в Б",
            kind="event",
            event_format="seminar",
            learning_type="non_formal",
            mode="in_person",
            municipalities=[MUN_B],
        )
        await add_resource(
            api,
            title="Региональная стажировка",
            kind="internship",
            learning_type="non_formal",
            mode="in_person",
            subjects=["physics"],
        )
        h = as_regional()
        in_a = await api.get(URL, params={"municipality": MUN_A}, headers=h)
        assert {x["title"] for x in in_a.json()["items"]} == {"Онлайн курс", "Региональная стажировка"}
        assert [x["title"] for x in (await api.get(URL, params={"kind": "event"}, headers=h)).json()["items"]] == [
            "Очный семинар в Б"
        ]
        phys = await api.get(URL, params={"subject": "physics"}, headers=h)
        assert [x["title"] for x in phys.json()["items"]] == ["Региональная стажировка"]

    async def test_keyset_pages_cover_everything_once(self, api: httpx.AsyncClient) -> None:
        for i in range(23):
            await add_resource(api, title=f"Курс номер {i:02d}")
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
            page = (await api.get(URL, params=params, headers=as_regional())).json()
            seen += [x["title"] for x in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [f"Курс номер {i:02d}" for i in range(23)]

    async def test_newest_sort_pages(self, api: httpx.AsyncClient) -> None:
        for i in range(7):
            await add_resource(api, title=f"Ресурс {i}")
        page1 = (await api.get(URL, params={"limit": 4, "sort": "newest"}, headers=as_regional())).json()
        page2 = (
            await api.get(
                URL, params={"limit": 4, "sort": "newest", "cursor": page1["next_cursor"]}, headers=as_regional()
            )
        ).json()
        titles = [x["title"] for x in page1["items"] + page2["items"]]
        assert titles == [f"Ресурс {i}" for i in reversed(range(7))]

    async def test_full_text_search_understands_russian_word_forms(self, api: httpx.AsyncClient) -> None:
        await add_resource(api, title="Формирующее оценивание на уроках математики")
        await add_resource(
            api,
            title="Проектная деятельность в начальной школе",
            subjects=["primary"],
            description="Учебные проекты и исследования",
        )
        await add_resource(
            api,
            title="Сетевое сообщество учителей",
            kind="community",
            learning_type="informal",
            provider="Объединение «Учёные»",
            description="Обмен опытом",
        )
        h = as_regional()
        found = await api.get(URL, params={"q": "оцениванию"}, headers=h)
        assert [x["title"] for x in found.json()["items"]] == ["Формирующее оценивание на уроках математики"]
        found = await api.get(URL, params={"q": "исследованиями проектов"}, headers=h)
        assert [x["title"] for x in found.json()["items"]] == ["Проектная деятельность в начальной школе"]
        found = await api.get(URL, params={"q": "ученые"}, headers=h)
        assert [x["title"] for x in found.json()["items"]] == ["Сетевое сообщество учителей"]

    async def test_relevance_sort_puts_title_matches_first(self, api: httpx.AsyncClient) -> None:
        await add_resource(
            api,
            title="Вебинар о разном",
            description="немного про оценивание",
            kind="event",
            learning_type="non_formal",
        )
        await add_resource(api, title="Оценивание результатов: курс", description="подробно")
        r = await api.get(URL, params={"q": "оценивание", "sort": "relevance", "limit": 1}, headers=as_regional())
        page = r.json()
        assert [x["title"] for x in page["items"]] == ["Оценивание результатов: курс"]
        r2 = await api.get(
            URL, params={"q": "оценивание", "sort": "relevance", "cursor": page["next_cursor"]}, headers=as_regional()
        )
        assert [x["title"] for x in r2.json()["items"]] == ["Вебинар о разном"]

    async def test_cursor_of_another_sort_is_rejected(self, api: httpx.AsyncClient) -> None:
        for i in range(3):
            await add_resource(api, title=f"Курс {i}")
        page = (await api.get(URL, params={"limit": 1}, headers=as_regional())).json()
        r = await api.get(
            URL, params={"limit": 1, "sort": "newest", "cursor": page["next_cursor"]}, headers=as_regional()
        )
        assert r.status_code == 422

    async def test_teacher_reads_catalogue(self, api: httpx.AsyncClient) -> None:
        await add_resource(api)
        r = await api.get(URL, headers=teacher_headers())
        assert r.status_code == 200 and len(r.json()["items"]) == 1
