"""Assessment tests: table clean-up that survives concurrent readers (e.g. the routes feed poller)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from kit.dbadmin import asyncpg_dsn
from tests.conftest import SCHEMAS


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> None:
    """Like the root fixture, but retries when TRUNCATE deadlocks with a service reading in the background.

    The routes service polls the assessment change feed on its own; a poll that holds a share lock on
    one table while TRUNCATE holds another deadlocks, and PostgreSQL may pick the TRUNCATE as victim.
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
