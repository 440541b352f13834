"""Database engines, the per-request transaction, and URL helpers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import ColumnElement, MetaData, and_, false, text, true
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from kit.auth import Principal, Role
from kit.jsonutil import dumps, loads

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def scope_condition(
    principal: Principal, *, region: Any, municipality: Any = None, organisation: Any = None, teacher: Any = None
) -> ColumnElement[bool]:
    """`Principal.sees` as SQL over an object's scope columns. An object without a column (None) is not
    visible to the role scoped by it: exports have no school, so a school admin sees none."""
    conds: list[Any] = []
    if principal.region:
        conds.append(region == principal.region)
    if principal.is_regional:
        pass
    elif principal.role == Role.municipal_methodologist:
        conds.append(false() if municipality is None else municipality == (principal.municipality or ""))
    elif principal.role == Role.school_admin:
        conds.append(false() if organisation is None else organisation == (principal.organisation or ""))
    elif principal.role == Role.teacher:
        try:
            own = uuid.UUID(principal.teacher_id or "")
        except ValueError:
            own = None
        conds.append(false() if teacher is None or own is None else teacher == own)
    else:
        conds.append(false())
    return and_(true(), *conds)


def schema_metadata(schema: str) -> MetaData:
    """Return a MetaData bound to one schema with stable constraint names."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> URL:
    """Return the URL with the asyncpg driver, keeping a Unix-socket host if any."""
    u = make_url(url)
    return u.set(drivername="postgresql+asyncpg")


def asyncpg_dsn(url: str) -> str:
    """asyncpg wants a plain postgresql:// DSN; keep ?host=/socket for Unix sockets."""
    return async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def role_url(base_url: str, role: str, password: str) -> str:
    """Return base_url logged in as role (the per-service database user)."""
    u = make_url(base_url).set(username=role, password=password)
    return u.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """Return the URL with asyncpg driver name, as alembic's async env expects."""
    return async_url(url).render_as_string(hide_password=False)


def _json_text(value: Any) -> str:
    return dumps(value).decode()


class DatabaseSettings(BaseSettings):
    """How processes reach PostgreSQL (no env prefix): through PgBouncer or directly.

    Behind PgBouncer in transaction mode a client's statements may run on any server connection, one
    transaction at a time, so prepared statements must not be cached across transactions nor named
    alike by two clients, and a session advisory lock is lost at the end of its transaction. Work that
    holds a session lock across transactions (the monthly export) connects to DIRECT_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    # True when DATABASE_URL names a PgBouncer in transaction mode.
    db_pgbouncer: bool = False
    # PostgreSQL itself (host, port, database, TLS query); the role and password stay the process's own.
    direct_database_url: str | None = None


def direct_url(url: str, db: DatabaseSettings | None = None) -> str:
    """`url` sent to DIRECT_DATABASE_URL's server (same role and password); `url` when that is not set.

    Raises when DATABASE_URL is a PgBouncer and no direct URL is given: the caller needs a session."""
    db = db or DatabaseSettings()
    if not db.direct_database_url:
        if db.db_pgbouncer:
            raise RuntimeError("DIRECT_DATABASE_URL must be set with DB_PGBOUNCER=true (this job holds a session lock)")
        return url
    own, direct = make_url(url), make_url(db.direct_database_url)
    return direct.set(username=own.username, password=own.password).render_as_string(hide_password=False)


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def pgbouncer_connect_args(db: DatabaseSettings | None = None) -> dict[str, Any]:
    """asyncpg arguments for SQLAlchemy's engine: behind PgBouncer no statement cache (asyncpg's nor
    SQLAlchemy's) and a unique name per prepared statement, so that no two clients of one server
    connection collide (SQLAlchemy's asyncpg docs, "Prepared Statement Name with PGBouncer")."""
    if not (db or DatabaseSettings()).db_pgbouncer:
        return {}
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _unique_statement_name,
    }


def make_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, direct: bool = False, **kw: Any
) -> AsyncEngine:
    """Create an async engine; made in the app's lifespan, never at import time.

    DB_PGBOUNCER=true sets the driver up for PgBouncer's transaction mode; `direct` connects to
    DIRECT_DATABASE_URL instead (for session state that outlives a transaction, e.g. a session lock)."""
    db = DatabaseSettings()
    if direct and db.direct_database_url:
        url, db = direct_url(url, db), DatabaseSettings(db_pgbouncer=False)
    elif direct:
        direct_url(url, db)  # raises when only a PgBouncer is known
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping (a round trip per checkout): a dropped connection raises, is invalidated by the
        # pool, and the request answers 503 (kit.errors); the next request gets a fresh connection.
        pool_pre_ping=False,
        pool_recycle=1800,
        # Error messages (logged with tracebacks) must not carry bound values: they can be teachers' names.
        hide_parameters=True,
        # JSON(B) columns through orjson: several times faster than the standard module both ways.
        json_serializer=kw.pop("json_serializer", _json_text),
        json_deserializer=kw.pop("json_deserializer", loads),
        connect_args={
            "server_settings": {"application_name": kw.pop("application_name", "iom")},
            **pgbouncer_connect_args(db),
        },
        **kw,
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    return None


async def _json_as_bytes(conn: asyncpg.Connection) -> None:
    """JSON(B) values as their UTF-8 bytes, in the binary protocol: no decoding to str and encoding back
    on the way to a response (jsonb's binary form is a version byte, then the text)."""
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        format="binary",
        encoder=lambda v: b"\x01" + (v if isinstance(v, bytes) else dumps(v)),
        decoder=lambda data: data[1:],
    )
    await conn.set_type_codec(
        "json",
        schema="pg_catalog",
        format="binary",
        encoder=lambda v: v if isinstance(v, bytes) else dumps(v),
        decoder=bytes,
    )


async def make_read_pool(url: str, *, size: int, application_name: str) -> asyncpg.Pool:
    """A small asyncpg pool for hot single-statement reads: no ORM session and no BEGIN/COMMIT around
    one SELECT. JSON(B) columns come back as their UTF-8 bytes, ready to be embedded in a response as is.
    Connections are opened lazily, so a service starts while PostgreSQL is down and recovers after.
    Only for statements that leave no session state behind: the reset asyncpg runs on every release
    (a round trip of UNLISTEN, RESET ALL, ...) is skipped. Behind PgBouncer (DB_PGBOUNCER=true)
    statements are not cached: the next one may run on another server connection."""
    pool = asyncpg.create_pool(
        asyncpg_dsn(url),
        min_size=0,
        max_size=size,
        max_inactive_connection_lifetime=300,
        reset=_keep_session,
        init=_json_as_bytes,
        server_settings={"application_name": application_name},
        statement_cache_size=0 if DatabaseSettings().db_pgbouncer else 100,
    )
    return await pool


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def session_dependency(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield the request's session: one transaction, committed here on success, else rolled back."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session, session.begin():
        yield session


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


# Commit before the response is sent (scope="function"), so a client never reads a 2xx for
# a transaction that then failed to commit.
DbSession = Annotated[AsyncSession, Depends(session_dependency, scope="function")]
