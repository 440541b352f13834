"""Results intake through the gateway against raw asyncpg COPY of the same rows, in one run.

    .venv/bin/python benchmarks/intake.py [--teachers 80000]

Starts its own PostgreSQL (embedded, or TEST_DATABASE_URL) and the five processes on free ports,
generates a synthetic region (60+ municipalities, ~2,000 schools at 80,000 teachers, Cyrillic
names) and one CSV row per teacher with the 30 item scores of the default framework's mathematics
instrument plus the registry fields, then:

1. bare-heap COPY: asyncpg `copy_records_to_table` and `copy_to_table` (the CSV itself) into a
   table of the CSV's 35 columns with no index or key; the faster one is the bare baseline (also
   the same scores as one row per item score);
2. upload 1: the CSV through the gateway into a fresh campaign (every teacher new: registers them);
3. upload 2: corrected scores for every teacher (every result updated and announced again);
4. similar-table COPY: the rows the intake stored (teacher rows, and result rows with their
   scored arrays, read back from the database) COPied raw with asyncpg into tables of the same
   shape, `(LIKE assessment.teachers INCLUDING ALL)` and `(LIKE assessment.results INCLUDING ALL)`,
   with the same foreign keys (declared ones and those the schema checks by trigger); results refer
   to the copied teachers. Upload 1 is compared with teachers + results, upload 2 with results
   alone. The feed rows (`result_changes`) the intake also writes are in neither baseline.

Prints rows/s of each (rows = CSV rows = teachers), each upload's ratio to both baselines, and the
assessment service's peak RSS while it parses (sampled with psutil every 20 ms). The issue sets the
goal as intake of at least 0.25 of raw COPY into a similar table.
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
TOWNS = [
    "Северный",
    "Южный",
    "Заречный",
    "Лесной",
    "Озёрный",
    "Каменский",
    "Берёзовский",
    "Солнечный",
    "Садовый",
    "Речной",
    "Полевой",
    "Горный",
]


def synthetic_region(teachers: int, seed: int = 80) -> dict[str, Any]:
    rng = random.Random(seed)
    n_mun = max(2, min(62, teachers // 1200 or 2))
    n_org = max(n_mun, teachers // 40)
    muns = [
        {"code": f"mo-{m:02d}", "name": f"Городской округ {TOWNS[m % len(TOWNS)]}-{m}", "region": REGION}
        for m in range(1, n_mun + 1)
    ]
    orgs = [
        {"code": f"oo-{o:04d}", "name": f"МБОУ СОШ № {o}", "municipality": muns[o % n_mun]["code"]}
        for o in range(1, n_org + 1)
    ]
    return {"municipalities": muns, "organisations": orgs, "rng": rng}


def person(rng: random.Random) -> str:
    surname, root = rng.choice(SURNAMES), rng.choice(PATRONYMIC_ROOTS)
    if rng.random() < 0.75:
        return f"{surname}а {rng.choice(FEMALE)} {root}на"
    return f"{surname} {rng.choice(MALE)} {root}ич"


def results_csv(
    region: dict[str, Any], teachers: int, maxes: list[int], codes: list[str], shift: int = 0
) -> tuple[bytes, list[tuple[Any, ...]]]:
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
            await conn.execute(
                f"CREATE TABLE bench.raw_results (external_id varchar(64), full_name text, "
                f"municipality varchar(32), organisation varchar(32), position text, {cols})"
            )
            t0 = time.perf_counter()
            if how == "records":
                await conn.copy_records_to_table("raw_results", schema_name="bench", records=records)
            else:
                await conn.copy_to_table(
                    "raw_results",
                    schema_name="bench",
                    source=io.BytesIO(csv_body),
                    format="csv",
                    delimiter=";",
                    header=True,
                )
            out[how] = len(records) / (time.perf_counter() - t0)
        # The same scores as item-score rows (teacher, item, points): the unit the issue sizes intake in.
        await conn.execute(
            "CREATE TABLE bench.raw_item_scores (external_id varchar(64), item varchar(32), points smallint)"
        )
        long_rows = [(r[0], str(k), p) for r in records for k, p in enumerate(r[5:], start=1)]
        t0 = time.perf_counter()
        await conn.copy_records_to_table("raw_item_scores", schema_name="bench", records=long_rows)
        out["item_scores"] = len(long_rows) / (time.perf_counter() - t0)
        await conn.execute("DROP SCHEMA bench CASCADE")
        return out
    finally:
        await conn.close()


# What upload 1 stores for each teacher, and what every upload stores for each result (the rest are defaults).
TEACHER_COPY_COLUMNS = [
    "id",
    "external_id",
    "full_name",
    "search_name",
    "region",
    "municipality_code",
    "organisation_code",
    "position",
    "subjects",
]
RESULT_COPY_COLUMNS = [
    "campaign_id",
    "teacher_id",
    "framework_id",
    "batch_id",
    "item_points",
    "competency_points",
    "total_points",
    "max_points",
    "percent",
    "level",
    "grp",
    "level_source",
    "deficit_codes",
    "growth_codes",
    "strength_codes",
]


async def similar_tables(conn: asyncpg.Connection) -> None:
    """bench.teachers and bench.results shaped like the intake's tables, with the same foreign keys."""
    await conn.execute("SET search_path = pg_catalog")  # catalog functions then name every table with its schema
    await conn.execute("DROP SCHEMA IF EXISTS bench CASCADE")
    await conn.execute("CREATE SCHEMA bench")
    for table in ("teachers", "results"):
        await conn.execute(f"CREATE TABLE bench.{table} (LIKE assessment.{table} INCLUDING ALL)")
    for table in ("teachers", "results"):
        # Declared keys, with results pointing at the copied teachers.
        for r in await conn.fetch(
            "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE contype = 'f' AND conrelid = $1::regclass",
            f"assessment.{table}",
        ):
            definition = r["d"].replace("REFERENCES assessment.teachers(", "REFERENCES bench.teachers(")
            await conn.execute(f"ALTER TABLE bench.{table} ADD {definition}")
        # Keys the schema checks by trigger (the trigger functions name their parents fully).
        for r in await conn.fetch(
            "SELECT pg_get_triggerdef(oid) AS d FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = $1::regclass",
            f"assessment.{table}",
        ):
            await conn.execute(r["d"].replace(f" ON assessment.{table} ", f" ON bench.{table} "))


async def similar_copy(admin_url: str, campaign_id: str) -> dict[str, float]:
    """COPY the stored teacher and result rows raw into tables like the intake's; rows/s of each."""
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        teacher_rows, result_rows = io.BytesIO(), io.BytesIO()
        await conn.copy_from_query(
            f"SELECT {', '.join(TEACHER_COPY_COLUMNS)} FROM assessment.teachers", output=teacher_rows, format="binary"
        )
        await conn.copy_from_query(
            f"SELECT {', '.join(RESULT_COPY_COLUMNS)} FROM assessment.results WHERE campaign_id = $1",
            uuid.UUID(campaign_id),
            output=result_rows,
            format="binary",
        )
        await similar_tables(conn)
        teacher_rows.seek(0)
        result_rows.seek(0)
        t0 = time.perf_counter()
        n_teachers = await conn.copy_to_table(
            "teachers", schema_name="bench", source=teacher_rows, columns=TEACHER_COPY_COLUMNS, format="binary"
        )
        t1 = time.perf_counter()
        n_results = await conn.copy_to_table(
            "results", schema_name="bench", source=result_rows, columns=RESULT_COPY_COLUMNS, format="binary"
        )
        t2 = time.perf_counter()
        rows = int(n_results.split()[-1])
        assert int(n_teachers.split()[-1]) == rows, (n_teachers, n_results)
        await conn.execute("DROP SCHEMA bench CASCADE")
        return {"rows": rows, "teachers": rows / (t1 - t0), "results": rows / (t2 - t1), "both": rows / (t2 - t0)}
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
        for path, body in (
            ("/api/v1/municipalities", region["municipalities"]),
            ("/api/v1/organisations", region["organisations"]),
        ):
            r = await api.put(path, json=body, headers=h)
            r.raise_for_status()
        r = await api.post("/api/v1/frameworks", json=framework_doc(), headers=h)
        r.raise_for_status()
        r = await api.post(
            "/api/v1/campaigns",
            headers=h,
            json={
                "name": "Бенчмарк: математика",
                "source": "fioko_subject",
                "subject": "mathematics",
                "assessed_on": "2026-04-15",
                "framework_code": "default",
                "instrument": INSTRUMENT,
            },
        )
        r.raise_for_status()
        return h, str(r.json()["id"])


async def upload(gateway: str, headers: dict[str, str], campaign_id: str, body: bytes) -> tuple[float, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=gateway, timeout=httpx.Timeout(600)) as api:
        t0 = time.perf_counter()
        r = await api.post(
            f"/api/v1/campaigns/{campaign_id}/results",
            content=body,
            headers={**headers, "Content-Type": "text/csv; charset=utf-8", "Idempotency-Key": uuid.uuid4().hex},
        )
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
    print(
        f"{args.teachers} teachers x {len(codes)} items; {len(region['municipalities'])} municipalities, "
        f"{len(region['organisations'])} schools; CSV {len(body1) / 1e6:.1f} MB"
    )
    with postgres_server() as admin_url:
        stack.prepare_database(admin_url)
        st = start_stack(admin_url, Path(tempfile.mkdtemp(prefix="iom-bench-logs-")))
        try:
            headers, campaign_id = asyncio.run(setup(st.gateway, region))
            raw = asyncio.run(raw_copy(admin_url, records, body1, len(codes)))
            bare = max(raw["records"], raw["csv"])
            print(
                f"bare-heap COPY (asyncpg, one row per teacher, 35 columns, no index or key): records "
                f"{raw['records']:,.0f} rows/s, CSV {raw['csv']:,.0f} rows/s; bare baseline {bare:,.0f} rows/s"
            )
            print(f"bare-heap COPY, one row per item score: {raw['item_scores']:,.0f} rows/s")
            pid = st.procs["assessment"].pid
            idle = psutil.Process(pid).memory_info().rss
            uploads = []
            for label, body in (("upload 1 (new teachers)", body1), ("upload 2 (all updated)", body2)):
                with PeakRss(pid) as rss:
                    elapsed, answer = asyncio.run(upload(st.gateway, headers, campaign_id, body))
                uploads.append((label, elapsed, answer, rss.peak))
            similar = asyncio.run(similar_copy(admin_url, campaign_id))
            print(
                f"similar-table COPY (asyncpg, the stored rows into LIKE assessment.* INCLUDING ALL, same foreign "
                f"keys): teachers {similar['teachers']:,.0f} rows/s, results {similar['results']:,.0f} rows/s, "
                f"teachers + results {similar['both']:,.0f} rows/s"
            )
            for (label, elapsed, answer, peak), (what, base) in zip(
                uploads, (("teachers + results", similar["both"]), ("results", similar["results"])), strict=True
            ):
                rate = args.teachers / elapsed
                print(
                    f"{label}: {elapsed:.2f} s, {rate:,.0f} rows/s; inserted {answer['inserted']}, "
                    f"updated {answer['updated']}, unchanged {answer['unchanged']}, rejected {answer['rejected']}; "
                    f"service RSS peak {peak / 2**20:.0f} MB (idle {idle / 2**20:.0f} MB)"
                )
                print(
                    f"  ratio to the bare-heap COPY {rate / bare:.3f}; to the similar-table COPY ({what}) "
                    f"{rate / base:.3f}; {rate * len(codes):,.0f} item scores/s, ratio "
                    f"{rate * len(codes) / raw['item_scores']:.2f} to the item-score COPY"
                )
            for line in (st.log_dir / "assessment.log").read_text(errors="replace").splitlines():
                if '"results stored"' in line:
                    print("  service phases (s):", line[line.find('"rows"') :].rstrip("}"))
        finally:
            st.stop_all()


if __name__ == "__main__":
    main()
