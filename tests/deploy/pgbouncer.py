"""A real PgBouncer in transaction mode in front of the test PostgreSQL (the Debian package's binary)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.harness import free_port


def _owner(host: str) -> str:
    import pwd

    return pwd.getpwuid(os.stat(host).st_uid).pw_name if host.startswith("/") else "nobody"


def available() -> bool:
    return shutil.which("pgbouncer") is not None


@contextmanager
def pgbouncer(server_url: str, users: dict[str, str], *, pool_size: int = 1) -> Iterator[str]:
    """Run PgBouncer (transaction mode, `pool_size` server connections per user) in front of `server_url`'s
    server; yield `server_url` sent through it (its host and port, the same database and user)."""
    u = make_url(server_url)
    host = str(u.query.get("host") or u.host or "127.0.0.1")
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="iom-pgbouncer-"))
    os.chmod(work, 0o777)
    (work / "userlist.txt").write_text("".join(f'"{name}" "{password}"\n' for name, password in users.items()))
    (work / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={host} port={u.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = md5
auth_file = {work}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
reserve_pool_size = 0
max_client_conn = 200
server_reset_query =
ignore_startup_parameters = extra_float_digits
"""
    )
    for f in work.iterdir():
        os.chmod(f, 0o666)
    # PgBouncer refuses to run as root: it runs as the user owning PostgreSQL's socket directory then.
    user = ["-u", _owner(host)] if os.geteuid() == 0 else []
    log = open(work / "stderr.log", "wb")
    proc = subprocess.Popen(["pgbouncer", *user, str(work / "pgbouncer.ini")], stderr=log)
    try:
        for _ in range(200):
            if proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {(work / 'stderr.log').read_text()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        through = u.set(host="127.0.0.1", port=port, query={k: v for k, v in u.query.items() if k != "host"})
        yield through.render_as_string(hide_password=False)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
