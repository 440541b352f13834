"""Mentors and the methodological active: registration, scope, load, status and history."""

from __future__ import annotations

import asyncpg
import httpx

from tests.region import as_methodologist
from tests.resources.helpers import MUN_A, MUN_B, a_route, add_mentor, as_regional, mentor, new_id, teacher_headers

URL = "/api/v1/mentors"


class TestRegisterMentor:
    async def test_regional_registers_with_entered_history(self, api: httpx.AsyncClient) -> None:
        m = await add_mentor(api, capacity=4)
        assert (m["load"], m["free"], m["status"]) == (0, 4, "active")
        history = (await api.get(f"{URL}/{m['id']}/history", headers=as_regional())).json()
        assert [(h["year"], h["action"], h["assessment"]) for h in history] == [(2025, "entered", "fioko-2025")]

    async def test_methodologist_registers_only_own_municipality(self, api: httpx.AsyncClient) -> None:
        ok = await api.post(URL, json=mentor(municipality=MUN_A), headers=as_methodologist(MUN_A))
        assert ok.status_code == 201
        no = await api.post(URL, json=mentor(municipality=MUN_B), headers=as_methodologist(MUN_A))
        assert no.status_code == 403
        assert (await api.post(URL, json=mentor(), headers=teacher_headers())).status_code == 403

    async def test_a_teacher_is_registered_once(self, api: httpx.AsyncClient) -> None:
        m = await add_mentor(api)
        r = await api.post(URL, json=mentor(teacher_id=m["teacher_id"]), headers=as_regional())
        assert r.status_code == 409

    async def test_needs_a_subject(self, api: httpx.AsyncClient) -> None:
        r = await api.post(URL, json=mentor(subjects=[]), headers=as_regional())
        assert r.status_code == 422


class TestChangeMentor:
    async def test_capacity_cannot_fall_below_load(self, api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
        m = await add_mentor(api, capacity=2)
        for _ in range(2):
            r = await api.post(
                "/api/v1/reservations", json={**(await a_route(db)), "mentor_id": m["id"]}, headers=as_regional()
            )
            assert r.status_code == 201
        h = {**as_regional(), "If-Match": (await api.get(f"{URL}/{m['id']}", headers=as_regional())).headers["etag"]}
        r = await api.patch(f"{URL}/{m['id']}", json={"capacity": 1}, headers=h)
        assert r.status_code == 409 and r.json()["code"] == "capacity-below-load"
        r = await api.patch(f"{URL}/{m['id']}", json={"capacity": 3}, headers=h)
        assert (r.json()["capacity"], r.json()["load"], r.json()["free"]) == (3, 2, 1)

    async def test_methodologist_cannot_move_mentor_away(self, api: httpx.AsyncClient) -> None:
        m = await add_mentor(api, municipality=MUN_A)
        r = await api.patch(f"{URL}/{m['id']}", json={"municipality": MUN_B}, headers=as_methodologist(MUN_A))
        assert r.status_code == 403
        r = await api.patch(f"{URL}/{m['id']}", json={"level": 3}, headers=as_methodologist(MUN_B))
        assert r.status_code == 403

    async def test_deactivate_records_leaving_and_hides_from_matching(self, api: httpx.AsyncClient) -> None:
        m = await add_mentor(api)
        assert (await api.post(f"{URL}/{m['id']}/deactivate", headers=as_regional())).status_code == 428
        r = await api.post(f"{URL}/{m['id']}/deactivate", headers={**as_regional(), "If-Match": '"1"'})
        assert r.status_code == 200 and r.json()["status"] == "inactive"
        match = await api.post(
            "/api/v1/matching",
            json={"deficits": ["M3"], "subject": "mathematics", "group": 1, "municipality": MUN_A},
            headers=as_regional(),
        )
        assert match.json()["deficits"][0]["mentors"] == []
        back = await api.post(f"{URL}/{m['id']}/activate", headers={**as_regional(), "If-Match": r.headers["etag"]})
        assert back.json()["status"] == "active"
        await api.post(
            f"{URL}/{m['id']}/history",
            json={"year": 2026, "action": "confirmed", "assessment": "iku-2026"},
            headers=as_regional(),
        )
        history = (await api.get(f"{URL}/{m['id']}/history", headers=as_regional())).json()
        assert [h["action"] for h in history] == ["entered", "left", "returned", "confirmed"]


class TestListMentors:
    async def test_filters_and_pages(self, api: httpx.AsyncClient) -> None:
        for i in range(5):
            await add_mentor(
                api, municipality=MUN_A if i % 2 else MUN_B, subjects=["history"] if i == 0 else ["mathematics"]
            )
        h = as_regional()
        assert len((await api.get(URL, params={"municipality": MUN_A}, headers=h)).json()["items"]) == 2
        assert len((await api.get(URL, params={"subject": "history"}, headers=h)).json()["items"]) == 1
        page = (await api.get(URL, params={"limit": 3}, headers=h)).json()
        rest = (await api.get(URL, params={"limit": 3, "cursor": page["next_cursor"]}, headers=h)).json()
        ids = [m["id"] for m in page["items"] + rest["items"]]
        assert len(ids) == len(set(ids)) == 5

    async def test_lookup_by_teacher(self, api: httpx.AsyncClient) -> None:
        m = await add_mentor(api)
        r = await api.get(f"{URL}/by-teacher/{m['teacher_id']}", headers=teacher_headers())
        assert r.status_code == 200 and r.json()["id"] == m["id"]
        assert (await api.get(f"{URL}/by-teacher/{new_id()}", headers=as_regional())).status_code == 404
