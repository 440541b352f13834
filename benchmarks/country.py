"""The whole country: 85 regions through intake, generation with 1 and 2 routes processes, and the sharded export.

    .venv/bin/python benchmarks/country.py [--scale 0.1 | --full] [--partitions 8] [--shards 2] [--memory-check]

Region sizes follow the country's shape: 85 regions from 3,000 to 80,000 teachers, skewed towards the
small ones (3000 * (80000/3000) ** (u ** k) at u = i / 84, with k chosen so the sum is
1,000,000), times `--scale` (a tenth by default; `--full` is 1.0). Starts its own embedded PostgreSQL
and the five processes (benchmarks/faults.py `FaultStack`), then:

1. intake: each region's municipalities and schools (benchmarks/intake.py `synthetic_region`, codes
   prefixed by the region), its framework and campaign, and one CSV upload of every teacher's result
   through the gateway, while the routes service is stopped;
2. generation with 1 routes process: the feed read in `--partitions` partitions (ROUTES_FEED_PARTITIONS),
   as many at once as the service's default ROUTES_FEED_PARTITION_WORKERS (2),
   timed until every teacher has a route; then the routes tables are emptied (their feed cursors too) and
   the same results are generated again
3. with 2 routes processes (the second one is `FaultStack.spawn_routes_replica`), the same partitions;
4. the sharded monthly export: `python -m services.routes export --shard i/N --formats xlsx`, N at once
   (benchmarks/routes_export.py `run_child`: each child reports its own peak memory).

Prints each stage's rate, the peak resident memory of every process in it (sampled every 20 ms with
benchmarks/intake.py `PeakRss`; the export children report their VmHWM), the ratio of 2 processes to 1,
and the projection of a full country (seconds per teacher of each stage x 1,000,000). With
`--memory-check` the whole run is done at scale / 10 first, and every process's peak is printed for
both sizes (the target: flat as the size grows tenfold).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.faults import FaultStack
from benchmarks.intake import INSTRUMENT, PeakRss, results_csv, synthetic_region
from benchmarks.routes_export import PEAK, run_child
from deploy import stack
from kit.auth import Role
from kit.dbadmin import asyncpg_dsn
from tests.assessment.intake_support import framework_doc
from tests.harness import auth

REGIONS = 85
SMALLEST, LARGEST, COUNTRY = 3_000, 80_000, 1_000_000
NIGHT_HOURS = 8.0  # 22:00 to 06:00
TARGET_RATIO = 1.4


def region_sizes(scale: float) -> list[int]:
    """85 sizes from SMALLEST to LARGEST, skewed to the small ones, summing to COUNTRY, times `scale`."""

    def sizes(k: float) -> list[float]:
        return [SMALLEST * (LARGEST / SMALLEST) ** ((i / (REGIONS - 1)) ** k) for i in range(REGIONS)]

    lo, hi = 1.0, 20.0  # k = 1 is log-uniform (about 2,000,000 in all); a larger k, fewer large regions
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(sizes(mid)) > COUNTRY else (lo, mid)
    return [max(1, round(s * scale)) for s in sizes((lo + hi) / 2)]


def region_code(i: int) -> str:
    return f"r-{i + 1:02d}"


def prefixed_region(code: str, teachers: int) -> dict[str, Any]:
    """synthetic_region with codes of its own (municipality and school codes are unique country-wide)."""
    reg = synthetic_region(teachers, seed=teachers)
    for m in reg["municipalities"]:
        m["region"], m["code"] = code, f"{code}-{m['code']}"
    for o in reg["organisations"]:
        o["code"], o["municipality"] = f"{code}-{o['code']}", f"{code}-{o['municipality']}"
    return reg


# --- memory of every process ---------------------------------------------------------------------


@dataclass
class Peaks:
    """Peak RSS (MB) of every process a stage ran, sampled while it ran."""

    mb: dict[str, float] = field(default_factory=dict)

    def watch(self, procs: dict[str, int]) -> _Watch:
        return _Watch(self, procs)


class _Watch:
    def __init__(self, peaks: Peaks, procs: dict[str, int]) -> None:
        self.peaks = peaks
        self.samplers = {name: PeakRss(pid) for name, pid in procs.items()}

    def __enter__(self) -> _Watch:
        for s in self.samplers.values():
            s.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for name, s in self.samplers.items():
            s.__exit__()
            self.peaks.mb[name] = max(self.peaks.mb.get(name, 0.0), s.peak / 2**20)


def running(fs: FaultStack) -> dict[str, int]:
    out = {name: pr.pid for name, pr in fs.stack.procs.items()}
    out.update({f"routes-{i + 2}": pr.pid for i, pr in enumerate(fs.extra_procs) if pr.poll() is None})
    return out


# --- the stages ----------------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    teachers: int
    seconds: float
    peaks: dict[str, float]
    note: str = ""

    @property
    def rate(self) -> float:
        return self.teachers / self.seconds


async def load_region(api: httpx.AsyncClient, code: str, teachers: int, maxes: list[int], codes: list[str]) -> float:
    """One region's directory, framework, campaign and upload; the upload's seconds."""
    h = auth(Role.service, region=code, sub="bench-loader")
    reg = prefixed_region(code, teachers)
    for path, body in (
        ("/api/v1/municipalities", reg["municipalities"]),
        ("/api/v1/organisations", reg["organisations"]),
    ):
        (await api.put(path, json=body, headers=h)).raise_for_status()
    (await api.post("/api/v1/frameworks", json=framework_doc(), headers=h)).raise_for_status()
    campaign = await new_campaign_of(api, code)
    body, _ = results_csv(reg, teachers, maxes, codes)
    body = body.replace(b"\nb-", f"\n{code}-".encode())  # external ids are unique country-wide
    t0 = time.perf_counter()
    r = await api.post(
        f"/api/v1/campaigns/{campaign}/results",
        content=body,
        headers={**h, "Content-Type": "text/csv; charset=utf-8", "Idempotency-Key": uuid.uuid4().hex},
    )
    seconds = time.perf_counter() - t0
    if r.status_code != 200 or r.json()["inserted"] != teachers:
        raise SystemExit(f"upload of {code} failed: {r.status_code} {r.text[:2000]}")
    return seconds


async def new_campaign_of(api: httpx.AsyncClient, code: str) -> str:
    body = {
        "name": f"Бенчмарк страны: {code}",
        "source": "fioko_subject",
        "subject": "mathematics",
        "assessed_on": date.today().isoformat(),
        "framework_code": "default",
        "instrument": INSTRUMENT,
    }
    r = await api.post("/api/v1/campaigns", json=body, headers=auth(Role.regional_specialist, region=code))
    r.raise_for_status()
    return str(r.json()["id"])


def intake(fs: FaultStack, sizes: list[int]) -> Stage:
    inst = next(i for i in framework_doc()["instruments"] if i["code"] == INSTRUMENT)
    maxes, codes = [int(it["max_points"]) for it in inst["items"]], [it["code"] for it in inst["items"]]

    async def run() -> float:
        async with httpx.AsyncClient(base_url=fs.gateway, timeout=httpx.Timeout(600)) as api:
            return sum([await load_region(api, region_code(i), n, maxes, codes) for i, n in enumerate(sizes)])

    peaks = Peaks()
    t0 = time.perf_counter()
    with peaks.watch(running(fs)):
        uploads = asyncio.run(run())
    wall = time.perf_counter() - t0
    return Stage("intake", sum(sizes), wall, peaks.mb, f"uploads alone {uploads:.1f} s = {sum(sizes) / uploads:,.0f}/s")


async def scalar(admin_url: str, sql: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def empty_routes(admin_url: str) -> None:
    """Every table of the routes schema (routes, events, feed cursors and leases), none of the others."""
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'routes' AND tablename <> 'alembic_version'"
        )
        await conn.execute(f"TRUNCATE {', '.join(f'routes.{r[0]}' for r in rows)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


steady: dict[int, float] = {}  # routes/s from the first route written to the last, by routes processes


def generation(fs: FaultStack, teachers: int, processes: int, within: float) -> Stage:
    """Start `processes` routes processes on a full feed; time until every teacher has a route."""
    fs.stack.stop("routes")
    stack.terminate(fs.extra_procs)
    fs.extra_procs.clear()
    asyncio.run(empty_routes(fs.admin_url))
    peaks = Peaks()
    sampler_stop = threading.Event()

    def sample_new() -> None:  # the processes of this stage start inside it
        seen: set[str] = set()
        while not sampler_stop.is_set():
            for name, pid in running(fs).items():
                if name not in seen and name.startswith("routes"):
                    seen.add(name)
                    watches.append(peaks.watch({name: pid}).__enter__())
            time.sleep(0.05)

    watches: list[_Watch] = []
    thread = threading.Thread(target=sample_new, daemon=True)
    t0 = time.perf_counter()
    thread.start()
    first = 0.0
    with peaks.watch({k: v for k, v in running(fs).items() if not k.startswith("routes")}):
        fs.start("routes")
        for n in range(2, processes + 1):
            fs.spawn_routes_replica(ROUTES_FEED_REPLICA=f"routes-{n}")
        done = 0
        while done < teachers:
            time.sleep(0.5)  # count(*) of the routes costs PostgreSQL a few ms: not more often than this
            done = asyncio.run(scalar(fs.admin_url, "SELECT count(*) FROM routes.routes"))
            if done and not first:
                first = time.perf_counter() - t0
            if time.perf_counter() - t0 > within:
                raise SystemExit(f"gave up: {done} of {teachers} routes after {within:.0f} s")
        wall = time.perf_counter() - t0
        sampler_stop.set()
        thread.join()
        for w in watches:
            w.__exit__()
    steady[processes] = teachers / (wall - first)
    note = f"first route after {first:.1f} s (start-up); from the first to the last {teachers / (wall - first):,.0f}/s"
    return Stage(
        f"generation, {processes} routes process{'es' if processes > 1 else ''}", teachers, wall, peaks.mb, note
    )


def export(fs: FaultStack, teachers: int, shards: int) -> Stage:
    """N shards of this month's XLSX export at once, each a child process reporting its own peak."""
    out = Path(tempfile.mkdtemp(prefix="iom-bench-country-export-"))
    env = {**os.environ, **fs.stack.env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    env["ROUTES_EXPORT_DIR"] = str(out)
    month = date.today().strftime("%Y-%m")
    results: dict[int, tuple[float, float, float, str]] = {}

    def shard(i: int) -> None:
        code = PEAK + (
            "import runpy\nsys.argv = ['services.routes', 'export', '--month', "
            f"'{month}', '--formats', 'xlsx', '--quiet', '--workers', '1', '--shard', '{i}/{shards}']\n"
            "runpy.run_module('services.routes', run_name='__main__')\n"
        )
        results[i] = run_child(["-c", code], env)

    peaks = Peaks()
    try:
        t0 = time.perf_counter()
        with peaks.watch(running(fs)):
            threads = [threading.Thread(target=shard, args=(i,)) for i in range(shards)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        wall = time.perf_counter() - t0
        if len(results) != shards:
            raise SystemExit("an export shard failed (see above)")
        files = list(out.rglob("*.xlsx"))
        size = sum(f.stat().st_size for f in files) / 2**20
    finally:
        shutil.rmtree(out, ignore_errors=True)
    for i, (_, peak, _, _) in sorted(results.items()):
        peaks.mb[f"export shard {i}/{shards}"] = peak
    cpu = sum(r[2] for r in results.values())
    note = f"{len(files)} workbooks, {size:.1f} MB; CPU {cpu:.1f} s in all; month {month}"
    return Stage(f"export, {shards} shards at once", teachers, wall, peaks.mb, note)


# --- the run -------------------------------------------------------------------------------------


def run(scale: float, partitions: int, shards: int) -> list[Stage]:
    sizes = region_sizes(scale)
    n = sum(sizes)
    print(f"\n=== scale {scale:g}: {REGIONS} regions, {n:,} teachers (regions of {min(sizes):,} to {max(sizes):,})")
    env = {
        "GATEWAY_UPSTREAM_TIMEOUT_SECONDS": "600",
        "ROUTES_FEED_PARTITIONS": str(partitions),
        "ROUTES_FEED_POLL_SECONDS": "0.2",
    }
    within = max(600.0, n / 100)
    stages: list[Stage] = []
    with FaultStack(env) as fs:
        fs.stack.stop("routes")  # intake alone: the feed is consumed by the generation stages
        for stage in (
            lambda: intake(fs, sizes),
            lambda: generation(fs, n, 1, within),
            lambda: generation(fs, n, 2, within),
            lambda: export(fs, n, shards),
        ):
            s = stage()
            stages.append(s)
            print(f"{s.name}: {s.teachers:,} in {s.seconds:.1f} s = {s.rate:,.0f}/s  ({s.note}; load {load()})")
            print("  peak RSS, MB: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(s.peaks.items())))
    one, two = stages[1], stages[2]
    ratio = two.rate / one.rate
    print(
        f"2 routes processes / 1: {ratio:.2f}x routes/s ({two.rate:,.0f} vs {one.rate:,.0f}; target >= "
        f"{TARGET_RATIO}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'}; {os.cpu_count()} cores)"
    )
    print(
        f"  the same from the first route written to the last (start-up left out): {steady[2] / steady[1]:.2f}x "
        f"({steady[2]:,.0f} vs {steady[1]:,.0f})"
    )
    chosen = [stages[0], two if two.rate >= one.rate else one, stages[3]]
    hours = sum(s.seconds / s.teachers for s in chosen) * COUNTRY / 3600
    print(
        "projection for 1,000,000 teachers (seconds per teacher x 1,000,000): "
        + ", ".join(f"{s.name} {s.seconds / s.teachers * COUNTRY / 3600:.2f} h" for s in chosen)
        + f"; in all {hours:.2f} h (target: one night, {NIGHT_HOURS:.0f} h: "
        + f"{'met' if hours <= NIGHT_HOURS else 'NOT met'})"
    )
    return stages


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def process_peaks(stages: list[Stage]) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in stages:
        for k, v in s.peaks.items():
            key = k if k.startswith("export") else f"{k} ({s.name.split(',')[0]})"
            out[key] = max(out.get(key, 0.0), v)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--scale", type=float, default=0.1, help="share of the country's 1,000,000 teachers")
    ap.add_argument("--full", action="store_true", help="the whole country (--scale 1)")
    ap.add_argument("--partitions", type=int, default=8, help="ROUTES_FEED_PARTITIONS of both generations")
    ap.add_argument("--shards", type=int, default=2, help="export shards run at once")
    ap.add_argument("--memory-check", action="store_true", help="run at scale / 10 first, compare every peak")
    args = ap.parse_args()
    scale = 1.0 if args.full else args.scale
    small = run(scale / 10, args.partitions, args.shards) if args.memory_check else None
    large = run(scale, args.partitions, args.shards)
    if small is None:
        return
    a, b = process_peaks(small), process_peaks(large)
    print(f"\npeak RSS of every process, MB, at scale {scale / 10:g} and {scale:g} (tenfold the teachers):")
    worst = 0.0
    for k in sorted(b):
        grow = b[k] / a[k] if a.get(k) else math.nan
        worst = max(worst, grow) if not math.isnan(grow) else worst
        print(f"  {k:48} {a.get(k, math.nan):7.0f} {b[k]:7.0f}  x{grow:.2f}")
    print(f"largest growth x{worst:.2f} (target: flat, say within 1.5x: {'met' if worst <= 1.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
