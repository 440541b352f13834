"""The export's files: written atomically, named safely, a municipality's together, the region workbook."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from kit.xlsx import SheetPart
from services.routes.exports.month import Month
from services.routes.exports.rows import ExportRow
from services.routes.exports.workbook import MonthSheet, write_month_workbook
from services.routes.exports.writers import CsvWriter, JsonWriter

# A region workbook's record has no municipality (it holds them all); municipal roles never see it.
# Its file is `region-<region code>.xlsx`, one per region with routes in the month.
REGION_FILE = "region"
# The files name teachers (personal data, 152-FZ): readable by the service's own user only.
FILE_MODE = 0o600
DIR_MODE = 0o700


@dataclass
class WrittenFile:
    municipality: str  # "" for the region workbook
    region: str
    fmt: str
    path: Path
    rows: int
    sha256: str
    size_bytes: int


class AtomicFile:
    """Written under a hidden temporary name in the target folder and renamed into place."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")

    def open(self) -> BinaryIO:
        return open_private(self.tmp)

    def commit(self) -> tuple[str, int]:
        """fsync, hash, rename; return (sha256, size)."""
        with open(self.tmp, "rb") as f:
            os.fsync(f.fileno())
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        size = self.tmp.stat().st_size
        os.replace(self.tmp, self.final)
        return digest, size

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def open_private(path: Path) -> BinaryIO:
    """Open `path` for writing, created (or truncated) readable by the owner only, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # a file left by an older run keeps its mode through O_CREAT
    return os.fdopen(fd, "wb")


def private_dir(path: Path) -> None:
    """Create the folder (and missing parents) for the owner only; an existing one is made so too."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)


def file_stem(code: str, taken: set[str]) -> str:
    """A safe file name for a code, unique among `taken` (the region workbooks' names are taken first)."""
    stem = re.sub(r"[^0-9A-Za-z._-]", "_", code).lstrip(".") or "mo"
    if stem.lower() in taken:
        stem = f"{stem}-{hashlib.sha256(code.encode()).hexdigest()[:8]}"
    taken.add(stem.lower())
    return stem


class MunicipalFiles:
    """The files of one municipality, written together as its rows stream by."""

    def __init__(
        self,
        month: Month,
        month_dir: Path,
        work_dir: Path,
        region: str,
        municipality: str,
        stem: str,
        title: str,
        formats: Sequence[str],
    ) -> None:
        self.month, self.region, self.municipality, self.title = month, region, municipality, title
        self.rows = 0
        self.files = {fmt: AtomicFile(month_dir / f"{stem}.{fmt}") for fmt in formats}
        self.sinks: dict[str, BinaryIO] = {}
        self.writers: dict[str, Any] = {}
        self.sheet: MonthSheet | None = None
        self.sheet_part: SheetPart | None = None
        for fmt, f in self.files.items():
            if fmt == "xlsx":
                self.sheet = self.writers[fmt] = MonthSheet(work_dir / f"{stem}.sheet")
                continue
            self.sinks[fmt] = f.open()
            self.writers[fmt] = CsvWriter(self.sinks[fmt]) if fmt == "csv" else JsonWriter(self.sinks[fmt])

    def write(self, rows: Sequence[ExportRow]) -> None:
        for w in self.writers.values():
            w.write(rows)
        self.rows += len(rows)

    def finish(self) -> list[WrittenFile]:
        out = []
        for fmt, f in self.files.items():
            if fmt == "xlsx":
                assert self.sheet is not None
                self.sheet_part = self.sheet.finish()
                with f.open() as sink:
                    write_month_workbook(sink, self.month, [(self.title, self.sheet_part)])
            else:
                self.writers[fmt].finish()
                self.sinks[fmt].close()
            digest, size = f.commit()
            out.append(WrittenFile(self.municipality, self.region, fmt, f.final, self.rows, digest, size))
        return out

    def discard(self) -> None:
        for s in self.sinks.values():
            s.close()
        if self.sheet is not None:
            self.sheet.discard()
        for f in self.files.values():
            f.discard()


def region_workbook(
    month: Month,
    month_dir: Path,
    region: str,
    stem: str,
    sheets: list[tuple[str, SheetPart]],
    summary: tuple[str, SheetPart] | None = None,
) -> WrittenFile:
    """The summary sheet first, then one sheet per municipality of the region: the very sheets of the
    municipal files, copied as they were deflated. Its rows are the routes (the summary's are not counted)."""
    f = AtomicFile(month_dir / f"{stem}.xlsx")
    try:
        with f.open() as sink:
            write_month_workbook(sink, month, [summary, *sheets] if summary else sheets)
        digest, size = f.commit()
    except BaseException:
        f.discard()
        raise
    return WrittenFile("", region, "xlsx", f.final, sum(p.rows for _, p in sheets), digest, size)


def prepare_folder(month_dir: Path) -> None:
    """The month's folder, without the temporary files of an interrupted run (no other run is active: the
    caller holds the lock)."""
    private_dir(month_dir.parent)
    private_dir(month_dir)
    for p in month_dir.glob(".*.tmp"):
        p.unlink(missing_ok=True)
    for p in month_dir.glob(".work-*"):
        shutil.rmtree(p, ignore_errors=True)


def unlink_inside(folder: Path, paths: list[Path]) -> None:
    """Remove those of `paths` that are directly in `folder` (a record never removes anything elsewhere)."""
    for p in paths:
        if p.parent == folder:
            p.unlink(missing_ok=True)
