"""The service client retries only what may be sent twice, with jittered waits, within a deadline."""

from __future__ import annotations

import gc
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from kit.client import GatewayClient, retryable
from kit.errors import UpstreamUnavailable
from tests.harness import TEST_ENV, codec, free_port

pytestmark = pytest.mark.no_db


@asynccontextmanager
async def failing_upstream(status: int = 503) -> AsyncIterator[tuple[str, list[str]]]:
    """A stand-in gateway answering every request with `status`; yields its URL and the requests it got."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        return web.json_response({"status": status}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def client(url: str, **kw: float) -> GatewayClient:
    from kit.settings import CommonSettings

    common = CommonSettings(**{k.lower(): v for k, v in TEST_ENV.items()})  # type: ignore[arg-type]
    return GatewayClient(common, caller="test", base_url=url, **kw)  # type: ignore[arg-type]


async def test_a_read_is_retried() -> None:
    async with failing_upstream() as (url, seen):
        c = client(url)
        r = await c.request("GET", "/api/v1/teachers", retries=2)
        await c.aclose()
    assert r.status_code == 503 and len(seen) == 3


async def test_a_post_without_a_key_is_sent_once() -> None:
    async with failing_upstream() as (url, seen):
        c = client(url)
        r = await c.request("POST", "/api/v1/routes/generate", retries=2, json={})
        await c.aclose()
    assert r.status_code == 503 and seen == ["POST /api/v1/routes/generate"]


async def test_a_keyed_post_is_retried() -> None:
    async with failing_upstream() as (url, seen):
        c = client(url)
        r = await c.request("POST", "/api/v1/mentors/assignments", retries=2, headers={"Idempotency-Key": "k1"})
        await c.aclose()
    assert r.status_code == 503 and len(seen) == 3


async def test_retries_stop_at_the_deadline() -> None:
    async with failing_upstream() as (url, seen):
        c = client(url)
        r = await c.request("GET", "/api/v1/teachers", retries=1000, deadline=1.0)
        await c.aclose()
    # Doubling waits from 0.2 s fit only a handful of attempts in one second, not a thousand.
    assert r.status_code == 503 and 1 <= len(seen) < 12


async def test_a_refused_connection_is_retried_even_for_a_post_and_then_503() -> None:
    c = client(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UpstreamUnavailable):
        await c.request("POST", "/api/v1/matching/batch", retries=1, json={})
    await c.aclose()


def test_idempotent_methods_and_keyed_requests_are_retryable() -> None:
    assert retryable("GET", None) and retryable("put", None) and retryable("DELETE", {})
    assert not retryable("POST", None) and not retryable("PATCH", {"Content-Type": "application/json"})
    assert retryable("POST", {"idempotency-key": "x"})


async def test_the_client_mints_an_internal_service_token() -> None:
    c = client("http://127.0.0.1:1")
    principal = codec().decode(c.headers()["Authorization"].removeprefix("Bearer "))
    await c.aclose()
    assert principal.role == "service" and principal.sub == "service:test"


async def test_an_answer_is_freed_as_soon_as_it_is_dropped() -> None:
    """A routes process reads thousands of multi-megabyte feed pages: none may wait for the cyclic collector."""
    async with failing_upstream(200) as (url, _):
        c = client(url)
        gc.disable()
        try:
            r = await c.request("GET", "/api/v1/assessment/changes")
            assert r.json() == {"status": 200}
            answer = weakref.ref(r)
            del r
            assert answer() is None
        finally:
            gc.enable()
            await c.aclose()
