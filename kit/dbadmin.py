"""Administrative set-up of the one database: a schema and a login role per service."""

from __future__ import annotations

import re

import asyncpg

from kit.db import async_url, asyncpg_dsn

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
EXTENSIONS_SCHEMA = "extensions"


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"unsafe SQL identifier: {name!r}")
    return name


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def bootstrap_sql(schema: str, role: str, password: str) -> str:
    """SQL (idempotent) giving `role` its own `schema` and nothing else but the shared extensions."""
    s, r, p = _ident(schema), _ident(role), _literal(password)
    return f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{r}') THEN
    CREATE ROLE {r} LOGIN PASSWORD {p};
  ELSE
    ALTER ROLE {r} LOGIN PASSWORD {p};
  END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS {s} AUTHORIZATION {r};
ALTER SCHEMA {s} OWNER TO {r};
REVOKE ALL ON SCHEMA {s} FROM PUBLIC;
GRANT USAGE ON SCHEMA {EXTENSIONS_SCHEMA} TO {r};
ALTER ROLE {r} SET search_path = {s}, {EXTENSIONS_SCHEMA};
"""


def database_sql(database: str) -> str:
    """SQL run once per database before the per-service parts."""
    return f"""
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS {EXTENSIONS_SCHEMA};
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA {EXTENSIONS_SCHEMA};
COMMENT ON DATABASE "{database}" IS 'IOM platform: one schema and one role per service';
"""


async def bootstrap(admin_url: str, services: dict[str, tuple[str, str]]) -> None:
    """Create roles and schemas; `services` maps schema -> (role, password)."""
    url = async_url(admin_url)
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        # One bootstrap at a time across processes (several may start together).
        await conn.execute("SELECT pg_advisory_lock(727272)")
        try:
            await conn.execute(database_sql(url.database or "postgres"))
            for schema, (role, password) in services.items():
                await conn.execute(bootstrap_sql(schema, role, password))
                await conn.execute(f'GRANT CONNECT ON DATABASE "{url.database or "postgres"}" TO {role}')
        finally:
            await conn.execute("SELECT pg_advisory_unlock(727272)")
    finally:
        await conn.close()
