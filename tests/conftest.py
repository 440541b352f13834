"""Session-wide real PostgreSQL (migrated once with Alembic) and the five real processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from deploy import stack
from kit.dbadmin import asyncpg_dsn
from tests.harness import Stack, postgres_server, start_stack

SCHEMAS = ("assessment", "resources", "routes", "audit", "gateway")


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    with postgres_server() as url:
        stack.prepare_database(url)
        yield url


@pytest.fixture(scope="session")
def live(admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    st = start_stack(admin_url, tmp_path_factory.mktemp("logs"))
    try:
        yield st
    finally:
        st.stop_all()


@pytest.fixture
async def db(admin_url: str) -> AsyncIterator[asyncpg.Connection]:
    """An administrative connection, for arranging and checking what the API cannot show."""
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> None:
    """Isolate tests: empty every service table (not the Alembic version tables) before each test.

    Services work in the background too (the routes service polls the assessment feed): a poll
    holding a lock that TRUNCATE needs may deadlock with it, so a lock timeout and retries apply.
    """
    if "no_db" in request.keywords:
        return
    admin_url = request.getfixturevalue("admin_url")
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        rows = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[]) "
            "AND tablename <> 'alembic_version'",
            list(SCHEMAS),
        )
        if not rows:
            return
        names = ", ".join(f'"{r["schemaname"]}"."{r["tablename"]}"' for r in rows)
        for attempt in range(10):
            try:
                async with conn.transaction():
                    await conn.execute("SET LOCAL lock_timeout = '2s'")
                    await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                return
            except (asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError):
                await asyncio.sleep(0.05 * (attempt + 1))
        raise RuntimeError("could not empty the tables: they stay locked")
    finally:
        await conn.close()


@pytest.fixture
async def api(live: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the gateway (the only entry users have)."""
    async with httpx.AsyncClient(base_url=live.gateway, timeout=30) as client:
        yield client


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "no_db: the test needs no database clean-up")
