"""Alembic per service: its own history, version table inside its own schema, only its own objects.

Several replicas may migrate at once (each starts with `migrate`): an upgrade takes a transaction-scoped
advisory lock of its schema first, so the others wait and then find the schema at head. Being
transaction-scoped, the lock also holds behind PgBouncer in transaction mode (the whole upgrade is one
transaction); with DIRECT_DATABASE_URL set, migrations connect to PostgreSQL itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from kit.db import DatabaseSettings, async_url, direct_url, pgbouncer_connect_args


def migration_lock_key(schema: str) -> str:
    """The text whose hash is the advisory lock key of `schema`'s migrations."""
    return f"iom:migrations:{schema}"


def alembic_config(migrations_dir: Path, url: str, schema: str) -> Config:
    if DatabaseSettings().direct_database_url:
        url = direct_url(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", async_url(url).render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["schema"] = schema
    return cfg


def upgrade(migrations_dir: Path, url: str, schema: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, url, schema), revision)


def downgrade(migrations_dir: Path, url: str, schema: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(migrations_dir, url, schema), revision)


def run_env(context: Any, target_metadata: MetaData) -> None:
    """Body of every service's migrations/env.py (online, async engine)."""
    config = context.config
    schema = str(config.attributes.get("schema") or target_metadata.schema)
    url = str(config.get_main_option("sqlalchemy.url"))

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        # Only the service's own schema (never the others', never the default one), never the version table.
        if type_ == "schema":
            return name == schema
        if type_ == "table":
            return name != "alembic_version"
        return True

    def do_run(connection: Connection) -> None:
        # Every migration names its schema, so the service's schema stays off the search path here: had
        # it been the default schema, autogenerate would reflect its tables as schema-less, with
        # schema-less foreign keys that never equal the models' (`alembic check` saw every one as changed).
        connection.execute(text("SET search_path TO extensions"))
        # One migrator per schema at a time; released when this transaction ends.
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": migration_lock_key(schema)}
        )
        connection.dialect.default_schema_name = connection.execute(text("SELECT current_schema()")).scalar()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool, connect_args=pgbouncer_connect_args())
        async with engine.connect() as conn:
            await conn.run_sync(do_run)
            await conn.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, version_table_schema=schema, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(run_async())
