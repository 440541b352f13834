"""Errors leave the route template in logs, never the values of a path or a key (issue 12, lows)."""

from __future__ import annotations

import logging

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from kit.errors import install_error_handlers
from kit.logging import JsonFormatter

pytestmark = pytest.mark.no_db

SECRET = "ext-7731-secret"


def app() -> FastAPI:
    a = FastAPI()
    install_error_handlers(a)

    @a.get("/things/{thing_id}")
    async def broken(thing_id: str) -> None:
        raise RuntimeError("broken")

    @a.post("/things/{thing_id}")
    async def duplicate(thing_id: str) -> None:
        raise asyncpg.UniqueViolationError(f"duplicate key value; Key (external_id)=({thing_id}) already exists")

    return a


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    fmt = JsonFormatter("test")
    return [fmt.format(r) for r in caplog.records if r.name == "kit.errors"]


async def call(method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path)


class TestLogsCarryTheRouteTemplate:
    async def test_an_unhandled_error_logs_the_template_not_the_path(self, caplog: pytest.LogCaptureFixture) -> None:
        r = await call("GET", f"/things/{SECRET}")
        assert r.status_code == 500
        [line] = logged(caplog)
        assert '"path_template":"/things/{thing_id}"' in line
        assert SECRET not in line

    async def test_a_duplicate_key_is_409_and_logs_no_key_value(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO)
        r = await call("POST", f"/things/{SECRET}")
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "duplicate-key" and "Key (" not in r.text
        [line] = logged(caplog)
        assert '"path_template":"/things/{thing_id}"' in line
        assert SECRET not in line
