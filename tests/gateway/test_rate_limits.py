"""Rate limits and forwarding headers at the gateway, each on a gateway of its own with tight settings
(the suite's gateway has limits far above what the suite sends; see tests/harness.py TEST_ENV)."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from deploy import stack
from kit.auth import Role
from tests.gateway.test_scopes import issue
from tests.harness import Stack, auth, free_port
from tests.region import REGION, as_regional, seed_region

HUGE = "100000/minute"


@asynccontextmanager
async def gateway(live: Stack, log_dir: Path, **settings: str) -> AsyncIterator[str]:
    """A second gateway in front of the same services and database, with these GATEWAY_ settings."""
    env = dict(live.env)
    port = free_port()
    env["GATEWAY_PORT"] = str(port)
    for name in ("PER_IP", "PER_PRINCIPAL", "FAILED_AUTH_PER_IP", "UPLOADS"):
        env[f"GATEWAY_RATE_LIMIT_{name}"] = HUGE
    env["GATEWAY_RATE_LIMIT_OPERATIONS"] = "{}"
    env.update({f"GATEWAY_{k.upper()}": v for k, v in settings.items()})
    proc = stack.spawn(stack.GATEWAY, env, log_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        # In a thread: a stand-in upstream of this test answers the gateway's readiness checks meanwhile.
        await asyncio.to_thread(stack.wait_ready, url, procs=[proc])
        yield url
    finally:
        stack.terminate([proc])


@asynccontextmanager
async def echo_upstream() -> AsyncIterator[str]:
    """A stand-in service answering every request with the headers it received."""

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"headers": [[k.lower(), v] for k, v in request.headers.items()]})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def assert_limited(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "rate-limited"
    assert int(r.headers["retry-after"]) >= 1


def random_key() -> str:
    return f"iomk_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


class TestPerPrincipal:
    async def test_a_principal_past_its_budget_gets_429_and_others_go_on(
        self, live: Stack, api: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await seed_region(api)
        async with gateway(live, tmp_path, rate_limit_per_principal="3/minute") as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as c:
                one = auth(Role.regional_specialist, region=REGION, sub="specialist-1")
                for _ in range(3):
                    assert (await c.get("/api/v1/teachers", headers=one)).status_code == 200
                assert_limited(await c.get("/api/v1/teachers", headers=one))
                other = auth(Role.regional_specialist, region=REGION, sub="specialist-2")
                assert (await c.get("/api/v1/teachers", headers=other)).status_code == 200
                # The services' own calls are internal traffic: never limited.
                service = auth(Role.service, region=REGION)
                for _ in range(5):
                    assert (await c.get("/api/v1/teachers", headers=service)).status_code == 200


class TestPerIp:
    async def test_an_address_past_its_budget_gets_429_whoever_calls(
        self, live: Stack, api: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await seed_region(api)
        async with gateway(live, tmp_path, rate_limit_per_ip="4/minute") as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as c:
                for i in range(4):
                    h = auth(Role.regional_specialist, region=REGION, sub=f"person-{i}")
                    assert (await c.get("/api/v1/teachers", headers=h)).status_code == 200
                fresh = auth(Role.regional_specialist, region=REGION, sub="person-5")
                assert_limited(await c.get("/api/v1/teachers", headers=fresh))
                # A forged forwarding header does not make another address of it.
                spoofed = {**fresh, "X-Forwarded-For": "203.0.113.9"}
                assert_limited(await c.get("/api/v1/teachers", headers=spoofed))


class TestExpensiveOperations:
    async def test_batch_matching_and_uploads_have_their_own_budgets(
        self, live: Stack, api: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await seed_region(api)
        ops = json.dumps({"POST /api/v1/matching/batch": "1/minute", "GET /api/v1/effectiveness": "1/minute"})
        async with gateway(live, tmp_path, rate_limit_operations=ops, rate_limit_uploads="1/minute") as url:
            async with httpx.AsyncClient(base_url=url, timeout=60) as c:
                h = as_regional()
                first = await c.post("/api/v1/matching/batch", json={"items": []}, headers=h)
                assert first.status_code != 429
                assert_limited(await c.post("/api/v1/matching/batch", json={"items": []}, headers=h))
                assert (await c.get("/api/v1/effectiveness", headers=h)).status_code != 429
                assert_limited(await c.get("/api/v1/effectiveness", headers=h))
                upload = f"/api/v1/campaigns/{uuid.uuid4()}/results"
                assert (await c.post(upload, json={"rows": []}, headers=h)).status_code != 429
                assert_limited(await c.post(upload, json={"rows": []}, headers=h))
                # Cheap reads of the same person go on.
                assert (await c.get("/api/v1/teachers", headers=h)).status_code == 200


class TestKeySpray:
    async def test_random_keys_spend_the_address_budget_and_then_nothing_is_looked_up(
        self, live: Stack, api: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await seed_region(api)
        good = issue(live, "teachers:read")
        async with gateway(live, tmp_path, rate_limit_failed_auth_per_ip="3/minute") as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as c:
                assert (await c.get("/api/v1/teachers", headers={"X-API-Key": good})).status_code == 200
                for key in (random_key(), random_key(), "not-even-a-key"):
                    r = await c.get("/api/v1/teachers", headers={"X-API-Key": key})
                    assert r.status_code == 401 and r.json()["code"] == "invalid-api-key"
                assert_limited(await c.get("/api/v1/teachers", headers={"X-API-Key": random_key()}))
                # Past the budget no key is looked up from this address, not even a good one.
                assert_limited(await c.get("/api/v1/teachers", headers={"X-API-Key": good}))
                # People's tokens are verified without a look-up: they go on.
                assert (await c.get("/api/v1/teachers", headers=as_regional())).status_code == 200


class TestForwardingHeaders:
    async def test_the_gateway_drops_inbound_forwarding_headers_and_sets_its_own(
        self, live: Stack, tmp_path: Path
    ) -> None:
        async with echo_upstream() as upstream:
            async with gateway(live, tmp_path, audit_url=upstream) as url:
                async with httpx.AsyncClient(base_url=url, timeout=30) as c:
                    forged = {
                        "X-Forwarded-For": "203.0.113.9",
                        "X-Forwarded-Host": "evil.example",
                        "X-Forwarded-Proto": "https",
                        "Forwarded": "for=203.0.113.9",
                        "X-Real-IP": "203.0.113.9",
                    }
                    r = await c.get("/api/v1/kpi", headers={**as_regional(), **forged})
        assert r.status_code == 200
        seen = r.json()["headers"]
        forwarding = sorted((k, v) for k, v in seen if k.startswith("x-forwarded-") or k in ("forwarded", "x-real-ip"))
        assert forwarding == [
            ("x-forwarded-for", "127.0.0.1"),
            ("x-forwarded-host", url.removeprefix("http://")),
            ("x-forwarded-proto", "http"),
        ]

    async def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(
        self, live: Stack, tmp_path: Path
    ) -> None:
        settings = {"trusted_proxies": '["127.0.0.1/32"]', "rate_limit_per_ip": "1/minute"}
        async with echo_upstream() as upstream:
            async with gateway(live, tmp_path, audit_url=upstream, **settings) as url:
                async with httpx.AsyncClient(base_url=url, timeout=30) as c:

                    async def via(address: str) -> httpx.Response:
                        headers = {**as_regional(), "X-Forwarded-For": f"198.51.100.7, {address}"}
                        return await c.get("/api/v1/kpi", headers=headers)

                    first = await via("10.0.0.1")
                    assert (await via("10.0.0.2")).status_code == 200
                    assert_limited(await via("10.0.0.1"))
        assert first.status_code == 200
        assert [v for k, v in first.json()["headers"] if k == "x-forwarded-for"] == ["10.0.0.1"]


@pytest.mark.no_db
def test_limits_come_from_settings() -> None:
    from gateway.config import GatewaySettings

    s = GatewaySettings(rate_limit_per_ip="7/second", rate_limit_operations={"POST /api/v1/routes/generate": "1/hour"})
    assert s.rate_limit_per_ip == "7/second" and s.rate_limit_operations == {"POST /api/v1/routes/generate": "1/hour"}
