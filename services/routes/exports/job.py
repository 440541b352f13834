"""The monthly export job: every municipality's files for the month and the region workbooks, recorded."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from kit.xlsx import WorkbookTooLarge
from services.routes.exports.files import (
    DIR_MODE,
    REGION_FILE,
    WrittenFile,
    file_stem,
    prepare_folder,
    region_workbook,
    unlink_inside,
)
from services.routes.exports.month import Month
from services.routes.exports.names import Directory, read_directory
from services.routes.exports.plan import Plan, write_part
from services.routes.exports.processes import NextMunicipality, in_processes, largest_first
from services.routes.exports.progress import Progress
from services.routes.exports.queries import ExportRecords, month_counts, try_lock, unlock
from services.routes.exports.summary import SUMMARY_TITLE, summary_rows, write_summary
from services.routes.exports.workbook import sheet_title
from services.routes.exports.writers import FORMATS
from services.routes.webhooks import events as webhook_events


class ExportBusy(Exception):
    """Another export holds the lock."""


class ExportRefused(Exception):
    """The data cannot be exported as asked (the message says why)."""


@dataclass
class ExportSummary:
    month: str
    directory: Path
    municipalities: int = 0
    routes: int = 0
    files: list[WrittenFile] = field(default_factory=list)
    removed: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "directory": str(self.directory),
            "municipalities": self.municipalities,
            "routes": self.routes,
            "files": len(self.files),
            "removed_stale": self.removed,
            "seconds": round(self.seconds, 2),
        }


async def run_export(
    engine: AsyncEngine,
    month: Month,
    out_root: Path,
    formats: Sequence[str] = FORMATS,
    *,
    workers: int = 1,
    progress: TextIO | None = None,
    show_progress: bool = True,
    directory: Directory | None = None,
) -> ExportSummary:
    """Write every municipality's files for the month plus the region workbook; record them.

    Refuses (ExportBusy) while another run holds the lock. Files are replaced atomically; records
    of files this run no longer produces (a municipality without routes now) are removed. With
    `workers` > 1 the municipalities are shared among that many processes (same bytes either way).
    Names of municipalities and schools: `directory`, else read from the assessment directory through
    the gateway (names.DirectoryUnavailable when it does not answer: nothing is written).
    """
    async with engine.connect() as lock_conn:
        if not await try_lock(lock_conn):
            raise ExportBusy("another monthly export is running (its database lock is held); try again later")
        try:
            bar = Progress(0, progress) if show_progress else None
            try:
                names = directory if directory is not None else await _read_directory()
                return await _export_locked(engine, month, out_root, formats, workers, bar, names)
            except WorkbookTooLarge as e:
                raise ExportRefused(f"{e}; export fewer routes per file") from e
            finally:
                if bar is not None:
                    bar.close()
        finally:
            await unlock(lock_conn)


async def _read_directory() -> Directory:
    from kit.client import GatewayClient
    from kit.settings import CommonSettings

    client = GatewayClient(CommonSettings(), caller="routes", timeout=30)
    try:
        return await read_directory(client)
    finally:
        await client.aclose()


async def _plan(
    engine: AsyncEngine, month: Month, month_dir: Path, formats: Sequence[str], directory: Directory
) -> Plan:
    """The municipalities with routes in the month, their file stems (region workbooks' first) and sheet
    titles (their names; the summary's title is taken first)."""
    async with engine.connect() as conn:
        counts = await month_counts(conn, month)
        await conn.commit()
    stems: set[str] = set()
    regions = {r: file_stem(f"{REGION_FILE}-{r}", stems) for r in sorted({r for r, _, _ in counts})}
    titles: dict[str, set[str]] = {r: {SUMMARY_TITLE.lower()} for r in regions}  # unique within a workbook
    return Plan(
        month,
        month_dir,
        month_dir / f".work-{os.getpid()}",
        tuple(formats),
        regions,
        {m: (file_stem(m, stems), sheet_title(directory.municipalities.get(m) or m, titles[r])) for r, m, _ in counts},
        {m: r for r, m, _ in counts},
        {m: n for _, m, n in counts},
        directory,
    )


async def _export_locked(
    engine: AsyncEngine,
    month: Month,
    out_root: Path,
    formats: Sequence[str],
    workers: int,
    bar: Progress | None,
    directory: Directory,
) -> ExportSummary:
    t0 = time.monotonic()
    month_dir = (out_root / month.key).resolve()
    plan = await _plan(engine, month, month_dir, formats, directory)
    await asyncio.to_thread(prepare_folder, month_dir)
    if bar is not None:
        bar.total = sum(plan.counts.values())
    summary = ExportSummary(month.key, month_dir)
    try:
        await asyncio.to_thread(plan.work_dir.mkdir, DIR_MODE)
        processes = min(workers, len(plan.counts))
        if processes > 1:
            parts = await in_processes(engine, plan, processes, bar)
        else:
            parts = [await write_part(engine, plan, NextMunicipality(largest_first(plan.counts)), bar)]
        files = [f for p in parts for f in p.files]
        sheets = {m: sheet for p in parts for m, sheet in p.sheets.items()}
        tally = {m: counts for p in parts for m, counts in p.tally.items()}
        if "xlsx" in formats:
            for region, stem in plan.regions.items():
                ours = [m for m in plan.names if m in sheets and plan.region_of[m] == region]
                if ours:
                    rows = summary_rows([(m, directory.municipality(m)) for m in ours], tally)
                    summary_part = await asyncio.to_thread(write_summary, plan.work_dir / f"{stem}.summary", rows)
                    ordered = [(plan.names[m][1], sheets[m]) for m in ours]
                    files.append(
                        await asyncio.to_thread(
                            region_workbook, month, month_dir, region, stem, ordered, (SUMMARY_TITLE, summary_part)
                        )
                    )
    finally:
        await asyncio.to_thread(shutil.rmtree, plan.work_dir, True)
    summary.files = files
    summary.municipalities = sum(len(p.rows) for p in parts)
    summary.routes = sum(n for p in parts for n in p.rows.values())
    summary.removed = await _record(engine, month, month_dir, formats, files)
    summary.seconds = time.monotonic() - t0
    return summary


async def _record(
    engine: AsyncEngine, month: Month, month_dir: Path, formats: Sequence[str], files: list[WrittenFile]
) -> int:
    """Upsert a record per file; drop records (and files) of this month's formats not produced now, and the
    files a record no longer names (a region workbook written as `region.xlsx` before it had its code)."""
    produced = {(f.region, f.municipality, f.fmt): f.path for f in files}
    async with engine.begin() as conn:
        repo = ExportRecords(conn)
        before = await repo.of_month(month.key)
        await repo.upsert(
            [
                {
                    "month": month.key,
                    "region": f.region,
                    "municipality": f.municipality,
                    "format": f.fmt,
                    "filename": f.path.name,
                    "path": str(f.path),
                    "sha256": f.sha256,
                    "size_bytes": f.size_bytes,
                    "rows": f.rows,
                }
                for f in files
            ]
        )
        stale = [
            r
            for r in before
            if r["format"] in formats and (r["region"], r["municipality"], r["format"]) not in produced
        ]
        await repo.delete([r["id"] for r in stale])
        await webhook_events.exports_ready(conn, month.key)
    renamed = [
        Path(r["path"])
        for r in before
        if (key := (r["region"], r["municipality"], r["format"])) in produced and Path(r["path"]) != produced[key]
    ]
    unlink_inside(month_dir, [Path(r["path"]) for r in stale] + renamed)
    return len(stale)
