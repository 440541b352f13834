"""Regressions of what the fuzzer found: each once answered 500, or reached the wrong place."""

from __future__ import annotations

import httpx

from tests.region import as_regional, seed_region


class TestGatewayForwardsThePathAsSent:
    async def test_an_encoded_hash_stays_part_of_the_id(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/frameworks/%23x", headers=as_regional())
        # Decoded, '#x' was a fragment: the service saw /frameworks/ and redirected to the list.
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"

    async def test_an_encoded_question_mark_is_not_a_query(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        r = await api.get("/api/v1/teachers/%3Flimit=1", headers=as_regional())
        assert r.status_code == 422, r.text  # '?limit=1' is not a teacher id

    async def test_a_redirect_points_at_the_gateway_not_the_service(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/teachers/", headers=as_regional())
        assert r.status_code == 307
        assert r.headers["location"] == "/api/v1/teachers"


class TestValuesTheDatabaseCannotHoldAre422:
    async def test_framework_version_beyond_integer(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/frameworks/default/versions/1905896525220", headers=as_regional())
        assert r.status_code == 422

    async def test_framework_version_beyond_integer_in_a_body(self, api: httpx.AsyncClient) -> None:
        body = {
            "name": "x",
            "source": "fioko_subject",
            "subject": "mathematics",
            "assessed_on": "2026-04-15",
            "framework_code": "default",
            "framework_version": 9223372036854775807,
            "instrument": "oku-omk-mathematics",
        }
        r = await api.post("/api/v1/campaigns", json=body, headers=as_regional())
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert "9223372036854775807" not in r.text  # the value is not echoed

    async def test_nul_character_in_a_filter(self, api: httpx.AsyncClient) -> None:
        r = await api.get(
            "/api/v1/assessment/analytics/dynamics", params={"organisation": "a\x00b"}, headers=as_regional()
        )
        assert r.status_code == 422 and r.json()["code"] == "value-not-storable"

    async def test_export_month_a_zip_cannot_stamp(self, api: httpx.AsyncClient) -> None:
        for month in ("9999-11", "1970-01", "0000-01"):
            r = await api.get(
                "/api/v1/exports/monthly",
                params={"month": month, "municipality": "mo-a", "format": "xlsx"},
                headers=as_regional(),
            )
            assert r.status_code == 422, (month, r.text)
