"""The monthly export job: every municipality's files for the month and the region workbooks, recorded."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kit.xlsx import SheetPart, WorkbookTooLarge
from services.routes.exports.files import (
    DIR_MODE,
    REGION_FILE,
    WrittenFile,
    file_stem,
    prepare_folder,
    private_dir,
    region_workbook,
    unlink_inside,
)
from services.routes.exports.month import Month
from services.routes.exports.names import Directory, read_directory
from services.routes.exports.plan import Part, Plan, write_part
from services.routes.exports.processes import NextMunicipality, in_processes, largest_first
from services.routes.exports.progress import Progress
from services.routes.exports.queries import ExportRecords, month_counts
from services.routes.exports.shards import (
    Shard,
    all_done,
    forget_marker,
    forget_markers,
    lock_assembly,
    lock_municipalities,
    lock_run,
    own_leftovers,
    plan_digest,
    sheet_of,
    unlock_assembly,
    unlock_run,
    write_marker,
)
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
    shard: Shard = field(default_factory=Shard)
    region_workbooks: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "directory": str(self.directory),
            "municipalities": self.municipalities,
            "routes": self.routes,
            "files": len(self.files),
            "removed_stale": self.removed,
            "seconds": round(self.seconds, 2),
            **({"shard": str(self.shard), "region_workbooks": self.region_workbooks} if self.shard.sharded else {}),
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
    shard: Shard | None = None,
) -> ExportSummary:
    """Write every municipality's files for the month plus the region workbook; record them.

    Refuses (ExportBusy) while another run holds the lock. Files are replaced atomically; records
    of files this run no longer produces (a municipality without routes now) are removed. With
    `workers` > 1 the municipalities are shared among that many processes (same bytes either way).
    With `shard` i/N only the municipalities of shard i are written (shards.py: N shards run at the same
    time and give together the files and records of one run; the last one done writes the region workbooks).
    Names of municipalities and schools: `directory`, else read from the assessment directory through
    the gateway (names.DirectoryUnavailable when it does not answer: nothing is written).
    """
    shard = shard or Shard()
    async with engine.connect() as lock_conn:
        if not await lock_run(lock_conn, shard):
            raise ExportBusy("идёт другая ежемесячная выгрузка (её блокировка в базе данных занята); повторите позже")
        try:
            bar = Progress(0, progress) if show_progress else None
            try:
                names = directory if directory is not None else await _read_directory()
                run = _Run(engine, lock_conn, month, tuple(formats), workers, bar, names, shard)
                return await run.export(out_root)
            except WorkbookTooLarge as e:
                raise ExportRefused(f"{e}; выгружайте меньше маршрутов в один файл") from e
            finally:
                if bar is not None:
                    bar.close()
        finally:
            await unlock_run(lock_conn, shard)


async def _read_directory() -> Directory:
    from kit.client import GatewayClient
    from kit.settings import CommonSettings

    client = GatewayClient(CommonSettings(), caller="routes", timeout=30)
    try:
        return await read_directory(client)
    finally:
        await client.aclose()


async def _plan(
    engine: AsyncEngine, month: Month, month_dir: Path, formats: Sequence[str], directory: Directory, work: str
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
        month_dir / f".work-{work}",
        tuple(formats),
        regions,
        {m: (file_stem(m, stems), sheet_title(directory.municipalities.get(m) or m, titles[r])) for r, m, _ in counts},
        {m: r for r, m, _ in counts},
        {m: n for _, m, n in counts},
        directory,
    )


@dataclass
class _Run:
    """One export run: the whole month, or one shard of it."""

    engine: AsyncEngine
    lock_conn: AsyncConnection
    month: Month
    formats: tuple[str, ...]
    workers: int
    bar: Progress | None
    directory: Directory
    shard: Shard

    async def export(self, out_root: Path) -> ExportSummary:
        t0 = time.monotonic()
        month_dir = (out_root / self.month.key).resolve()
        shard = self.shard
        work = shard.tag if shard.sharded else str(os.getpid())
        plan = await _plan(self.engine, self.month, month_dir, self.formats, self.directory, work)
        digest = plan_digest(plan)
        if shard.sharded:
            plan = dataclasses.replace(plan, counts={m: n for m, n in plan.counts.items() if shard.owns(m)})
            if not await lock_municipalities(self.lock_conn, plan.counts):
                raise ExportBusy("другая выгрузка пишет муниципалитет этой части; повторите позже")
            await asyncio.to_thread(_prepare_shard, plan, shard)
        else:
            await asyncio.to_thread(prepare_folder, month_dir)
            await asyncio.to_thread(forget_markers, month_dir)
        if self.bar is not None:
            self.bar.total = sum(plan.counts.values())
        summary = ExportSummary(self.month.key, month_dir, shard=shard)
        try:
            await asyncio.to_thread(plan.work_dir.mkdir, DIR_MODE)
            parts = await self._parts(plan)
            files = [f for p in parts for f in p.files]
            if not shard.sharded and "xlsx" in self.formats:
                sheets = {m: sheet for p in parts for m, sheet in p.sheets.items()}
                rows = {m: n for p in parts for m, n in p.rows.items()}
                tally = {m: counts for p in parts for m, counts in p.tally.items()}
                files += await self._region_workbooks(plan, rows, tally, sheets)
        finally:
            await asyncio.to_thread(shutil.rmtree, plan.work_dir, True)
        summary.files = files
        summary.municipalities = sum(len(p.rows) for p in parts)
        summary.routes = sum(n for p in parts for n in p.rows.values())
        summary.removed = await _record(self.engine, self.month, month_dir, self.formats, files, shard.owns_record)
        if shard.sharded:
            await asyncio.to_thread(write_marker, month_dir, shard, digest, parts)
            books = await self._after_every_shard(plan, digest)
            summary.files += books
            summary.region_workbooks = len(books)
        summary.seconds = time.monotonic() - t0
        return summary

    async def _parts(self, plan: Plan) -> list[Part]:
        processes = min(self.workers, len(plan.counts))
        if processes > 1:
            return await in_processes(self.engine, plan, processes, self.bar)
        return [await write_part(self.engine, plan, NextMunicipality(largest_first(plan.counts)), self.bar)]

    async def _region_workbooks(
        self,
        plan: Plan,
        rows: dict[str, int],
        tally: dict[str, Counter[tuple[int, str]]],
        sheets: dict[str, SheetPart] | None = None,
    ) -> list[WrittenFile]:
        """A workbook per region: its summary, then the sheets of its municipalities in the plan's order (the
        parts written in this run, else each municipality's sheet copied out of its workbook on disk)."""
        files = []
        for region, stem in plan.regions.items():
            ours = [m for m in plan.names if m in rows and plan.region_of[m] == region]
            if not ours:
                continue
            ordered = []
            for m in ours:
                file_stem_, title = plan.names[m]
                if sheets is not None:
                    part = sheets[m]
                else:
                    workbook = plan.month_dir / f"{file_stem_}.xlsx"
                    part = await asyncio.to_thread(sheet_of, workbook, plan.work_dir / f"{file_stem_}.sheet", rows[m])
                ordered.append((title, part))
            summary = summary_rows([(m, self.directory.municipality(m)) for m in ours], tally)
            summary_part = await asyncio.to_thread(write_summary, plan.work_dir / f"{stem}.summary", summary)
            files.append(
                await asyncio.to_thread(
                    region_workbook, self.month, plan.month_dir, region, stem, ordered, (SUMMARY_TITLE, summary_part)
                )
            )
        return files

    async def _after_every_shard(self, plan: Plan, digest: str) -> list[WrittenFile]:
        """One shard at a time: when every shard of this plan has left its marker, the region workbooks from
        the municipal workbooks on disk, recorded (records of regions without routes now are dropped)."""
        await lock_assembly(self.lock_conn)
        try:
            done = await asyncio.to_thread(all_done, plan.month_dir, self.shard.count, digest)
            if done is None:
                return []
            books: list[WrittenFile] = []
            if "xlsx" in self.formats:
                await asyncio.to_thread(plan.work_dir.mkdir, DIR_MODE, False, True)
                try:
                    books = await self._region_workbooks(plan, done.rows, done.tally)
                finally:
                    await asyncio.to_thread(shutil.rmtree, plan.work_dir, True)
            await _record(self.engine, self.month, plan.month_dir, self.formats, books, _region_record)
            return books
        finally:
            await unlock_assembly(self.lock_conn)


def _prepare_shard(plan: Plan, shard: Shard) -> None:
    """The month's folder; this shard's marker, temporary files and work folder of an interrupted run go
    (other shards' are theirs: they may be running)."""
    private_dir(plan.month_dir.parent)
    private_dir(plan.month_dir)
    forget_marker(plan.month_dir, shard)
    shutil.rmtree(plan.work_dir, ignore_errors=True)
    finals = {f"{plan.names[m][0]}.{fmt}" for m in plan.counts for fmt in plan.formats}
    for p in own_leftovers(plan.month_dir, finals):
        p.unlink(missing_ok=True)


def _region_record(region: str, municipality: str) -> bool:
    return municipality == ""


async def _record(
    engine: AsyncEngine,
    month: Month,
    month_dir: Path,
    formats: Sequence[str],
    files: list[WrittenFile],
    ours: Callable[[str, str], bool] = lambda region, municipality: True,
) -> int:
    """Upsert a record per file; drop records (and files) of this month's formats not produced now, and the
    files a record no longer names (a region workbook written as `region.xlsx` before it had its code).
    `ours` (region, municipality) says which records this run answers for (a shard: its municipalities)."""
    produced = {(f.region, f.municipality, f.fmt): f.path for f in files}
    async with engine.begin() as conn:
        repo = ExportRecords(conn)
        before = [r for r in await repo.of_month(month.key) if ours(r["region"], r["municipality"])]
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
