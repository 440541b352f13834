"""`python -m services.routes serve | migrate | export --month YYYY-MM|previous | retention`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from kit.cli import service_main
from services.routes.config import RoutesSettings

# Exit status when another export holds the lock (EX_TEMPFAIL: try again later).
EXIT_BUSY = 75


def _month(value: str) -> Any:
    from services.routes.exports.month import Month

    try:
        return Month.parse(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _formats(value: str) -> list[str]:
    from services.routes.exports.writers import FORMATS

    chosen = [f.strip().lower() for f in value.split(",") if f.strip()]
    bad = [f for f in chosen if f not in FORMATS]
    if bad or not chosen:
        raise argparse.ArgumentTypeError(f"formats are a comma-separated subset of {','.join(FORMATS)}")
    return [f for f in FORMATS if f in chosen]


def _shard(value: str) -> Any:
    from services.routes.exports.shards import Shard

    try:
        return Shard.parse(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _chosen_shard(args: argparse.Namespace) -> Any:
    from services.routes.exports.shards import Shard

    if args.shard_from_env is None:
        return args.shard
    try:
        return Shard.from_env(args.shard_from_env)
    except ValueError as e:
        print(f"Выгрузка не выполнена: {e}", file=sys.stderr)
        sys.exit(2)


def _extra(sub: Any, handlers: dict[str, Any]) -> None:
    p = sub.add_parser(
        "export",
        help="write the monthly export of routes: a file per municipality and format, and the region workbook",
    )
    p.add_argument("--month", required=True, type=_month, help="YYYY-MM, or 'previous' (the month before today)")
    p.add_argument("--out", type=Path, help="folder of the exports (default: ROUTES_EXPORT_DIR)")
    p.add_argument("--formats", type=_formats, default=["csv", "xlsx", "json"], help="e.g. csv,xlsx,json")
    p.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        choices=range(1, 17),
        metavar="N",
        help="processes sharing the municipalities (default: 2 where there are 2 cores; the files are the "
        "same for any N)",
    )
    shards = p.add_mutually_exclusive_group()
    shards.add_argument(
        "--shard",
        type=_shard,
        metavar="i/N",
        help="write only shard i of N (by municipality); N shards run at the same time give the files and "
        "records of one run, the last one done writes the region workbooks",
    )
    shards.add_argument(
        "--shard-from-env",
        type=int,
        metavar="N",
        help="shard JOB_COMPLETION_INDEX of N (the index Kubernetes gives each pod of an Indexed Job)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    handlers["export"] = lambda args: asyncio.run(_export(args))
    r = sub.add_parser(
        "retention",
        help="delete export files and records older than ROUTES_EXPORT_RETENTION_DAYS and stored idempotent "
        "answers older than ROUTES_IDEMPOTENCY_RETENTION_DAYS (personal data, 152-FZ)",
    )
    r.add_argument("--out", type=Path, help="folder of the exports (default: ROUTES_EXPORT_DIR)")
    handlers["retention"] = lambda args: asyncio.run(_retention(args))


async def _export(args: argparse.Namespace) -> None:

    from kit.app import service_database_url
    from kit.db import make_engine
    from kit.settings import CommonSettings
    from services.routes.exports.job import ExportBusy, ExportRefused, run_export
    from services.routes.exports.names import DirectoryUnavailable

    shard = _chosen_shard(args)
    settings = RoutesSettings()
    engine = make_engine(
        service_database_url(CommonSettings(), settings),
        pool_size=2,
        max_overflow=0,
        application_name="routes-export",
        direct=True,  # the job's lock is a session advisory lock: not through PgBouncer's transaction pooling
    )
    try:
        summary = await run_export(
            engine,
            args.month,
            args.out or Path(settings.export_dir),
            args.formats,
            workers=args.workers,
            show_progress=not args.quiet,
            shard=shard,
        )
    except (ExportBusy, DirectoryUnavailable) as e:  # try again later
        print(f"Выгрузка не выполнена: {e}", file=sys.stderr)
        sys.exit(EXIT_BUSY)
    except ExportRefused as e:
        print(f"Выгрузка не выполнена: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        await engine.dispose()
    print(json.dumps(summary.as_dict(), ensure_ascii=False))


async def _retention(args: argparse.Namespace) -> None:
    from kit.app import service_database_url
    from kit.db import make_engine
    from kit.settings import CommonSettings
    from services.routes.exports.job import ExportBusy
    from services.routes.exports.retention import run_retention

    settings = RoutesSettings()
    engine = make_engine(
        service_database_url(CommonSettings(), settings),
        pool_size=2,
        max_overflow=0,
        application_name="routes-retention",
        direct=True,  # it takes the export's session advisory lock: not through PgBouncer's transaction pooling
    )
    try:
        summary = await run_retention(
            engine,
            args.out or Path(settings.export_dir),
            export_days=settings.export_retention_days,
            idempotency_days=settings.idempotency_retention_days,
        )
    except ExportBusy as e:
        print(f"Очистка не выполнена: {e}", file=sys.stderr)
        sys.exit(EXIT_BUSY)
    finally:
        await engine.dispose()
    print(json.dumps(summary.as_dict(), ensure_ascii=False))


if __name__ == "__main__":
    service_main(
        settings_factory=RoutesSettings,
        app_factory="services.routes.app:create_app",
        migrations_dir=Path(__file__).parent / "migrations",
        extra=_extra,
    )
