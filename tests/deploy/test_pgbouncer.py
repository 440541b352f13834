"""The processes' database access works behind a real PgBouncer in transaction mode (issue 12, point 7).

PgBouncer lends a server connection to one client transaction at a time (two per user here): a
statement prepared and cached in one transaction is gone in the next, which may run on the other
server connection, and two processes' numbered statement names collide on one; DB_PGBOUNCER=true
turns asyncpg's and SQLAlchemy's statement caches off and names each prepared statement uniquely.
A session advisory lock (the monthly export's) stays on the server connection, which the next client
gets: such work connects to DIRECT_DATABASE_URL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from deploy import stack
from kit.db import make_engine, make_read_pool, role_url
from services.routes.exports.queries import try_lock, unlock
from tests.deploy import pgbouncer

pytestmark = [
    pytest.mark.no_db,
    pytest.mark.skipif(not pgbouncer.available(), reason="needs the pgbouncer binary (apt-get install pgbouncer)"),
]

ROUTES = next(p for p in stack.ALL if p.name == "routes")


@pytest.fixture(scope="module")
def routes_url(admin_url: str) -> str:
    return role_url(admin_url, stack.role_of(ROUTES), stack.password_of(ROUTES))


@pytest.fixture(scope="module")
def bouncer(routes_url: str) -> Iterator[str]:
    """The routes role's URL through PgBouncer (two server connections shared by every client)."""
    users = {stack.role_of(p): stack.password_of(p) for p in stack.ALL}
    with pgbouncer.pgbouncer(routes_url, users, pool_size=2) as url:
        yield url


@pytest.fixture
def behind_pgbouncer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PGBOUNCER", "true")


@pytest.mark.usefixtures("behind_pgbouncer")
async def test_a_statement_runs_again_on_another_server_connection(bouncer: str) -> None:
    engine = make_engine(bouncer, pool_size=2, max_overflow=0)
    query = text("SELECT count(*) FROM routes.routes WHERE region = :r")
    try:
        async with engine.connect() as first, engine.connect() as second:
            assert (await first.execute(query, {"r": "x"})).scalar_one() == 0  # on server connection 1
            await first.commit()
            await second.execute(text("SELECT 1"))  # the second client's transaction now holds connection 1
            assert (await first.execute(query, {"r": "x"})).scalar_one() == 0  # so this runs on connection 2
            await first.commit()
            await second.commit()
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("behind_pgbouncer")
async def test_the_hot_read_pool_runs_a_statement_again_on_another_server_connection(bouncer: str) -> None:
    pool = await make_read_pool(bouncer, size=2, application_name="routes")
    try:
        async with pool.acquire() as first, pool.acquire() as second:
            assert await first.fetchval("SELECT $1::int * 2", 1) == 2
            async with second.transaction():
                await second.execute("SELECT 1")
                assert await first.fetchval("SELECT $1::int * 2", 2) == 4
    finally:
        await pool.close()


@pytest.mark.usefixtures("behind_pgbouncer")
async def test_sessions_copy_and_transaction_locks_work_through_transaction_pooling(bouncer: str) -> None:
    engine = make_engine(bouncer, pool_size=4, max_overflow=0)

    async def client(i: int) -> None:
        for j in range(5):
            async with engine.begin() as conn:
                assert (await conn.execute(text("SELECT CAST(:i AS int) + :j"), {"i": i, "j": j})).scalar_one() == i + j
                found = await conn.execute(text("SELECT count(*) FROM routes.routes WHERE region = :r"), {"r": f"r{i}"})
                assert found.scalar_one() == 0
                await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('routes-feed'))"))
                # The COPY paths: a temp table dropped at commit, filled through the driver's connection.
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                await raw.execute("CREATE TEMP TABLE staged (n int) ON COMMIT DROP")
                await raw.copy_records_to_table("staged", records=[(k,) for k in range(10)])
                assert await raw.fetchval("SELECT sum(n) FROM staged") == 45

    try:
        await asyncio.gather(*(client(i) for i in range(8)))
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("behind_pgbouncer")
async def test_the_hot_read_pool_works_through_transaction_pooling(bouncer: str) -> None:
    pool = await make_read_pool(bouncer, size=4, application_name="routes")

    async def reader(i: int) -> None:
        for j in range(5):
            assert await pool.fetchval("SELECT $1::int * $2::int", i, j) == i * j
            assert await pool.fetchval("SELECT jsonb_build_object('n', $1::int)", i) == b'{"n": %d}' % i

    try:
        await asyncio.gather(*(reader(i) for i in range(8)))
    finally:
        await pool.close()


@pytest.mark.usefixtures("behind_pgbouncer")
async def test_the_export_lock_excludes_a_second_export_only_over_a_direct_connection(
    bouncer: str, routes_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pooled = [make_engine(bouncer, pool_size=1, max_overflow=0) for _ in range(2)]
    try:
        async with pooled[0].connect() as first, pooled[1].connect() as second:
            assert await try_lock(first)
            assert await try_lock(second), "through PgBouncer both exports 'hold' the lock: it excludes nobody"
            await unlock(second)
            await unlock(first)
    finally:
        for e in pooled:
            await e.dispose()

    with pytest.raises(RuntimeError, match="DIRECT_DATABASE_URL"):
        make_engine(bouncer, direct=True)
    server = make_url(routes_url).set(username=None, password=None).render_as_string(hide_password=False)
    monkeypatch.setenv("DIRECT_DATABASE_URL", server)
    direct = [make_engine(bouncer, pool_size=1, max_overflow=0, direct=True) for _ in range(2)]
    try:
        async with direct[0].connect() as first, direct[1].connect() as second:
            assert await try_lock(first)
            assert not await try_lock(second)
            await unlock(first)
            assert await try_lock(second)
            await unlock(second)
    finally:
        for e in direct:
            await e.dispose()
