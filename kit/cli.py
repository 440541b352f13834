"""The command line every process shares: `serve` and `migrate`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kit.settings import CommonSettings, ServiceSettings

# An idle keep-alive connection stays open this long. It must outlast the gateway's pool of idle
# upstream connections (gateway.proxy, 15 s): when the server closed first, a request the gateway
# sent on a connection just being closed failed as 503 "upstream unavailable" (seen under load after
# a few seconds' pause, once aiohttp's single retry also took a stale pooled connection).
KEEP_ALIVE_SECONDS = 65


def serve(factory: str, host: str, port: int, *, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def service_main(
    *,
    settings_factory: Callable[[], ServiceSettings],
    app_factory: str,
    migrations_dir: Path | None,
    argv: Sequence[str] | None = None,
    extra: Callable[[argparse._SubParsersAction, Any], None] | None = None,
) -> None:
    """Parse `serve` / `migrate [upgrade|downgrade] [revision]` (+ service-specific commands)."""
    settings = settings_factory()
    parser = argparse.ArgumentParser(prog=f"python -m {app_factory.split(':')[0].rsplit('.', 1)[0]}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the HTTP server")
    p_serve.add_argument("--host", default=settings.host)
    p_serve.add_argument("--port", type=int, default=settings.port)
    p_serve.add_argument("--workers", type=int, default=1)
    if migrations_dir is not None:
        p_mig = sub.add_parser("migrate", help="apply or revert this service's migrations")
        p_mig.add_argument("direction", nargs="?", choices=["upgrade", "downgrade"], default="upgrade")
        p_mig.add_argument("revision", nargs="?", default=None)
    handlers: dict[str, Callable[[argparse.Namespace], None]] = {}
    if extra is not None:
        extra(sub, handlers)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(app_factory, args.host, args.port, workers=args.workers)
    elif args.command == "migrate":
        from kit import migrations
        from kit.app import service_database_url

        assert migrations_dir is not None
        url = service_database_url(CommonSettings(), settings)
        if args.direction == "upgrade":
            migrations.upgrade(migrations_dir, url, settings.db_schema, args.revision or "head")
        else:
            migrations.downgrade(migrations_dir, url, settings.db_schema, args.revision or "base")
    else:
        handlers[args.command](args)
