"""Retention of personal data (152-FZ): export files and their records, and stored idempotent answers,
are deleted once older than the settings allow."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncEngine

from kit.idempotency import purge_expired
from services.routes.exports.job import ExportBusy
from services.routes.exports.queries import try_lock, unlock
from services.routes.models import exports, idempotency_keys


@dataclass
class RetentionSummary:
    records: int = 0
    files: int = 0
    idempotency_records: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "export_records_removed": self.records,
            "export_files_removed": self.files,
            "idempotency_records_removed": self.idempotency_records,
        }


def month_folders(out_root: Path) -> list[Path]:
    return [p for p in out_root.iterdir() if p.is_dir() and not p.is_symlink()] if out_root.is_dir() else []


def remove_old_files(out_root: Path, named: list[Path], older_than: timedelta) -> int:
    """Remove the files records named and any file of a month folder last written before the cutoff (one an
    interrupted run or an older version left without a record); then the month folders left empty. Nothing
    outside the month folders of `out_root` is touched."""
    root = out_root.resolve()
    cutoff = time.time() - older_than.total_seconds()
    removed = 0
    folders = month_folders(root)
    doomed = {p for p in named if p.parent.parent == root}
    for folder in folders:
        doomed.update(p for p in folder.iterdir() if p.is_file() and p.stat().st_mtime < cutoff)
    for p in doomed:
        if p.is_file():
            p.unlink(missing_ok=True)
            removed += 1
    for folder in folders:
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed


async def run_retention(
    engine: AsyncEngine, out_root: Path, *, export_days: int, idempotency_days: int
) -> RetentionSummary:
    """Delete export records (and files) written more than `export_days` ago and idempotency records older
    than `idempotency_days`. Refuses (ExportBusy) while an export runs: it holds the same lock."""
    summary = RetentionSummary()
    async with engine.connect() as lock_conn:
        if not await try_lock(lock_conn):
            raise ExportBusy("идёт ежемесячная выгрузка (её блокировка в базе данных занята); повторите позже")
        try:
            async with engine.begin() as conn:
                gone = await conn.execute(
                    delete(exports)
                    .where(exports.c.created_at < func.now() - timedelta(days=export_days))
                    .returning(exports.c.path)
                )
                paths = [Path(r.path) for r in gone]
                summary.records = len(paths)
                summary.idempotency_records = await purge_expired(
                    conn, idempotency_keys, timedelta(days=idempotency_days)
                )
            summary.files = await asyncio.to_thread(remove_old_files, out_root, paths, timedelta(days=export_days))
        finally:
            await unlock(lock_conn)
    return summary
