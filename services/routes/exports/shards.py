"""Sharded monthly exports (`--shard i/N`): which shard writes a municipality, the shards' locks, and who
writes the region workbooks.

Every shard reads the whole month's plan (the same file names and sheet titles as one run) and writes the
municipalities `shard_of` gives it. Shards run at the same time: each holds the export lock shared, its own
shard's lock and a lock per municipality it writes (exclusive), so a one-run export (which holds the export
lock exclusively), the retention and a second copy of the same shard are refused. A shard that has written
its files leaves a marker (`.shard-<i>-of-<N>.json`: per municipality its rows and routes by group and
status, no names) and then, one shard at a time, looks at the markers: when all N shards of the same plan
have left theirs, it writes the region workbooks from the municipal workbooks on disk (their sheets are
copied as they were deflated) and the markers' counts. The shard that finishes last therefore writes them
from every shard's final files: byte for byte the workbook of one run. A shard that starts removes its own
marker first, so a shard still running is never counted as done."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kit.xlsx import SheetPart
from services.routes.exports.files import open_private
from services.routes.exports.plan import Part, Plan
from services.routes.exports.queries import LOCK_KEY, try_lock, unlock
from services.routes.exports.workbook import LAYOUT

# The pod of an Indexed Job learns its index from Kubernetes in this variable.
INDEX_ENV = "JOB_COMPLETION_INDEX"
MAX_SHARDS = 64
MARKER_GLOB = ".shard-*-of-*.json"
# The sheet of a municipal workbook (it has one): the part the region workbook copies.
MUNICIPAL_SHEET = "xl/worksheets/sheet1.xml"


def _key(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


# Region workbooks are written by one shard at a time (a blocking lock, held for the writing only).
ASSEMBLY_KEY = _key("iom:routes:monthly-export:region-workbooks")


def shard_of(municipality: str, count: int) -> int:
    """The shard (0..count-1) that writes a municipality: by its code alone, so every shard agrees whatever
    the others read of the month."""
    digest = hashlib.sha256(f"iom:routes:export-shard:{municipality}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not (1 <= self.count <= MAX_SHARDS and 0 <= self.index < self.count):
            raise ValueError(f"часть задаётся как i/N, где 0 <= i < N <= {MAX_SHARDS}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not m:
            raise ValueError("часть задаётся как i/N, например 0/3")
        return cls(int(m[1]), int(m[2]))

    @classmethod
    def from_env(cls, count: int, env: Mapping[str, str] = os.environ) -> Shard:
        """Shard `JOB_COMPLETION_INDEX` of `count` (the index Kubernetes gives each pod of an Indexed Job)."""
        value = env.get(INDEX_ENV, "")
        if not value.strip().isdigit():
            raise ValueError(f"{INDEX_ENV} не содержит номер части")
        return cls(int(value), count)

    @property
    def sharded(self) -> bool:
        return self.count > 1

    @property
    def tag(self) -> str:
        return f"{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, municipality: str) -> bool:
        return not self.sharded or shard_of(municipality, self.count) == self.index

    def owns_record(self, region: str, municipality: str) -> bool:
        """The export records this run answers for: all of one run's; a shard's municipalities' only (the
        region workbooks' are the last shard's)."""
        return not self.sharded or (municipality != "" and self.owns(municipality))


# --- locks ---------------------------------------------------------------------------------------------


def shard_key(shard: Shard) -> int:
    return _key(f"iom:routes:monthly-export:shard:{shard.tag}")


def municipality_key(municipality: str) -> int:
    return _key(f"iom:routes:monthly-export:municipality:{municipality}")


async def _try(conn: AsyncConnection, fn: Any, key: int) -> bool:
    got = (await conn.execute(select(fn(key)))).scalar_one()
    await conn.commit()
    return bool(got)


async def lock_run(conn: AsyncConnection, shard: Shard) -> bool:
    """One run: the export lock. A shard: the export lock shared and its shard's lock."""
    if not shard.sharded:
        return await try_lock(conn)
    if not await _try(conn, func.pg_try_advisory_lock_shared, LOCK_KEY):
        return False
    if await _try(conn, func.pg_try_advisory_lock, shard_key(shard)):
        return True
    await unlock_run(conn, shard)
    return False


async def lock_municipalities(conn: AsyncConnection, municipalities: Iterable[str]) -> bool:
    """The lock of each municipality a shard writes (a shard of another N writing one of them: refused)."""
    for m in sorted(municipalities):
        if not await _try(conn, func.pg_try_advisory_lock, municipality_key(m)):
            return False
    return True


async def unlock_run(conn: AsyncConnection, shard: Shard) -> None:
    if not shard.sharded:
        await unlock(conn)
        return
    await conn.execute(select(func.pg_advisory_unlock_all()))  # the connection is the run's own
    await conn.commit()


async def lock_assembly(conn: AsyncConnection) -> None:
    await conn.execute(select(func.pg_advisory_lock(ASSEMBLY_KEY)))
    await conn.commit()


async def unlock_assembly(conn: AsyncConnection) -> None:
    await conn.execute(select(func.pg_advisory_unlock(ASSEMBLY_KEY)))
    await conn.commit()


# --- markers --------------------------------------------------------------------------------------------


def plan_digest(plan: Plan) -> str:
    """What every shard of one run agrees on: the formats, file names, sheet titles and regions."""
    text = json.dumps(
        [plan.month.key, list(plan.formats), plan.regions, plan.names, plan.region_of],
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def marker_path(month_dir: Path, shard: Shard) -> Path:
    return month_dir / f".shard-{shard.tag}.json"


def write_marker(month_dir: Path, shard: Shard, digest: str, parts: list[Part]) -> None:
    """This shard is done: its municipalities' rows and routes by (group, status), written atomically."""
    body = {
        "plan": digest,
        "rows": {m: n for p in parts for m, n in p.rows.items()},
        "tally": {m: sorted([g, s, n] for (g, s), n in c.items()) for p in parts for m, c in p.tally.items()},
    }
    path = marker_path(month_dir, shard)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open_private(tmp) as f:
        f.write(json.dumps(body, ensure_ascii=False, sort_keys=True).encode())
    os.replace(tmp, path)


def forget_marker(month_dir: Path, shard: Shard) -> None:
    marker_path(month_dir, shard).unlink(missing_ok=True)


def forget_markers(month_dir: Path) -> None:
    """A one-run export rewrites every file: no shard's marker speaks for them any more."""
    for p in month_dir.glob(MARKER_GLOB):
        p.unlink(missing_ok=True)


@dataclass
class Done:
    """What every shard wrote, when all of them have left a marker of the same plan."""

    rows: dict[str, int]
    tally: dict[str, Counter[tuple[int, str]]]


def all_done(month_dir: Path, count: int, digest: str) -> Done | None:
    done = Done({}, {})
    for i in range(count):
        try:
            body = json.loads(marker_path(month_dir, Shard(i, count)).read_bytes())
        except (OSError, ValueError):
            return None
        if body.get("plan") != digest:
            return None
        done.rows.update(body["rows"])
        for m, counts in body["tally"].items():
            done.tally[m] = Counter({(int(g), str(s)): int(n) for g, s, n in counts})
    return done


def sheet_of(workbook: Path, into: Path, rows: int) -> SheetPart:
    """The municipality's sheet as its workbook holds it, deflated: the bytes one run copies into the region
    workbook. Raises OSError or zipfile.BadZipFile when the file is not such a workbook."""
    with zipfile.ZipFile(workbook) as z:
        info = z.getinfo(MUNICIPAL_SHEET)
    with open(workbook, "rb") as src, open_private(into) as out:
        src.seek(info.header_offset)
        head = src.read(30)
        if len(head) != 30 or head[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"{workbook.name}: no local header for the sheet")
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        src.seek(info.header_offset + 30 + name_len + extra_len)
        left = info.compress_size
        while left:
            block = src.read(min(left, 1 << 20))
            if not block:
                raise zipfile.BadZipFile(f"{workbook.name}: the sheet is cut short")
            out.write(block)
            left -= len(block)
    return SheetPart(into, rows, info.CRC, info.file_size, info.compress_size, LAYOUT.last_column)


def own_leftovers(month_dir: Path, finals: set[str]) -> list[Path]:
    """Temporary files an interrupted run of this shard left (`.<file>.<pid>.tmp` of the files it writes)."""
    out = []
    for p in month_dir.glob(".*.tmp"):
        final = p.name[1:].rsplit(".", 2)[0]
        if final in finals:
            out.append(p)
    return out
