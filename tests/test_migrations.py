"""Each service's Alembic history upgrades and downgrades cleanly, touching only its own schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from deploy import stack
from kit import migrations
from kit.db import async_url, role_url
from kit.dbadmin import asyncpg_dsn


def _with_db(url: str, name: str) -> str:
    return async_url(url).set(database=name, drivername="postgresql").render_as_string(hide_password=False)


async def _exec(url: str, sql: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _tables(url: str) -> dict[str, set[str]]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY($1::text[])",
            [p.name for p in stack.ALL],
        )
    finally:
        await conn.close()
    out: dict[str, set[str]] = {p.name: set() for p in stack.ALL}
    for r in rows:
        out[r["table_schema"]].add(r["table_name"])
    return out


@pytest.fixture(scope="module")
def scratch_db(admin_url: str) -> Iterator[str]:
    """A separate database migrated to head, so the running stack is not disturbed."""
    name = f"iom_mig_{uuid.uuid4().hex[:8]}"
    asyncio.run(_exec(admin_url, f'CREATE DATABASE "{name}"'))
    url = _with_db(admin_url, name)
    try:
        stack.prepare_database(url)
        yield url
    finally:
        asyncio.run(_exec(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.no_db
@pytest.mark.parametrize("proc", stack.ALL, ids=lambda p: p.name)
def test_downgrade_to_base_and_upgrade_again_touches_only_own_schema(scratch_db: str, proc: stack.Proc) -> None:
    before = asyncio.run(_tables(scratch_db))
    url = role_url(scratch_db, stack.role_of(proc), stack.password_of(proc))
    migrations.downgrade(proc.migrations, url, proc.name, "base")
    after_down = asyncio.run(_tables(scratch_db))
    assert after_down[proc.name] <= {"alembic_version"}
    for other in stack.ALL:
        if other.name != proc.name:
            assert after_down[other.name] == before[other.name]
    migrations.upgrade(proc.migrations, url, proc.name, "head")
    assert asyncio.run(_tables(scratch_db)) == before


@pytest.mark.no_db
@pytest.mark.parametrize("proc", stack.ALL, ids=lambda p: p.name)
def test_service_role_cannot_touch_other_schemas(scratch_db: str, proc: stack.Proc) -> None:
    url = role_url(scratch_db, stack.role_of(proc), stack.password_of(proc))
    for other in stack.ALL:
        if other.name == proc.name:
            continue
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            asyncio.run(_exec(url, f"CREATE TABLE {other.name}.intruder (id int)"))
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            asyncio.run(_exec(url, f"SELECT * FROM {other.name}.alembic_version"))
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        asyncio.run(_exec(url, "CREATE TABLE public.intruder (id int)"))


@pytest.mark.no_db
def test_version_tables_live_in_each_schema(scratch_db: str) -> None:
    tables = asyncio.run(_tables(scratch_db))
    for p in stack.ALL:
        assert "alembic_version" in tables[p.name]
