"""What an export run writes (its plan), and the part of it one process writes as the rows stream by."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kit.xlsx import SheetPart
from services.routes.exports.files import MunicipalFiles, WrittenFile
from services.routes.exports.month import Month
from services.routes.exports.names import Directory
from services.routes.exports.queries import fetch_chunks, month_query
from services.routes.exports.rows import export_rows


@dataclass(frozen=True)
class Plan:
    """What the run writes: the municipalities in sheet order, each with its file stem and sheet title."""

    month: Month
    month_dir: Path
    work_dir: Path
    formats: tuple[str, ...]
    regions: dict[str, str]  # region -> its workbook's file stem
    names: dict[str, tuple[str, str]]  # municipality -> (file stem, sheet title), in sheet order
    region_of: dict[str, str]  # municipality -> region
    counts: dict[str, int]
    directory: Directory = field(default_factory=Directory)


@dataclass
class Part:
    """What one process wrote: files, and per municipality its deflated sheet, row count and routes by
    (group, status) for the region workbook's summary."""

    files: list[WrittenFile] = field(default_factory=list)
    sheets: dict[str, SheetPart] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    tally: dict[str, Counter[tuple[int, str]]] = field(default_factory=dict)


class MonthFiles:
    """Files of a set of municipalities, written as chunks of rows arrive (synchronous: a worker thread)."""

    def __init__(self, plan: Plan, bar: Any) -> None:
        self.plan, self.bar = plan, bar
        self.current: MunicipalFiles | None = None
        self.part = Part()

    def consume(self, raw: list[Any]) -> None:
        rows = export_rows(raw, self.plan.month, self.plan.directory)
        for municipality, group in groupby(rows, key=lambda r: r.municipality):
            part = list(group)
            self.part.tally.setdefault(municipality, Counter()).update((r.group, r.status) for r in part)
            if self.current is None or self.current.municipality != municipality:
                self._close_current()
                stem, title = self.plan.names[municipality]
                self.current = MunicipalFiles(
                    self.plan.month,
                    self.plan.month_dir,
                    self.plan.work_dir,
                    part[0].region,
                    municipality,
                    stem,
                    title,
                    self.plan.formats,
                )
            self.current.write(part)
        if self.bar is not None and rows:
            self.bar.advance(len(rows), rows[-1].municipality)

    def _close_current(self) -> None:
        if self.current is not None:
            self.part.files += self.current.finish()
            self.part.rows[self.current.municipality] = self.current.rows
            if self.current.sheet_part is not None:
                self.part.sheets[self.current.municipality] = self.current.sheet_part
            self.current = None

    def finish(self) -> Part:
        self._close_current()
        return self.part

    def discard(self) -> None:
        """Drop the temporary files of an unfinished municipality."""
        if self.current is not None:
            self.current.discard()
            self.current = None


async def pipelined(chunks: AsyncGenerator[list[Any], None], consume: Callable[[list[Any]], None]) -> None:
    """Consume each chunk in a worker thread while the next one is fetched, so the database works meanwhile."""
    ahead = asyncio.ensure_future(anext(chunks, None))
    try:
        while (raw := await ahead) is not None:
            ahead = asyncio.ensure_future(anext(chunks, None))
            await asyncio.to_thread(consume, raw)
    finally:
        if not ahead.done():
            ahead.cancel()
            with contextlib.suppress(BaseException):
                await ahead
        await chunks.aclose()


async def write_part(engine: AsyncEngine, plan: Plan, take: Callable[[], str | None], bar: Any) -> Part:
    """Write the files of the municipalities `take` hands out, streaming the rows of each."""
    files = MonthFiles(plan, bar)
    try:
        async with engine.connect() as conn:
            await pipelined(_chunks(conn, plan.month, take), files.consume)
        return await asyncio.to_thread(files.finish)
    finally:
        await asyncio.to_thread(files.discard)


async def _chunks(
    conn: AsyncConnection, month: Month, take: Callable[[], str | None]
) -> AsyncGenerator[list[Any], None]:
    """The rows of one municipality after another, as one stream: the next one's first rows are
    fetched while the last ones of the previous are written."""
    while (municipality := take()) is not None:
        async for chunk in fetch_chunks(conn, month_query(month, municipality)):
            yield chunk
