"""Results intake through the gateway against raw asyncpg COPY of the same rows, in one run.

    .venv/bin/python benchmarks/intake.py [--teachers 80000] [--rounds 1]

Starts its own PostgreSQL (embedded, or TEST_DATABASE_URL) and the five processes on free ports,
generates a synthetic region (60+ municipalities, ~2,000 schools at 80,000 teachers, Cyrillic
names) and one CSV row per teacher with the 30 item scores of the default framework's mathematics
instrument plus the registry fields, then:

1. raw COPY: asyncpg `copy_records_to_table` and `copy_to_table` (the CSV itself) into a table of
   the same columns; the faster one is the baseline;
2. upload 1: the CSV through the gateway into a fresh campaign (every teacher new: registers them);
3. upload 2: corrected scores for every teacher (every result updated and announced again).

Prints rows/s of each, the ratio to the raw COPY (goal >= 0.25) and the assessment service's peak
RSS while it parses (sampled with psutil every 20 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy import stack
from deploy.demo import FEMALE, MALE, PATRONYMIC_ROOTS, SURNAMES
from kit.auth import Role
from kit.dbadmin import asyncpg_dsn
from tests.assessment.intake_support import framework_doc
from tests.harness import auth, postgres_server, start_stack

REGION = "r-bench"
INSTRUMENT = "oku-omk-mathematics"
TOWNS = ["Северный", "Южный", "Заречный", "Лесной", "Озёрный", "Каменский", "Берёзовский", "Солнечный",
         "Садовый", "Речной", "Полевой", "Горный"]


def synthetic_region(teachers: int, seed: int = 80) -> dict[str, Any]:
    rng = random.Random(seed)
    n_mun = max(2, min(62, teachers // 1200 or 2))
    n_org = max(n_mun, teachers // 40)
    muns = [{"code": f"mo-{m:02d}", "name": f"Городской округ {TOWNS[m % len(TOWNS)]}-{m}", "region": REGION}
            for m in range(1, n_mun + 1)]
    orgs = [{"code": f"oo-{o:04d}", "name": f"МБОУ СОШ № {o}", "municipality": muns[o % n_mun]["code"]}
            for o in range(1, n_org + 1)]
    return {"municipalities": muns, "organisations": orgs, "rng": rng}


def person(rng: random.Random) -> str:
    surname, root = rng.choice(SURNAMES), rng.choice(PATRONYMIC_ROOTS)
    if rng.random() < 0.75:
        return f"{surname}а {rng.choice(FEMALE)} {root}на"
    return f"{surname} {rng.choice(MALE)} {root}ич"


def results_csv(region: dict[str, Any], teachers: int, maxes: list[int], codes: list[str],
                shift: int = 0) -> tuple[bytes, list[tuple[Any, ...]]]:
    """The upload (UTF-8, `;`) and the same rows as records for the raw COPY."""
    rng = random.Random(1000 + shift)
    orgs = region["organisations"]
    buf = io.StringIO()
    buf.write(";".join(["external_id", "ФИО", "Код МО", "Код ОО", "Должность", *codes]) + "\n")
    records: list[tuple[Any, ...]] = []
    for i in range(teachers):
        org = orgs[i % len(orgs)]
        name = person(region["rng"]) if shift == 0 else f"Учитель {i}"
        skill = rng.random()
        scores = [min(m, int(rng.random() * (m + 1) * (0.4 + skill))) for m in maxes]
        ext = f"b-{i:07d}"
        buf.write(f"{ext};{name};{org['municipality']};{org['code']};учитель математики;")
        buf.write(";".join(map(str, scores)) + "\n")
        records.append((ext, name, org["municipality"], org["code"], "учитель математики", *scores))
    return buf.getvalue().encode("utf-8"), records


async def raw_copy(admin_url: str, records: list[tuple[Any, ...]], csv_body: bytes, n_items: int) -> dict[str, float]:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    cols = ", ".join(f"s{i} smallint" for i in range(1, n_items + 1))
    try:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
        out: dict[str, float] = {}
        for how in ("records", "csv"):
            await conn.execute("DROP TABLE IF EXISTS bench.raw_results")
            await conn.execute(f"CREATE TABLE bench.raw_results (external_id varchar(64), full_name text, "
                               f"municipality varchar(32), organisation varchar(32), position text, {cols})")
            t0 = time.perf_counter()
            if how == "records":
                await conn.copy_records_to_table("raw_results", schema_name="bench", records=records)
            else:
                await conn.copy_to_table("raw_results", schema_name="bench", source=io.BytesIO(csv_body),
                                         format="csv", delimiter=";", header=True)
            out[how] = len(records) / (time.perf_counter() - t0)
        # The same scores as item-score rows (teacher, item, points): the unit the issue sizes intake in.
        await conn.execute("CREATE TABLE bench.raw_item_scores (external_id varchar(64), item varchar(32), "
                           "points smallint)")
        long_rows = [(r[0], str(k), p) for r in records for k, p in enumerate(r[5:], start=1)]
        t0 = time.perf_counter()
        await conn.copy_records_to_table("raw_item_scores", schema_name="bench", records=long_rows)
        out["item_scores"] = len(long_rows) / (time.perf_counter() - t0)
        await conn.execute("DROP SCHEMA bench CASCADE")
        return out
    finally:
        await conn.close()


class PeakRss:
    """Samples a process's resident memory in a thread."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def setup(gateway: str, region: dict[str, Any]) -> tuple[dict[str, str], str]:
    h = auth(Role.service, region=REGION, sub="bench-loader")
    async with httpx.AsyncClient(base_url=gateway, timeout=120) as api:
        for path, body in (("/api/v1/municipalities", region["municipalities"]),
                           ("/api/v1/organisations", region["organisations"])):
            r = await api.put(path, json=body, headers=h)
            r.raise_for_status()
        r = await api.post("/api/v1/frameworks", json=framework_doc(), headers=h)
        r.raise_for_status()
        r = await api.post("/api/v1/campaigns", headers=h, json={
            "name": "Бенчмарк: математика", "source": "fioko_subject", "subject": "mathematics",
            "assessed_on": "2026-04-15", "framework_code": "default", "instrument": INSTRUMENT})
        r.raise_for_status()
        return h, str(r.json()["id"])


async def upload(gateway: str, headers: dict[str, str], campaign_id: str, body: bytes) -> tuple[float, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=gateway, timeout=httpx.Timeout(600)) as api:
        t0 = time.perf_counter()
        r = await api.post(f"/api/v1/campaigns/{campaign_id}/results", content=body, headers={
            **headers, "Content-Type": "text/csv; charset=utf-8", "Idempotency-Key": uuid.uuid4().hex})
        elapsed = time.perf_counter() - t0
    if r.status_code != 200:
        raise SystemExit(f"upload failed: {r.status_code} {r.text[:2000]}")
    out: dict[str, Any] = r.json()
    return elapsed, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teachers", type=int, default=80_000)
    args = ap.parse_args()
    # An 80,000-row upload is one long request; give the gateway room to wait for the answer.
    os.environ.setdefault("GATEWAY_UPSTREAM_TIMEOUT_SECONDS", "600")
    # Measure intake alone: the routes service would otherwise consume the feed in the same run.
    os.environ.setdefault("ROUTES_FEED_ENABLED", "false")
    doc = framework_doc()
    items = next(i for i in doc["instruments"] if i["code"] == INSTRUMENT)["items"]
    codes, maxes = [it["code"] for it in items], [int(it["max_points"]) for it in items]
    region = synthetic_region(args.teachers)
    body1, records = results_csv(region, args.teachers, maxes, codes)
    body2, _ = results_csv(region, args.teachers, maxes, codes, shift=1)
    print(f"{args.teachers} teachers x {len(codes)} items; {len(region['municipalities'])} municipalities, "
          f"{len(region['organisations'])} schools; CSV {len(body1) / 1e6:.1f} MB")
    with postgres_server() as admin_url:
        stack.prepare_database(admin_url)
        st = start_stack(admin_url, Path(tempfile.mkdtemp(prefix="iom-bench-logs-")))
        try:
            headers, campaign_id = asyncio.run(setup(st.gateway, region))
            raw = asyncio.run(raw_copy(admin_url, records, body1, len(codes)))
            baseline = max(raw["records"], raw["csv"])
            print(f"raw asyncpg COPY, one row per teacher (35 columns): records {raw['records']:,.0f} rows/s, "
                  f"CSV {raw['csv']:,.0f} rows/s (baseline {baseline:,.0f} rows/s)")
            print(f"raw asyncpg COPY, one row per item score: {raw['item_scores']:,.0f} rows/s")
            pid = st.procs["assessment"].pid
            idle = psutil.Process(pid).memory_info().rss
            for label, body in (("upload 1 (new teachers)", body1), ("upload 2 (all updated)", body2)):
                with PeakRss(pid) as rss:
                    elapsed, answer = asyncio.run(upload(st.gateway, headers, campaign_id, body))
                rate = args.teachers / elapsed
                print(f"{label}: {elapsed:.2f} s, {rate:,.0f} rows/s, ratio {rate / baseline:.3f} to the wide COPY; "
                      f"{rate * len(codes):,.0f} item scores/s, ratio {rate * len(codes) / raw['item_scores']:.2f} "
                      f"to the item-score COPY (goal >= 0.25); inserted {answer['inserted']}, "
                      f"updated {answer['updated']}, unchanged {answer['unchanged']}, rejected {answer['rejected']}; "
                      f"service RSS peak {rss.peak / 2**20:.0f} MB (idle {idle / 2**20:.0f} MB)")
            for line in (st.log_dir / "assessment.log").read_text(errors="replace").splitlines():
                if '"results stored"' in line:
                    print("  service phases (s):", line[line.find('"rows"'):].rstrip("}"))
        finally:
            st.stop_all()


if __name__ == "__main__":
    main()
