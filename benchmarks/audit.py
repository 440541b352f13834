"""Audit service figures, each printed next to a baseline measured in the same run, as ratios.

    .venv/bin/python benchmarks/audit.py [--regions 85] [--municipalities 60] [--teachers 80000]
                                         [--kpi-requests 20] [--no-http]

1. Regional report, in process: analysis + formatted XLSX (fills, totals, four sheets, native chart)
   + SVG for every region, against a plain openpyxl write-only workbook holding the same cells.
2. Effectiveness over N teachers, in process: pairing results and tallying the cohorts, against one
   plain-Python pass counting the same records.
3. Regional report through the gateway: per region a campaign, a 60-row JSON upload, the XLSX and the
   JSON report, against the in-process build of the same report.
4. KPIs over N teachers through the gateway: N teachers and N results loaded into the assessment
   service, GET /api/v1/kpi (region and one municipality) against the assessment KPI it calls.
   The routes feed is switched off in this stack, so the route counts are over no routes: generating
   N routes is the routes service's own benchmark.

Starts its own PostgreSQL (embedded, or TEST_DATABASE_URL) and the five processes on free ports.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy import stack
from kit.auth import Role
from services.audit.clients import AssessmentPoint, ResultPoint, RouteOutcome, pair_results
from services.audit.effectiveness import compute_effectiveness
from services.audit.monitoring import ScoreRow, analyse
from services.audit.report import CampaignInfo, build_svg, build_xlsx
from services.audit.vocab import STEP_MAX, Step
from tests.harness import auth, postgres_server, start_stack

STEPS = list(Step)
KINDS = ("course", "project", "event", "internship", "community", "mentor")
COMPETENCIES = ("M1", "M2", "M3", "M4", "MA1", "MA2", "MA3", "MA4")


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms" if seconds < 10 else f"{seconds:9.2f} s "


def line(label: str, value: float, baseline: float, base_label: str) -> None:
    ratio = value / baseline if baseline else float("inf")
    print(f"  {label:<44} {fmt_s(value)}   {base_label:<34} {fmt_s(baseline)}   ratio {ratio:6.2f}")


def region_rows(rng: random.Random, region: int, municipalities: int) -> list[ScoreRow]:
    rows = []
    for m in range(municipalities):
        level = rng.random()
        points = {s: Decimal(round(STEP_MAX[s] * min(1.0, max(0.0, rng.gauss(level, 0.2))) * 2) / 2) for s in STEPS}
        rows.append(ScoreRow(f"mo-{region:02d}-{m:02d}", f"Муниципальный округ {region}-{m}", points))
    return rows


# --- 1. report in process ---------------------------------------------------------------------------


def bench_report_in_process(regions: list[list[ScoreRow]], previous: list[list[ScoreRow]]) -> float:
    from openpyxl import Workbook

    info = CampaignInfo("r", "2026", "Мониторинг 2026", date(2026, 4, 15), previous_code="2025")
    t0 = time.perf_counter()
    sizes = []
    for rows, prev in zip(regions, previous, strict=True):
        a = analyse(rows, prev)
        sizes.append(len(build_xlsx(a, info)))
        build_svg(a, title="Мониторинг 2026")
    report = time.perf_counter() - t0

    # Baseline: the same cell count per region (municipality rows x columns of the main sheet,
    # plus the deficits and self-audit sheets), values only, written by openpyxl's write-only mode.
    cols = 3 + 2 * len(STEPS) + 4
    t0 = time.perf_counter()
    for rows in regions:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("plain")
        for r in rows:
            ws.append(
                [
                    r.municipality,
                    r.municipality_name,
                    *[float(r.points[s]) for s in STEPS],
                    *([0.0] * (cols - 2 - len(STEPS))),
                ]
            )
        for _ in range(len(STEPS) + len(rows)):
            ws.append(["x"] * 8)
        wb.save(io.BytesIO())
    baseline = time.perf_counter() - t0
    n = len(regions)
    print(
        f"\n1. Regional report in process: {n} regions x {len(regions[0])} municipalities "
        f"(workbook ~{statistics.mean(sizes) / 1024:.0f} KiB)"
    )
    line(f"analysis + XLSX + SVG, all {n} regions", report, baseline, "plain openpyxl, same cells")
    line("per region", report / n, baseline / n, "per region")
    return report / n


# --- 2. report through the gateway ------------------------------------------------------------------


def rows_json(rows: list[ScoreRow]) -> dict[str, Any]:
    return {
        "rows": [
            {
                "municipality": r.municipality,
                "municipality_name": r.municipality_name,
                **{s.value: float(r.points[s]) for s in STEPS},
            }
            for r in rows
        ]
    }


async def bench_report_http(gateway: str, regions: list[list[ScoreRow]], in_process_per_region: float) -> None:
    upload_t: list[float] = []
    xlsx_t: list[float] = []
    json_t: list[float] = []
    async with httpx.AsyncClient(base_url=gateway, timeout=120) as api:
        for i, rows in enumerate(regions):
            h = auth(Role.regional_specialist, region=f"r-{i:02d}")
            # Scores are accepted for the region's own municipalities only (assessment's directory).
            directory = [{"code": r.municipality, "name": r.municipality_name, "region": f"r-{i:02d}"} for r in rows]
            assert (await api.put("/api/v1/municipalities", json=directory, headers=h)).status_code == 200
            r = await api.post(
                "/api/v1/monitoring/campaigns",
                headers=h,
                json={"code": "2026", "title": "Мониторинг 2026", "held_on": "2026-04-15"},
            )
            assert r.status_code == 201, r.text
            cid = r.json()["id"]
            t0 = time.perf_counter()
            r = await api.post(
                f"/api/v1/monitoring/campaigns/{cid}/scores",
                content=json.dumps(rows_json(rows)),
                headers={**h, "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
            )
            upload_t.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
            t0 = time.perf_counter()
            r = await api.get(f"/api/v1/monitoring/campaigns/{cid}/report.xlsx", headers=h)
            xlsx_t.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
            t0 = time.perf_counter()
            r = await api.get(f"/api/v1/monitoring/campaigns/{cid}/report", headers=h)
            json_t.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
    n = len(regions)
    print(f"\n3. Regional report through the gateway: {n} regions, one campaign each (median of {n})")
    line(
        "upload 60 rows (JSON, COPY + upsert)",
        statistics.median(upload_t),
        in_process_per_region,
        "in-process report, per region",
    )
    line("GET report.xlsx", statistics.median(xlsx_t), in_process_per_region, "in-process report, per region")
    line("GET report (JSON)", statistics.median(json_t), in_process_per_region, "in-process report, per region")
    total = sum(upload_t) + sum(xlsx_t) + sum(json_t)
    line(f"all {n} regions: upload + XLSX + JSON", total, in_process_per_region * n, "in-process, all regions")


# --- 3. effectiveness in process --------------------------------------------------------------------


def synthetic_cohort(rng: random.Random, teachers: int) -> tuple[list[RouteOutcome], list[ResultPoint]]:
    outcomes, points = [], []
    t_before = datetime(2026, 1, 15, tzinfo=UTC)
    t_after = datetime(2026, 10, 15, tzinfo=UTC)
    for i in range(teachers):
        tid = f"t{i:06d}"
        mun = f"mo-{i % 60:02d}"
        lv = rng.randint(1, 4)
        before = frozenset(rng.sample(COMPETENCIES, rng.randint(0, 4)))
        after = frozenset(c for c in before if rng.random() < 0.5)
        points.append(ResultPoint(tid, mun, "mathematics", AssessmentPoint(t_before, lv, before)))
        if rng.random() < 0.8:
            points.append(
                ResultPoint(
                    tid,
                    mun,
                    "mathematics",
                    AssessmentPoint(t_after, max(1, min(4, lv + rng.choice((-1, 0, 1, 1)))), after),
                )
            )
        if rng.random() < 0.6:
            done = t_before + timedelta(days=rng.randint(30, 300))
            outcomes.append(
                RouteOutcome(
                    f"r{i}",
                    tid,
                    mun,
                    lv,
                    "mathematics",
                    "completed" if rng.random() < 0.7 else "in_progress",
                    done,
                    tuple(sorted(rng.sample(KINDS, 2))),
                    f"m{rng.randint(0, 300)}" if rng.random() < 0.3 else None,
                    before,
                )
            )
    return outcomes, points


def bench_effectiveness(teachers: int) -> None:
    rng = random.Random(7)
    outcomes, points = synthetic_cohort(rng, teachers)
    t0 = time.perf_counter()
    pairs = pair_results(points, date_from=None, date_to=None)
    result = compute_effectiveness(outcomes, pairs, min_group=10)
    ours = time.perf_counter() - t0

    # Baseline: one plain pass over the same records, counting per teacher with dicts.
    t0 = time.perf_counter()
    last: dict[str, ResultPoint] = {}
    first: dict[str, ResultPoint] = {}
    for p in points:
        if p.teacher_id in first:
            last[p.teacher_id] = p
        else:
            first[p.teacher_id] = p
    done = {o.teacher_id for o in outcomes if o.status == "completed"}
    closed = sum(len(first[t].point.deficits - p.point.deficits) for t, p in last.items() if t in done)
    baseline = time.perf_counter() - t0
    assert result["with_route"]["teachers"] > 0 and closed >= 0
    print(
        f"\n2. Effectiveness in process: {teachers:,} teachers, {len(points):,} results, "
        f"{len(outcomes):,} routes, {len(pairs):,} re-assessed"
    )
    line("pair results + cohorts + 4 breakdowns", ours, baseline, "one plain counting pass")


# --- 4. KPIs through the gateway --------------------------------------------------------------------


async def load_teachers(api: httpx.AsyncClient, teachers: int, municipalities: int) -> float:
    from tests.assessment.intake_support import framework_doc, item_codes, scores_with

    h = auth(Role.service, region="r-kpi")
    t0 = time.perf_counter()
    muns = [{"code": f"mk-{m:02d}", "name": f"Округ {m}", "region": "r-kpi"} for m in range(municipalities)]
    assert (await api.put("/api/v1/municipalities", json=muns, headers=h)).status_code == 200
    schools_per = max(1, 2000 // municipalities)
    orgs = [
        {"code": f"ok-{m:02d}-{s:02d}", "name": f"Школа {m}-{s}", "municipality": f"mk-{m:02d}"}
        for m in range(municipalities)
        for s in range(schools_per)
    ]
    assert (await api.put("/api/v1/organisations", json=orgs, headers=h)).status_code == 200
    batch: list[dict[str, Any]] = []
    for i in range(teachers):
        m = i % municipalities
        batch.append(
            {
                "external_id": f"bt-{i:06d}",
                "full_name": f"Педагог {i:06d}",
                "municipality": f"mk-{m:02d}",
                "organisation": f"ok-{m:02d}-{(i // municipalities) % schools_per:02d}",
                "position": "учитель",
                "subjects": ["mathematics"],
            }
        )
        if len(batch) == 5000 or i == teachers - 1:
            r = await api.post("/api/v1/teachers/bulk", json={"teachers": batch}, headers=h)
            assert r.status_code == 200, r.text
            batch = []
    r = await api.post("/api/v1/frameworks", json=framework_doc(), headers=h)
    assert r.status_code == 201, r.text
    r = await api.post(
        "/api/v1/campaigns",
        headers=auth(Role.regional_specialist, region="r-kpi"),
        json={
            "name": "ФИОКО 2026",
            "source": "fioko_subject",
            "subject": "mathematics",
            "assessed_on": "2026-04-15",
            "framework_code": "default",
            "instrument": "oku-omk-mathematics",
        },
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    rng = random.Random(3)
    weak_sets = [set(), {"MA2"}, {"MA2", "MA3"}, {"MA2", "MA3", "M3"}, {"MA1", "MA2", "MA3", "M1", "M3"}]
    score_lines = {i: ";".join(str(int(v)) for v in scores_with(w)) for i, w in enumerate(weak_sets)}
    lines = [";".join(["external_id", *item_codes()])]
    lines += [f"bt-{i:06d};{score_lines[rng.randrange(len(weak_sets))]}" for i in range(teachers)]
    r = await api.post(
        f"/api/v1/campaigns/{cid}/results",
        content=("\n".join(lines) + "\n").encode(),
        headers={**h, "Content-Type": "text/csv", "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code in (200, 201), r.text[:500]
    mc = await api.post(
        "/api/v1/monitoring/campaigns",
        headers=h,
        json={"code": "m-2026", "title": "Мониторинг", "held_on": "2026-03-01"},
    )
    rows = region_rows(random.Random(5), 0, municipalities)
    for k, r0 in enumerate(rows):
        rows[k] = ScoreRow(f"mk-{k:02d}", r0.municipality_name, r0.points)
    r = await api.post(
        f"/api/v1/monitoring/campaigns/{mc.json()['id']}/scores",
        content=json.dumps(rows_json(rows)),
        headers={**h, "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 200, r.text
    return time.perf_counter() - t0


async def timed(n: int, call: Callable[[], Awaitable[httpx.Response]]) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await call()
        samples.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
    return statistics.median(samples)


async def bench_kpi_http(gateway: str, teachers: int, municipalities: int, requests: int) -> None:
    async with httpx.AsyncClient(base_url=gateway, timeout=300) as api:
        load = await load_teachers(api, teachers, municipalities)
        regional = auth(Role.regional_specialist, region="r-kpi")
        methodologist = auth(Role.municipal_methodologist, region="r-kpi", municipality="mk-07")
        body = (await api.get("/api/v1/kpi", headers=regional)).json()
        k = {x["code"]: x for x in body["kpis"]}
        assert k["teachers_assessed"]["denominator"] == teachers, k["teachers_assessed"]
        ours = await timed(requests, lambda: api.get("/api/v1/kpi", headers=regional))
        base = await timed(requests, lambda: api.get("/api/v1/assessment/analytics/kpi", headers=regional))
        ours_m = await timed(requests, lambda: api.get("/api/v1/kpi", headers=methodologist))
        base_m = await timed(
            requests,
            lambda: api.get(
                "/api/v1/assessment/analytics/kpi", params={"municipality": "mk-07"}, headers=methodologist
            ),
        )
    print(
        f"\n4. KPIs through the gateway: {teachers:,} teachers in {municipalities} municipalities, "
        f"median of {requests} (loading took {load:.1f} s)"
    )
    print(
        f"  assessed {k['teachers_assessed']['value']}%, basic or higher {k['basic_or_higher']['value']}%, "
        f"engaged municipalities {k['municipalities_engaged']['value']}%"
    )
    line("GET /api/v1/kpi (region, 6 KPIs)", ours, base, "assessment analytics/kpi alone")
    line("GET /api/v1/kpi (one municipality)", ours_m, base_m, "assessment analytics/kpi alone")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--regions", type=int, default=85)
    ap.add_argument("--municipalities", type=int, default=60)
    ap.add_argument("--teachers", type=int, default=80_000)
    ap.add_argument("--kpi-requests", type=int, default=20)
    ap.add_argument("--no-http", action="store_true", help="only the in-process figures")
    args = ap.parse_args()
    rng = random.Random(11)
    regions = [region_rows(rng, i, args.municipalities) for i in range(args.regions)]
    previous = [region_rows(rng, i, args.municipalities) for i in range(args.regions)]
    per_region = bench_report_in_process(regions, previous)
    bench_effectiveness(args.teachers)
    if args.no_http:
        return
    os.environ["ROUTES_FEED_ENABLED"] = "false"
    with postgres_server() as admin_url:
        stack.prepare_database(admin_url)
        st = start_stack(admin_url, Path(tempfile.mkdtemp(prefix="iom-bench-audit-")))
        try:
            asyncio.run(bench_report_http(st.gateway, regions, per_region))
            asyncio.run(bench_kpi_http(st.gateway, args.teachers, args.municipalities, args.kpi_requests))
        finally:
            st.stop_all()


if __name__ == "__main__":
    main()
