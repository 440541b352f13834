"""A mixed workload through the gateway, next to a hello-world baseline measured in the same run.

    .venv/bin/python benchmarks/load.py [--teachers 2000] [--seconds 10] [--connections 32]

Starts its own PostgreSQL (embedded, or TEST_DATABASE_URL) and the five processes on free ports, and
a hello-world FastAPI app under uvicorn (the services' own server settings) as the baseline. Loads a
synthetic region (teachers, one assessment result each, a route each), then measures, each with the
same loopback-only, bounded load generator (wrk when installed, else a Python one in its own
process; LOADGEN=python forces it):

1. baseline: GET /hello of the hello-world app;
2. portal read alone: GET /api/v1/routes/{id} through the gateway, random routes of the region;
3. the mix, all at once: portal reads of routes (by id, with the school portal's service token) and
   teachers' own routes (GET /api/v1/routes/mine, each request a random teacher's token), dashboard
   analytics (levels, deficits, dynamics, KPI by municipality) and uploads (a 50-row CSV of results,
   one after another, each with its own Idempotency-Key).

Prints requests/s, p50/p95/p99 and errors of each; goal: (2) at least 0.25 of (1), no errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.intake import INSTRUMENT, REGION, results_csv, synthetic_region
from benchmarks.loadgen import Result, _check_loopback
from deploy import stack
from kit.auth import Role
from tests.assessment.intake_support import framework_doc
from tests.harness import auth, free_port, postgres_server, start_stack, token

HELLO_APP = textwrap.dedent(
    """
    from fastapi import FastAPI

    app = FastAPI()


    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}
    """
)


@dataclass(frozen=True)
class Target:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


# --- the load generator: many targets, one picked at random per request ---------------------------


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _wrk_script(targets: list[Target]) -> str:
    rows = []
    for t in targets:
        hdrs = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in t.headers.items())
        rows.append(f"  {{ {_lua_string(t.method)}, {_lua_string(t.path)}, {{ {hdrs} }} }}")
    return (
        "local targets = {\n" + ",\n".join(rows) + "\n}\n"
        "math.randomseed(os.time())\n"
        "request = function()\n"
        "  local t = targets[math.random(#targets)]\n"
        "  return wrk.format(t[1], t[2], t[3])\n"
        "end\n"
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("IOM-LATENCY-US %d %d %d\\n", latency:percentile(50), latency:percentile(95),\n'
        "    latency:percentile(99)))\n"
        "end\n"
    )


def _wrk(base: str, targets: list[Target], seconds: float, connections: int) -> Result:
    """wrk with a Lua script choosing a target per request (wrk's own C loop; -t1)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_wrk_script(targets))
        script = f.name
    try:
        args = [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--latency",
            "-s",
            script,
            base,
        ]
        out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    finally:
        os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    # The script's done() prints p50/p95/p99 in microseconds. wrk gives percentiles, not samples: keep them
    # as a 100-item sample whose Result.pct(50/95/99) gives them back.
    m = re.search(r"IOM-LATENCY-US (\d+) (\d+) (\d+)", out)
    p50, p95, p99 = (int(x) / 1000 for x in m.groups()) if m else (0.0, 0.0, 0.0)
    lat = [p50] * 95 + [p95] * 4 + [p99]
    return Result(total, errors, total / rps if rps else seconds, lat)


async def _python_run(base: str, targets: list[Target], seconds: float, connections: int) -> Result:
    latencies: list[float] = []
    errors = count = 0
    deadline = time.perf_counter() + seconds
    rng = random.Random(7)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:

        async def worker() -> None:
            nonlocal errors, count
            while time.perf_counter() < deadline:
                t = targets[rng.randrange(len(targets))]
                t0 = time.perf_counter()
                try:
                    async with session.request(t.method, base + t.path, headers=t.headers, data=t.body or None) as r:
                        await r.read()
                        errors += r.status >= 400
                except aiohttp.ClientError:
                    errors += 1
                latencies.append((time.perf_counter() - t0) * 1000)
                count += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return Result(count, errors, time.perf_counter() - start, latencies)


def _python_child(q: mp.Queue, base: str, targets: list[Target], seconds: float, connections: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    r = asyncio.run(_python_run(base, targets, seconds, connections))
    q.put((r.requests, r.errors, r.seconds, r.latencies_ms))


def drive(base: str, targets: list[Target], *, seconds: float, connections: int) -> Result:
    """Send the targets' requests to `base` (loopback only) for `seconds` from `connections` connections."""
    _check_loopback(base)
    if shutil.which("wrk") and os.environ.get("LOADGEN", "wrk") == "wrk" and all(not t.body for t in targets):
        return _wrk(base, targets, seconds, connections)
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    p = ctx.Process(target=_python_child, args=(q, base, targets, seconds, connections))
    p.start()
    try:
        requests, errors, secs, lat = q.get(timeout=seconds + 60)
    finally:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    return Result(requests, errors, secs, lat)


# --- uploads (sequential, each its own key) -----------------------------------------------------


@dataclass
class Uploads:
    done: int = 0
    errors: int = 0
    seconds: float = 0.0
    rows: int = 0

    def summary(self) -> str:
        per = self.seconds / self.done if self.done else 0.0
        rate = self.done / self.seconds if self.seconds else 0.0
        return (
            f"{rate:9.1f} req/s  ({self.done} uploads of {self.rows} rows, {per * 1000:.0f} ms each)  "
            f"errors {self.errors}"
        )


def upload_loop(base: str, campaign: str, bodies: list[bytes], seconds: float, rows: int) -> Uploads:
    _check_loopback(base)
    out = Uploads(rows=rows)
    h = {**auth(Role.service, region=REGION), "Content-Type": "text/csv"}
    t0 = time.monotonic()
    with httpx.Client(base_url=base, timeout=120) as c:
        i = 0
        while time.monotonic() - t0 < seconds:
            r = c.post(
                f"/api/v1/campaigns/{campaign}/results",
                content=bodies[i % len(bodies)],
                headers={**h, "Idempotency-Key": uuid.uuid4().hex},
            )
            out.done += 1
            out.errors += r.status_code != 200
            i += 1
    out.seconds = time.monotonic() - t0
    return out


# --- the region --------------------------------------------------------------------------------


@dataclass
class Region:
    route_ids: list[str]
    teachers: list[dict[str, Any]]  # id, municipality, organisation
    municipalities: list[str]
    campaign: str
    upload_bodies: list[bytes]


async def load_region(gateway: str, teachers: int, admin_url: str) -> Region:
    region = synthetic_region(teachers)
    inst = next(i for i in framework_doc()["instruments"] if i["code"] == INSTRUMENT)
    maxes, codes = [int(it["max_points"]) for it in inst["items"]], [it["code"] for it in inst["items"]]
    svc = auth(Role.service, region=REGION)
    async with httpx.AsyncClient(base_url=gateway, timeout=600) as api:
        for path, body in (
            ("/api/v1/municipalities", region["municipalities"]),
            ("/api/v1/organisations", region["organisations"]),
        ):
            assert (await api.put(path, json=body, headers=svc)).status_code == 200
        assert (await api.post("/api/v1/frameworks", json=framework_doc(), headers=svc)).status_code == 201
        r = await api.post(
            "/api/v1/campaigns",
            headers=auth(Role.regional_specialist, region=REGION),
            json={
                "name": "ФИОКО: математика",
                "source": "fioko_subject",
                "subject": "mathematics",
                "assessed_on": time.strftime("%Y-%m-%d"),
                "framework_code": "default",
                "instrument": INSTRUMENT,
            },
        )
        assert r.status_code == 201, r.text
        campaign = r.json()["id"]
        csv, _ = results_csv(region, teachers, maxes, codes)
        r = await api.post(
            f"/api/v1/campaigns/{campaign}/results",
            content=csv,
            headers={**svc, "Content-Type": "text/csv", "Idempotency-Key": uuid.uuid4().hex},
        )
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 600
        routes: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            routes, cursor = [], None
            while True:
                params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
                page = (await api.get("/api/v1/routes", params=params, headers=svc)).json()
                routes += page["items"]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            if len(routes) >= teachers:
                break
            await asyncio.sleep(1)
        teachers_page = []
        cursor = None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = (await api.get("/api/v1/teachers", params=params, headers=svc)).json()
            teachers_page += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
    if len(routes) < teachers:
        raise SystemExit(f"only {len(routes)} of {teachers} routes were generated in 10 minutes; see the routes log")
    # Uploads in the mix re-score 50 teachers at a time (other scores each time: results change).
    bodies = [results_csv(region, 50, maxes, codes, shift=k + 1)[0] for k in range(8)]
    return Region(
        [str(r["id"]) for r in routes], teachers_page, [m["code"] for m in region["municipalities"]], campaign, bodies
    )


# --- the run -----------------------------------------------------------------------------------


def start_hello(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    (tmp / "hello_app.py").write_text(HELLO_APP, encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "hello_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/hello", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError("the hello-world app did not start")


def route_targets(region: Region, n: int = 500) -> list[Target]:
    h = auth(Role.service, region=REGION)
    return [Target("GET", f"/api/v1/routes/{rid}", h) for rid in region.route_ids[:n]]


def mine_targets(region: Region, n: int = 300) -> list[Target]:
    out = []
    for t in region.teachers[:n]:
        tok = token(
            Role.teacher,
            ttl=3600,
            region=REGION,
            municipality=t["municipality"],
            organisation=t["organisation"],
            teacher_id=str(t["id"]),
        )
        out.append(Target("GET", "/api/v1/routes/mine", {"Authorization": f"Bearer {tok}"}))
    return out


def analytics_targets(region: Region) -> list[Target]:
    out = []
    for mun in region.municipalities:
        h = auth(Role.municipal_methodologist, region=REGION, municipality=mun)
        for path in (
            "levels?subject=mathematics",
            "levels?group_by=campaign",
            "deficits?subject=mathematics",
            "dynamics?subject=mathematics",
            "kpi",
        ):
            out.append(Target("GET", f"/api/v1/assessment/analytics/{path}", h))
    reg = auth(Role.regional_specialist, region=REGION)
    out += [
        Target("GET", f"/api/v1/assessment/analytics/{p}", reg)
        for p in ("levels?group_by=municipality", "deficits?subject=mathematics", "kpi")
    ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teachers", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="iom-load-"))
    hello, hello_base = start_hello(tmp)
    try:
        with postgres_server() as admin_url:
            stack.prepare_database(admin_url)
            st = start_stack(admin_url, tmp / "logs")
            try:
                t0 = time.monotonic()
                region = asyncio.run(load_region(st.gateway, args.teachers, admin_url))
                print(
                    f"region: {len(region.teachers)} teachers, {len(region.route_ids)} routes, "
                    f"{len(region.municipalities)} municipalities (loaded in {time.monotonic() - t0:.0f}s)"
                )
                gen = "wrk" if shutil.which("wrk") and os.environ.get("LOADGEN", "wrk") == "wrk" else "python"
                print(f"load generator: {gen}, {args.connections} connections, {args.seconds:g}s runs, loopback only\n")
                routes = route_targets(region)
                hello_t = [Target("GET", "/hello", {})]
                drive(hello_base, hello_t, seconds=1, connections=args.connections)  # warm-up
                drive(st.gateway, routes, seconds=1, connections=args.connections)
                base = drive(hello_base, hello_t, seconds=args.seconds, connections=args.connections)
                print(f"  baseline hello-world          {base.summary()}")
                alone = drive(st.gateway, routes, seconds=args.seconds, connections=args.connections)
                print(f"  GET route via gateway, alone  {alone.summary()}")
                ratio = alone.rps / base.rps if base.rps else 0.0

                print("\nthe mix, all at once:")
                mixes: dict[str, Any] = {}
                share = max(2, args.connections // 4)
                plan = {
                    "GET /routes/{id} (portal)": (routes, share * 2),
                    "GET /routes/mine (teachers)": (mine_targets(region), share),
                    "GET analytics (dashboards)": (analytics_targets(region), max(2, share // 2)),
                }
                threads = [
                    threading.Thread(
                        target=lambda k=k, v=v: mixes.__setitem__(
                            k, drive(st.gateway, v[0], seconds=args.seconds, connections=v[1])
                        )
                    )
                    for k, v in plan.items()
                ]
                threads.append(
                    threading.Thread(
                        target=lambda: mixes.__setitem__(
                            "POST results (uploads)",
                            upload_loop(st.gateway, region.campaign, region.upload_bodies, args.seconds, 50),
                        )
                    )
                )
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                for name in (*plan, "POST results (uploads)"):
                    conns = f"({plan[name][1]} conn)" if name in plan else "(1 client)"
                    print(f"  {name:30s} {conns:9s} {mixes[name].summary()}")
                total = sum(m.rps for k, m in mixes.items() if k in plan)
                errors = alone.errors + sum(m.errors for m in mixes.values())
                print(f"\nmix total {total:.0f} req/s of reads + {mixes['POST results (uploads)'].done} uploads")
                print(f"ratio GET route via gateway / hello-world baseline = {ratio:.2f}  (goal >= 0.25)")
                print(f"errors: {errors}  (goal 0)")
                summary = {
                    "baseline_rps": round(base.rps),
                    "route_rps": round(alone.rps),
                    "ratio": round(ratio, 3),
                    "errors": errors,
                }
                print(json.dumps(summary))
                if ratio < 0.25 or errors:
                    sys.exit(1)
            finally:
                st.stop_all()
    finally:
        hello.terminate()
        try:
            hello.wait(10)
        except subprocess.TimeoutExpired:
            hello.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
