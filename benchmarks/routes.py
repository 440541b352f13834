"""Route generation for a whole region, next to baselines measured in the same run.

    .venv/bin/python benchmarks/routes.py [--teachers 80000] [--skip-export]

Starts its own PostgreSQL and the five processes, registers a synthetic region and uploads one
assessment result per teacher while the routes service is stopped, then starts it and times how
long its feed consumer takes to generate every route (one per teacher), through the real
assessment feed, resource map and database. Baselines in the same run: the pure generation
function over the same snapshots (CPU floor), and asyncpg COPY of the generated routes into a
scratch table (write floor). Then the monthly XLSX export of as many routes, and the export's XLSX
writer (kit.xlsx) against xlsxwriter (constant_memory) on the same rows (benchmarks/routes_export.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.intake import INSTRUMENT, results_csv, setup, synthetic_region, upload
from deploy import stack
from kit.dbadmin import asyncpg_dsn
from services.routes.clients import snapshot_from_change
from services.routes.generation import generate
from tests.assessment.intake_support import framework_doc
from tests.harness import postgres_server, start_stack


async def count_routes(admin_url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM routes.routes"))
    finally:
        await conn.close()


async def feed_items(gateway: str, headers: dict[str, str], limit: int) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=gateway, timeout=120) as api:
        r = await api.get("/api/v1/assessment/changes", params={"limit": limit}, headers=headers)
        r.raise_for_status()
        items: list[dict[str, Any]] = r.json()["items"]
        return items


def pure_generation(items: list[dict[str, Any]], repeat: int) -> tuple[float, list[dict[str, Any]]]:
    snaps = [snapshot_from_change(i) for i in items]
    today = datetime.now(UTC).date()
    contents: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for _ in range(repeat):
        contents = [generate(s, {}, None, today) for s in snaps]
    return len(snaps) * repeat / (time.perf_counter() - t0), contents


async def copy_floor(admin_url: str, contents: list[dict[str, Any]], n: int) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await conn.execute("CREATE TEMP TABLE bench_routes (id serial, content jsonb)")
        blobs = [json.dumps(c, ensure_ascii=False) for c in contents]
        records = [(blobs[i % len(blobs)],) for i in range(n)]
        t0 = time.perf_counter()
        await conn.copy_records_to_table("bench_routes", records=records, columns=["content"])
        return n / (time.perf_counter() - t0)
    finally:
        await conn.close()


def page_timings(log: Path) -> str:
    """Median per-page timings the feed consumer logged (stages overlap: a page is planned while the one
    before it is written)."""
    pages = [json.loads(line) for line in log.read_text(errors="replace").splitlines() if "feed page processed" in line]
    if not pages:
        return "  no feed pages logged"
    keys = [k for k in pages[0] if k.endswith("_ms")]
    medians = ", ".join(f"{k[:-3]} {statistics.median(p.get(k, 0) for p in pages):.0f}" for k in keys)
    return f"  per page of {pages[0].get('items')}, median ms over {len(pages)} pages: {medians}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--teachers", type=int, default=80_000, help="teachers (and routes) in the region")
    ap.add_argument("--skip-export", action="store_true", help="no export and XLSX writer figures")
    args = ap.parse_args()
    n = args.teachers
    with postgres_server() as admin_url:
        stack.prepare_database(admin_url)
        log_dir = Path(tempfile.mkdtemp(prefix="iom-bench-logs-"))
        print(f"logs: {log_dir}")
        st = start_stack(admin_url, log_dir)
        try:
            region = synthetic_region(n)
            instrument = next(i for i in framework_doc()["instruments"] if i["code"] == INSTRUMENT)
            maxes = [int(it["max_points"]) for it in instrument["items"]]
            codes = [it["code"] for it in instrument["items"]]
            body, _ = results_csv(region, n, maxes, codes)
            headers, campaign_id = asyncio.run(setup(st.gateway, region))
            st.stop("routes")
            seconds, answer = asyncio.run(upload(st.gateway, headers, campaign_id, body))
            print(f"setup: {n} results uploaded in {seconds:.1f}s ({answer.get('inserted')} inserted)")
            load_before = os.getloadavg()
            t0 = time.perf_counter()
            st.start("routes")
            done = 0
            while done < n:
                time.sleep(0.2)
                done = asyncio.run(count_routes(admin_url))
                if time.perf_counter() - t0 > 1800:
                    raise SystemExit(f"gave up: {done} of {n} routes after 30 minutes")
            elapsed = time.perf_counter() - t0
            load_after = os.getloadavg()
            rate = n / elapsed
            items = asyncio.run(feed_items(st.gateway, headers, 500))
            pure_rate, contents = pure_generation(items, max(1, 5000 // max(1, len(items))))
            floor = asyncio.run(copy_floor(admin_url, contents, min(n, 20_000)))
            print(f"\nroute generation for {n} teachers: {elapsed:.1f}s = {rate:.0f} routes/s")
            print("  (goal: >= 1300 routes/s, i.e. <= 60 s for 80,000)")
            before, after = (" ".join(f"{x:.2f}" for x in la) for la in (load_before, load_after))
            print(f"  load average (1/5/15 min) before {before}, after {after}; {os.cpu_count()} cores, shared")
            print(f"  baseline pure generate() in-process: {pure_rate:.0f} routes/s -> ratio {rate / pure_rate:.2f}")
            print(f"  baseline COPY of route rows:         {floor:.0f} rows/s  -> ratio {rate / floor:.2f}")
            print(page_timings(log_dir / "routes.log"))
            if not args.skip_export:
                from benchmarks.routes_export import bench_export, bench_xlsx_writers

                bench_export(admin_url, st, routes=n)
                bench_xlsx_writers(n)
        finally:
            st.stop_all()


if __name__ == "__main__":
    main()
