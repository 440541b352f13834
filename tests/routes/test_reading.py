"""Reading one route (the school portal's hottest call): the same document every write answers,
conditional reads with If-None-Match, and scope."""

from __future__ import annotations

import uuid

import httpx

from kit.auth import Role
from services.routes.reader import ENTRY_OVERHEAD, ReadCache, Version
from tests.harness import Stack, auth
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_A2, as_methodologist, as_regional, as_school, as_teacher
from tests.routes.test_lifecycle import a_route, act


class TestReadingARoute:
    async def test_a_read_answers_the_document_the_last_write_answered(self, api: httpx.AsyncClient) -> None:
        region, summary = await a_route(api)
        rid = summary["id"]
        written = await act(api, rid, as_regional(), "recommend", comment="Рекомендации центра внесены")
        assert written.status_code == 200
        read = await api.get(f"/api/v1/routes/{rid}", headers=as_regional())
        assert read.status_code == 200
        assert read.json() == written.json()
        assert read.headers["etag"] == written.headers["etag"]
        # The teacher's own view of it says what the teacher may do, computed for the teacher.
        mine = await api.get(f"/api/v1/routes/{rid}", headers=as_teacher(region, "t-a1-1"))
        assert mine.status_code == 200 and mine.json()["content"] == read.json()["content"]
        assert mine.json()["self_check"] == read.json()["self_check"]

    async def test_self_check_follows_manual_scores(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        rid = summary["id"]
        before = await api.get(f"/api/v1/routes/{rid}", headers=as_regional())
        r = await api.put(
            f"/api/v1/routes/{rid}/self-check",
            json={"scores": {"2": 2, "3": 1}},
            headers={**as_regional(), "If-Match": before.headers["etag"]},
        )
        assert r.status_code == 200, r.text
        after = (await api.get(f"/api/v1/routes/{rid}", headers=as_regional())).json()
        assert after["self_check"] == r.json()["self_check"] != before.json()["self_check"]

    async def test_a_route_edited_after_it_was_read_is_read_as_edited(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        rid = summary["id"]
        before = await api.get(f"/api/v1/routes/{rid}", headers=as_regional())
        again = await api.get(f"/api/v1/routes/{rid}", headers=as_regional())  # the version the reader now holds
        assert again.content == before.content
        task = before.json()["content"]["sections"]["goals"][0]["tasks"][0]
        edited = await api.patch(
            f"/api/v1/routes/{rid}/tasks/{task['id']}",
            json={"formulation": "Освоить приёмы формирующего оценивания", "reason": "уточнено с ОО"},
            headers={**as_regional(), "If-Match": before.headers["etag"]},
        )
        assert edited.status_code == 200, edited.text
        after = await api.get(f"/api/v1/routes/{rid}", headers=as_regional())
        assert after.json() == edited.json()
        first = after.json()["content"]["sections"]["goals"][0]["tasks"][0]
        assert first["formulation"] == "Освоить приёмы формирующего оценивания"


class TestTheReadCache:
    """What the reader keeps of the routes read last: their latest version each, within a budget of bytes."""

    @staticmethod
    def version(tag: str, size: int) -> Version:
        return Version(tag, b"x" * (size - ENTRY_OVERHEAD), b"")

    def test_it_never_holds_more_than_its_budget_and_drops_the_least_recently_read(self) -> None:
        cache = ReadCache(budget=3_000)
        ids = [uuid.uuid4() for _ in range(4)]
        for i in ids[:3]:
            cache.put(i, self.version("1", 1_000))
        assert cache.get(ids[0]) is not None  # read again: now the most recent
        cache.put(ids[3], self.version("1", 1_000))
        assert cache.used <= 3_000 and len(cache) == 3
        assert cache.get(ids[1]) is None  # the least recently read went
        assert all(cache.get(i) is not None for i in (ids[0], ids[2], ids[3]))

    def test_a_new_version_replaces_the_old_one_of_the_same_route(self) -> None:
        cache = ReadCache(budget=10_000)
        rid = uuid.uuid4()
        cache.put(rid, self.version("100", 2_000))
        cache.put(rid, self.version("101", 3_000))
        held = cache.get(rid)
        assert held is not None and held.row_version == "101"
        assert cache.used == 3_000 and len(cache) == 1

    def test_a_version_larger_than_the_budget_is_not_kept(self) -> None:
        cache = ReadCache(budget=1_000)
        rid = uuid.uuid4()
        cache.put(rid, self.version("1", 500))
        cache.put(rid, self.version("2", 5_000))
        assert cache.get(rid) is None and cache.used == 0


class TestConditionalReads:
    async def test_an_unchanged_route_is_304_without_a_body(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        first = await api.get(f"/api/v1/routes/{summary['id']}", headers=as_regional())
        again = await api.get(
            f"/api/v1/routes/{summary['id']}", headers={**as_regional(), "If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == first.headers["etag"]

    async def test_a_changed_route_is_sent_again(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        rid = summary["id"]
        first = await api.get(f"/api/v1/routes/{rid}", headers=as_regional())
        assert (await act(api, rid, as_regional(), "recommend")).status_code == 200
        again = await api.get(
            f"/api/v1/routes/{rid}", headers={**as_regional(), "If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 200
        assert again.json()["status"] == "recommended"
        assert again.headers["etag"] != first.headers["etag"]

    async def test_out_of_scope_is_404_even_with_the_right_etag(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        rid = summary["id"]
        etag = (await api.get(f"/api/v1/routes/{rid}", headers=as_regional())).headers["etag"]
        for outsider in (as_methodologist(MUN_B), as_school(ORG_A2, MUN_A)):
            r = await api.get(f"/api/v1/routes/{rid}", headers={**outsider, "If-None-Match": etag})
            assert r.status_code == 404
            assert r.headers["content-type"].startswith("application/problem+json")
        assert (await api.get(f"/api/v1/routes/{rid}", headers=as_school(ORG_A1, MUN_A))).status_code == 200


class TestWhatTheFastLaneHandsOn:
    """The read lane answers successes only; every other answer is the documented endpoint's."""

    async def test_bad_credentials_malformed_ids_and_unknown_routes_answer_as_documented(
        self, api: httpx.AsyncClient
    ) -> None:
        _, summary = await a_route(api)
        rid = summary["id"]
        no_token = await api.get(f"/api/v1/routes/{rid}")
        forged = await api.get(f"/api/v1/routes/{rid}", headers={"Authorization": "Bearer not.a.token"})
        malformed = await api.get("/api/v1/routes/not-a-uuid-but-thirty-six-characters", headers=as_regional())
        unknown = await api.get(f"/api/v1/routes/{uuid.uuid4()}", headers=as_regional())
        for r, status in ((no_token, 401), (forged, 401), (malformed, 422), (unknown, 404)):
            assert r.status_code == status, (status, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        # A read-only key reads like any other credential.
        read_only = auth(Role.regional_specialist, region=summary["region"], read_only=True)
        assert (await api.get(f"/api/v1/routes/{rid}", headers=read_only)).status_code == 200

    async def test_metrics_and_request_ids_name_the_documented_operation(
        self, api: httpx.AsyncClient, live: Stack
    ) -> None:
        _, summary = await a_route(api)
        r = await api.get(f"/api/v1/routes/{summary['id']}", headers={**as_regional(), "X-Request-ID": "portal-42"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "portal-42"
        async with httpx.AsyncClient(base_url=live.url("routes")) as c:
            text = (await c.get("/metrics")).text
        assert 'route="/api/v1/routes/{route_id}"' in text
        assert summary["id"] not in text
