"""Test harness: a real PostgreSQL and the real processes, wired over HTTP on free ports."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy import stack
from kit.auth import Principal, Role, TokenCodec
from kit.settings import CommonSettings

TEST_ENV = {
    "ENVIRONMENT": "test",
    "JWT_SECRET": "test-secret-0123456789abcdef0123456789abcdef",
    # The services' own identity (role `service`), held by the services and the gateway only.
    "INTERNAL_JWT_SECRET": "test-internal-secret-0123456789abcdef0123456789",
    # The suite sends thousands of requests, and hundreds of bad tokens, from one address within
    # minutes: limits far above that (tests/gateway/test_rate_limits.py runs its own gateway with tight ones).
    "GATEWAY_RATE_LIMIT_PER_IP": "100000/minute",
    "GATEWAY_RATE_LIMIT_PER_PRINCIPAL": "100000/minute",
    "GATEWAY_RATE_LIMIT_FAILED_AUTH_PER_IP": "100000/minute",
    "GATEWAY_RATE_LIMIT_UPLOADS": "100000/minute",
    "GATEWAY_RATE_LIMIT_OPERATIONS": "{}",
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
    "ROUTES_FEED_POLL_SECONDS": "0.3",
    # Each test builds its own catalogue: no matching answers carried over from the previous one.
    "ROUTES_MATCH_CACHE_SECONDS": "0",
    # A quick audit delivery worker, so a route moves soon after the routes service is back.
    "AUDIT_OUTBOX_POLL_SECONDS": "0.5",
    "AUDIT_OUTBOX_BACKOFF_BASE_SECONDS": "0.3",
    "AUDIT_OUTBOX_BACKOFF_MAX_SECONDS": "1.5",
    # Small crafted cohorts: shares are read from two teachers up (production default is 10).
    "AUDIT_EFFECTIVENESS_MIN_GROUP": "2",
    # Outside development the audit refuses the public sample salt (issue 12): the stack's own secret.
    "AUDIT_SAMPLE_SALT": "test-stack-audit-sample-salt-9f3c",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield an admin URL of an empty database: TEST_DATABASE_URL, testcontainers, or embedded."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        import asyncio

        import asyncpg

        from kit.db import async_url
        from kit.dbadmin import asyncpg_dsn

        name = f"iom_test_{uuid.uuid4().hex[:8]}"

        async def create(sql: str) -> None:
            conn = await asyncpg.connect(asyncpg_dsn(given))
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(create(f'CREATE DATABASE "{name}"'))
        try:
            yield async_url(given).set(database=name, drivername="postgresql").render_as_string(hide_password=False)
        finally:
            asyncio.run(create(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    if docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17-alpine", driver=None) as pg:
            yield pg.get_connection_url()
        return
    pgdata = Path(tempfile.mkdtemp(prefix="iomtest-"))
    url, server = stack.start_embedded(pgdata / "pg")
    try:
        yield url
    finally:
        stack.stop_embedded(server)
        shutil.rmtree(pgdata, ignore_errors=True)


@dataclass
class Stack:
    admin_url: str
    ports: dict[str, int]
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str) -> None:
        proc = next(p for p in stack.ALL if p.name == name)
        self.procs[name] = stack.spawn(proc, self.env, self.log_dir)
        stack.wait_ready(self.url(name), procs=[self.procs[name]])

    def stop(self, name: str) -> None:
        pr = self.procs.pop(name, None)
        if pr is not None:
            stack.terminate([pr])

    def stop_all(self) -> None:
        stack.terminate(list(self.procs.values()))
        self.procs.clear()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))


def start_stack(admin_url: str, log_dir: Path) -> Stack:
    ports = {p.name: free_port() for p in stack.ALL}
    env = stack.process_env(admin_url, ports, {**os.environ, **TEST_ENV})
    st = Stack(admin_url, ports, env, log_dir)
    atexit.register(st.stop_all)
    for p in stack.ALL:
        st.procs[p.name] = stack.spawn(p, env, log_dir)
    for p in stack.ALL:
        stack.wait_ready(st.url(p.name), procs=list(st.procs.values()))
    return st


def codec() -> TokenCodec:
    return TokenCodec(CommonSettings(**{k.lower(): v for k, v in TEST_ENV.items()}))  # type: ignore[arg-type]


def token(role: Role | str, *, ttl: int = 600, **scope: Any) -> str:
    """A valid JWT for the test stack (scope: region, municipality, organisation, teacher_id, ...).

    A `service` token is an internal one, as a service mints it (INTERNAL_JWT_SECRET): tests act
    for a service with it; no client can get one through the gateway's CLI."""
    role = Role(role)
    sub = scope.pop("sub", None) or f"test-{role.value}-{uuid.uuid4().hex[:6]}"
    return codec().encode(Principal(sub=sub, role=role, **scope), ttl_seconds=ttl)


def auth(role: Role | str, **scope: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, **scope)}"}
