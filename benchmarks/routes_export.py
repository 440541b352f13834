"""The monthly XLSX export of a whole region, next to a bare openpyxl baseline measured in the same run.

    .venv/bin/python benchmarks/routes_export.py [--routes 80000]

or `bench_export(admin_url)` from benchmarks/routes.py. Works in a scratch database of its own on
the given server (so routes already there do not count): COPYs N realistic routes (content from
the real generator, 62 municipalities, ~2,000 schools, Cyrillic names, all four groups), then runs
`python -m services.routes export --formats xlsx` as a child process, with one and with two worker
processes: one workbook per municipality plus the region workbook. Baseline: a child process
writing one openpyxl write-only workbook of the same number of rows and columns, no database.
Each child reports its own peak RSS (VmHWM) and CPU time at exit; worker processes' RSS is
sampled. Also shown: the export's queries alone, their rows read through a cursor.

`bench_xlsx_writers(n)` writes the same n export rows (built by the export's own code from real
generated routes) as one sheet with kit.xlsx (the export's writer) and with xlsxwriter
(`constant_memory=True`, the same layout and styles), each in a child process of its own: the
time to write the workbook and the peak memory it added.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from sqlalchemy.dialects import postgresql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.intake import person, synthetic_region  # noqa: E402
from deploy import stack  # noqa: E402
from kit.db import async_url  # noqa: E402
from kit.dbadmin import asyncpg_dsn  # noqa: E402
from services.routes.content import next_control_on  # noqa: E402
from services.routes.exports.month import Month  # noqa: E402
from services.routes.exports.queries import month_query  # noqa: E402
from services.routes.exports.rows import HEADERS  # noqa: E402
from services.routes.generation import (  # noqa: E402
    Alternative,
    CompetencyResult,
    MentorChoice,
    Snapshot,
    generate,
    period_key,
)

MONTH = "2026-11"
REGION = "r-bench-export"
COMPETENCIES = {
    "M1": "Планирование учебной деятельности",
    "M2": "Современные технологии обучения",
    "M3": "Педагогическое оценивание",
    "M4": "Совместное решение профессиональных задач",
    "S1": "Предметные знания: алгебра",
    "S2": "Предметные знания: геометрия",
}
SUBJECTS = ["mathematics", "russian", "physics", "history", "english", "primary", "biology", "informatics"]
STATUSES = ["draft", "sent_to_municipality", "agreed_with_school", "approved", "in_progress", "in_progress"]
KINDS = [
    ("course", "formal"),
    ("webinar", "non_formal"),
    ("practicum", "non_formal"),
    ("community", "informal"),
    ("internship", "formal"),
    ("self_study", "informal"),
]
COLUMNS = (
    "id",
    "teacher_id",
    "external_id",
    "teacher_name",
    "region",
    "municipality",
    "organisation",
    "subject",
    "grp",
    "period_key",
    "period_start",
    "period_end",
    "status",
    "content",
    "mentor_id",
    "next_control_on",
)
# Child processes print their own peak resident memory at exit: VmHWM of their own address space
# (ru_maxrss would carry over the parent's peak across fork and exec on Linux).
PEAK = (
    "import atexit, os, sys\n"
    "def _peak():\n"
    "    t = os.times()\n"
    "    cpu = t.user + t.system + t.children_user + t.children_system\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            print('PEAK_RSS_KB', line.split()[1], cpu, file=sys.stderr)\n"
    "atexit.register(_peak)\n"
)


def alternatives(rng: random.Random, start: date) -> dict[str, list[Alternative]]:
    out: dict[str, list[Alternative]] = {}
    for code in COMPETENCIES:
        alts = []
        for j, (kind, lt) in enumerate(rng.sample(KINDS, 4)):
            begins = start + timedelta(days=rng.randint(5, 120))
            dated = kind not in ("community", "self_study")
            alts.append(
                Alternative(
                    resource_id=f"res-{code}-{j}-{rng.randint(1, 300)}",
                    kind=kind,
                    title=f"{kind}: {COMPETENCIES[code].lower()} ({rng.randint(1, 40)})",
                    learning_type=lt,
                    mode=rng.choice(["online", "offline", "mixed"]),
                    starts_on=begins if dated else None,
                    ends_on=begins + timedelta(days=rng.randint(0, 30)) if dated else None,
                    hours=rng.choice([16, 24, 36, 72]) if kind == "course" else None,
                    provider="ЦНППМ",
                    reason="по компетенции и уровню",
                    score=round(rng.random(), 3),
                )
            )
        out[code] = alts
    return out


def content_pool(size: int, seed: int = 11) -> list[tuple[int, str, str | None, date, date, str, date | None]]:
    """(group, subject, mentor_id, start, end, content JSON, next control point) variants from the real generator."""
    rng = random.Random(seed)
    pool = []
    for i in range(size):
        group = rng.choices([1, 2, 3, 4], weights=[25, 35, 25, 15])[0]
        start = date(2026, 9, 1) + timedelta(days=rng.randint(0, 85))
        weak = rng.sample(list(COMPETENCIES), rng.randint(1, 3))
        comps = tuple(
            CompetencyResult(
                code=c,
                name=n,
                percent=rng.uniform(15, 45) if c in weak else rng.uniform(55, 95),
                status="deficit" if c in weak else rng.choice(["growth", "strength"]),
                explanation={
                    "threshold": "< 50%",
                    "items": [{"item": f"{c}-{k}", "points": 1, "max": 3} for k in (1, 2)],
                },
            )
            for c, n in COMPETENCIES.items()
        )
        subject = SUBJECTS[i % len(SUBJECTS)]
        snap = Snapshot(str(uuid.uuid4()), REGION, "mo", "oo", subject, group, start, comps, full_name="—")
        mentor = MentorChoice(f"mentor-{i % 90}", f"{person(rng)} (наставник)", "тот же округ") if group == 1 else None
        content = generate(snap, alternatives(rng, start), mentor, start)
        period = content["period"]
        pool.append(
            (
                group,
                subject,
                mentor.mentor_id if mentor else None,
                date.fromisoformat(period["start"]),
                date.fromisoformat(period["end"]),
                json.dumps(content, ensure_ascii=False),
                next_control_on(content),
            )
        )
    return pool


async def load_routes(url: str, n: int) -> float:
    """COPY n routes; return the average content size in kB."""
    region = synthetic_region(n)
    orgs = region["organisations"]
    rng = random.Random(5)
    pool = content_pool(400)
    records = []
    for i in range(n):
        group, subject, mentor_id, start, end, blob, control = pool[i % len(pool)]
        org = orgs[i % len(orgs)]
        records.append(
            (
                uuid.uuid4(),
                uuid.uuid4(),
                f"b-{i:07d}",
                person(rng),
                REGION,
                org["municipality"],
                org["code"],
                subject,
                group,
                period_key(start),
                start,
                end,
                rng.choice(STATUSES),
                blob,
                mentor_id,
                control,
            )
        )
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.copy_records_to_table("routes", schema_name="routes", records=records, columns=list(COLUMNS))
        await conn.execute("ANALYZE routes.routes")
    finally:
        await conn.close()
    return sum(len(p[5].encode()) for p in pool) / len(pool) / 1024


async def read_floor(url: str) -> float:
    """Seconds to run the export's own queries (one per municipality) and read their rows through a
    cursor, doing nothing with them."""
    month = Month.parse(MONTH)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        t0 = time.perf_counter()
        for (municipality,) in await conn.fetch("SELECT DISTINCT municipality FROM routes.routes ORDER BY 1"):
            sql = str(
                month_query(month, municipality).compile(
                    dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
                )
            )
            async with conn.transaction():
                async for _ in conn.cursor(sql, prefetch=500):
                    pass
        return time.perf_counter() - t0
    finally:
        await conn.close()


BASELINE = """
import sys, datetime
from openpyxl import Workbook
rows, cols = int(sys.argv[1]), int(sys.argv[2])
wb = Workbook(write_only=True)
ws = wb.create_sheet("baseline")
ws.append([f"Заголовок {c}" for c in range(cols)])
for i in range(rows):
    ws.append(["Иванова Мария Петровна", "Городской округ Северный-1", "mo-01", "МБОУ СОШ № 1", "oo-0001",
               "Математика", "базовый уровень (группа 2)", "реализуется", "01.09.2026 – 31.12.2026",
               "Планирование учебной деятельности; Педагогическое оценивание", 4, "Петрова Анна Сергеевна",
               "не указан", datetime.date(2026, 12, 1), "Предъявление результата: выполнение теста",
               "наставник (Петрова Анна Сергеевна)", 8][:cols])
wb.save(sys.argv[3])
"""


def run_child(args: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run `python -c PEAK + code`; return (seconds, peak RSS MB of it and its children, CPU seconds, stdout).

    The process reports its own peak (VmHWM) and CPU including its workers at exit; the summed RSS of
    its worker processes, if any, is sampled every 20 ms."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    tree_peak = 0
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree_peak = max(tree_peak, sum(c.memory_info().rss for c in parent.children(recursive=True)))
        except psutil.Error:
            pass
        time.sleep(0.02)
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}): {stderr[-3000:]}")
    peak = next(line.split() for line in stderr.splitlines() if line.startswith("PEAK_RSS_KB"))
    return seconds, (int(peak[1]) * 1024 + tree_peak) / 2**20, float(peak[2]), stdout


async def _load_directory(live: Any, routes: int) -> None:
    """The synthetic region's municipalities and schools in the assessment directory (names of the export)."""
    from kit.auth import Role
    from tests.harness import auth

    region = synthetic_region(routes)
    headers = auth(Role.service, region=REGION)
    async with httpx.AsyncClient(base_url=live.gateway, timeout=120) as api:
        for path, body in (
            ("/api/v1/municipalities", [{**m, "region": REGION} for m in region["municipalities"]]),
            ("/api/v1/organisations", region["organisations"]),
        ):
            r = await api.put(path, json=body, headers=headers)
            r.raise_for_status()


async def _create_db(admin_url: str) -> str:
    name = f"iom_bench_export_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return async_url(admin_url).set(database=name, drivername="postgresql").render_as_string(hide_password=False)


async def _drop_db(admin_url: str, url: str) -> None:
    name = async_url(url).database
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def load() -> str:
    """The load average over the last minute (other work on this machine slows every figure)."""
    return f"load {os.getloadavg()[0]:.1f}"


def bench_export(
    admin_url: str, live: Any = None, *, routes: int = 80_000, workers: tuple[int, ...] = (1, 2)
) -> dict[str, float]:
    """COPY `routes` routes into a scratch database, time the monthly XLSX export against the baseline.

    The job reads municipality and school names from the assessment directory through `live`'s gateway
    (benchmarks/routes.py loaded the same synthetic region there); without a stack, one is started for it."""
    own = None
    if live is None:
        from tests.harness import start_stack

        own = live = start_stack(admin_url, Path(tempfile.mkdtemp(prefix="iom-bench-export-logs-")))
        asyncio.run(_load_directory(live, routes))
    url = asyncio.run(_create_db(admin_url))
    out = Path(tempfile.mkdtemp(prefix="iom-bench-export-"))
    try:
        stack.prepare_database(url)
        t0 = time.perf_counter()
        kb = asyncio.run(load_routes(url, routes))
        print(
            f"\nmonthly export: {routes} routes COPied in {time.perf_counter() - t0:.1f}s (content ~{kb:.1f} kB each)"
        )
        env = {**os.environ, **live.env, "DATABASE_URL": url, "PYTHONPATH": str(ROOT), "ROUTES_EXPORT_DIR": str(out)}
        floor = asyncio.run(read_floor(url))
        base_s, base_peak, base_cpu, _ = run_child(
            ["-c", PEAK + BASELINE, str(routes), str(len(HEADERS)), str(out / "b.xlsx")], env
        )
        print(
            f"  baseline bare openpyxl write_only workbook, {routes} rows x {len(HEADERS)} columns, no database: "
            f"{base_s:.1f}s wall, {base_cpu:.1f}s CPU, peak RSS {base_peak:.0f} MB  ({load()})"
        )
        runs = {}
        for n in workers:
            export_code = PEAK + (
                "import runpy\nsys.argv = ['services.routes', 'export', '--month', "
                f"'{MONTH}', '--formats', 'xlsx', '--quiet', '--workers', '{n}']\n"
                "runpy.run_module('services.routes', run_name='__main__')\n"
            )
            seconds, peak, cpu, stdout = run_child(["-c", export_code], env)
            runs[n] = (seconds, peak, cpu)
            summary = json.loads(stdout.strip().splitlines()[-1])
            files = sorted((out / MONTH).glob("*.xlsx"))
            size = sum(f.stat().st_size for f in files) / 2**20
            print(
                f"  export --formats xlsx --workers {n}: {seconds:.1f}s wall, {cpu:.1f}s CPU, "
                f"peak RSS {peak:.0f} MB; {summary['municipalities']} municipal workbooks + the region workbook "
                f"({len(files)} files, {size:.1f} MB, {summary['routes']} rows)  (goal <= 30 s); "
                f"ratio to baseline: time {seconds / base_s:.2f}, CPU {cpu / base_cpu:.2f}, "
                f"memory {peak / base_peak:.2f}  ({load()})"
            )
        print(f"  for reference: the export's queries alone, rows read through a cursor: {floor:.1f}s")
        seconds, peak, cpu = runs[max(runs)]
        return {
            "export_seconds": seconds,
            "export_cpu_seconds": cpu,
            "export_peak_rss_mb": peak,
            "baseline_seconds": base_s,
            "baseline_cpu_seconds": base_cpu,
            "baseline_peak_rss_mb": base_peak,
            "read_seconds": floor,
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)
        asyncio.run(_drop_db(admin_url, url))
        if own is not None:
            own.stop_all()


WRITER_CHILD = """
from benchmarks.routes_export import time_writer
time_writer(sys.argv[1], int(sys.argv[2]), sys.argv[3])
"""


def writer_rows(n: int) -> list[Any]:
    """n export rows of real generated routes (as the export builds them), each teacher and school its own."""
    from dataclasses import replace

    import orjson

    from services.routes.exports.names import Directory
    from services.routes.exports.rows import export_row

    def send(value: Any) -> bytes:
        return b"\x01" + orjson.dumps(value)

    pool = []
    for group, subject, mentor_id, start, end, blob, control in content_pool(200):
        doc = json.loads(blob)
        sections = doc["sections"]
        raw = {
            "id": uuid.uuid4(),
            "teacher_id": uuid.uuid4(),
            "external_id": "b",
            "teacher_name": "",
            "region": REGION,
            "municipality": "mo-01",
            "organisation": "oo",
            "subject": subject,
            "grp": group,
            "status": "in_progress",
            "period_start": start,
            "period_end": end,
            "mentor_id": mentor_id,
            "next_control_on": control,
            "doc_period": send(doc["period"]),
            "doc_mentoring": send(doc["mentoring"]) if "mentoring" in doc else None,
            "doc_control_points": send(doc["control_points"]),
            "doc_deficits": send(sections["competency_profile"]["deficits"]),
            "doc_goals": send(sections["goals"]),
        }
        pool.append(export_row(raw, Month.parse(MONTH), Directory()))
    rng = random.Random(3)
    rows = [
        replace(
            pool[i % len(pool)],
            teacher_name=person(rng),
            organisation=f"oo-{i % 2000:04d}",
            organisation_name=f"МБОУ СОШ № {i % 2000}",
            municipality_name=f"Городской округ № {i % 62}",
            status=STATUSES[i % 6],
        )
        for i in range(n)
    ]
    rows.sort(key=lambda r: (r.group, r.teacher_name))
    return rows


def _rss_kb() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _write_ours(rows: list[Any], path: Path) -> None:
    from services.routes.exports.workbook import MonthSheet, write_month_workbook

    sheet = MonthSheet(path.with_suffix(".part"))
    for i in range(0, len(rows), 500):
        sheet.write(rows[i : i + 500])
    part = sheet.finish()
    with open(path, "wb") as sink:
        write_month_workbook(sink, Month.parse(MONTH), [("mo-01", part)])
    sheet.discard()


def _write_xlsxwriter(rows: list[Any], path: Path) -> None:
    """The same sheet with xlsxwriter: header style, widths, frozen header, autofilter, group 1 filled, dates."""
    import xlsxwriter

    from kit.xlsx import clean_text
    from services.routes.exports.rows import COLUMN_WIDTHS
    from services.routes.exports.workbook import LAYOUT, sheet_title

    wb = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    wb.set_properties(
        {"title": f"Индивидуальные образовательные маршруты педагогов, {MONTH}", "created": Month.parse(MONTH).stamp}
    )
    head = wb.add_format(
        {"bold": True, "bg_color": "#" + LAYOUT.header_fill[2:], "bottom": 1, "text_wrap": True, "valign": "vcenter"}
    )
    low = wb.add_format({"bg_color": "#" + LAYOUT.highlight_fill[2:]})
    day = wb.add_format({"num_format": LAYOUT.date_format})
    low_day = wb.add_format({"num_format": LAYOUT.date_format, "bg_color": "#" + LAYOUT.highlight_fill[2:]})
    ws = wb.add_worksheet(sheet_title("mo-01", set()))
    for c, width in enumerate(COLUMN_WIDTHS):
        ws.set_column(c, c, width)
    ws.freeze_panes(1, 0)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.autofilter(0, 0, len(rows), len(HEADERS) - 1)
    ws.set_row(0, 32)
    ws.write_row(0, 0, HEADERS, head)
    for r, row in enumerate(rows, start=1):
        hl = row.highlighted
        fmt, dfmt = (low, low_day) if hl else (None, day)
        for c, value in enumerate(row.cells()):
            if isinstance(value, str):
                text = clean_text(value)
                if text:
                    ws.write_string(r, c, text, fmt)
                elif fmt is not None:
                    ws.write_blank(r, c, None, fmt)
            elif isinstance(value, date):
                ws.write_datetime(r, c, value, dfmt)
            elif value is None:
                if fmt is not None:
                    ws.write_blank(r, c, None, fmt)
            else:
                ws.write_number(r, c, value, fmt)
    wb.close()


def time_writer(name: str, n: int, path: str) -> None:
    """In a child process: build the rows, then time one writer; print seconds and the memory it added."""
    rows = writer_rows(n)
    before = _rss_kb()
    t0 = time.perf_counter()
    (_write_ours if name == "ours" else _write_xlsxwriter)(rows, Path(path))
    print("WRITER", time.perf_counter() - t0, before, Path(path).stat().st_size)


def bench_xlsx_writers(n: int) -> dict[str, float]:
    """The export's XLSX writer (kit.xlsx) against xlsxwriter (constant_memory) on the same n rows."""
    out = Path(tempfile.mkdtemp(prefix="iom-bench-xlsx-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    figures: dict[str, tuple[float, float, int]] = {}
    try:
        for name in ("ours", "xlsxwriter"):
            _, peak, _, stdout = run_child(["-c", PEAK + WRITER_CHILD, name, str(n), str(out / f"{name}.xlsx")], env)
            _, took, before_kb, written = stdout.split()
            figures[name] = (float(took), peak - int(before_kb) / 1024, int(written))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"\nXLSX writers, one sheet of the same {n} export rows (child process each, {load()}):")
    for name, label in (("ours", "kit.xlsx (the export's)"), ("xlsxwriter", "xlsxwriter constant_memory")):
        seconds, mb, size = figures[name]
        print(f"  {label:28} {seconds:6.2f}s, memory added {mb:5.0f} MB, file {size / 2**20:.1f} MB")
    (s_ours, m_ours, _), (s_xw, m_xw, _) = figures["ours"], figures["xlsxwriter"]
    print(
        f"  ratio xlsxwriter / kit.xlsx: time {s_xw / s_ours:.2f}, memory {m_xw / max(m_ours, 1):.2f}"
        " (the rule: xlsxwriter replaces ours only when within 1.3x of its time)"
    )
    return {"ours_seconds": s_ours, "ours_mb": m_ours, "xlsxwriter_seconds": s_xw, "xlsxwriter_mb": m_xw}


def main() -> None:
    from tests.harness import postgres_server

    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--routes", type=int, default=80_000, help="routes in the region (default 80000)")
    ap.add_argument(
        "--workers",
        type=lambda v: tuple(int(x) for x in v.split(",")),
        default=(1, 2),
        help="comma-separated worker counts to run the export with (default 1,2)",
    )
    args = ap.parse_args()
    with postgres_server() as admin_url:
        stack.prepare_database(admin_url)
        bench_export(admin_url, routes=args.routes, workers=args.workers)


if __name__ == "__main__":
    main()
