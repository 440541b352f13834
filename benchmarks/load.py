"""A mixed workload through the gateway, next to a hello-world baseline measured in the same run.

    .venv/bin/python benchmarks/load.py [--teachers 2000] [--seconds 10] [--connections 32]

Starts its own PostgreSQL (embedded, or TEST_DATABASE_URL) and the five processes on free ports, and
a hello-world FastAPI app under uvicorn (the services' own server settings) as the baseline. Loads a
synthetic region (teachers, one assessment result each, a route each), then measures, each with the
same loopback-only, bounded load generator (wrk when installed, else a Python one in its own
process; LOADGEN=python forces it):

1. baseline: GET /hello of the hello-world app;
2. each ordinary single-object read alone, through the gateway (the service's token, random objects):
   GET /api/v1/teachers/{id}, /resources/{id}, /routes/{id} and /audits/{id};
3. the mix, all at once: portal reads of routes (by id, with the school portal's service token) and
   teachers' own routes (GET /api/v1/routes/mine, each request a random teacher's token), dashboard
   analytics (levels, deficits, dynamics, KPI by municipality) and uploads (a 50-row CSV of results,
   one after another, each with its own Idempotency-Key).

Prints the load generator, requests/s, p50/p95/p99 and errors of each; goal: each read of (2) at least
0.25 of (1), no errors. `--no-mix` skips (3); `--profile DIR` samples the gateway and the services with
py-spy (when installed) while each read of (2) runs and writes their busiest functions to DIR.
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
from dataclasses import dataclass, field
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
    resource_ids: list[str] = field(default_factory=list)
    audit_ids: list[str] = field(default_factory=list)


RESOURCE = {
    "kind": "course",
    "learning_type": "formal",
    "mode": "online",
    "subjects": ["mathematics"],
    "competencies": ["M3"],
    "levels": [1, 2],
    "capacity": 30,
    "hours": 72,
    "provider": "ЦНППМ",
    "municipalities": [],
}


async def _move(api: httpx.AsyncClient, route_id: str, headers: dict[str, str], **body: Any) -> None:
    got = await api.get(f"/api/v1/routes/{route_id}", headers=auth(Role.service, region=REGION))
    r = await api.post(
        f"/api/v1/routes/{route_id}/transitions", json=body, headers={**headers, "If-Match": got.headers["etag"]}
    )
    assert r.status_code == 200, (body, r.text)


async def _audit_one(api: httpx.AsyncClient, route: dict[str, Any], tutor: str) -> str:
    """Walk one route to `completed` as the regulation does and start its audit; the audit's id."""
    rid, mun, org = str(route["id"]), route["municipality"], route["organisation"]
    teacher = auth(Role.teacher, region=REGION, municipality=mun, organisation=org, teacher_id=str(route["teacher_id"]))
    regional = auth(Role.regional_specialist, region=REGION)
    methodologist = auth(Role.municipal_methodologist, region=REGION, municipality=mun)
    await _move(api, rid, regional, action="recommend")
    await _move(api, rid, regional, action="send_to_municipality")
    await _move(api, rid, methodologist, action="agree_with_school")
    school = auth(Role.school_admin, region=REGION, municipality=mun, organisation=org)
    await _move(api, rid, school, action="approve", tutor={"teacher_id": tutor})
    await _move(api, rid, teacher, action="start")
    evidence = [{"title": "Сценарий урока", "url": "https://school.example/f/1"}]
    await _move(api, rid, teacher, action="complete", evidence=evidence)
    r = await api.post("/api/v1/audits", json={"route_id": rid}, headers=methodologist)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def load_single_reads(gateway: str, region: Region, *, resources: int, audits: int) -> None:
    """Resources of the region and audits of completed routes, for the single-object reads."""
    regional = auth(Role.regional_specialist, region=REGION)
    by_id = {str(t["id"]): t for t in region.teachers}
    async with httpx.AsyncClient(base_url=gateway, timeout=120) as api:
        for k in range(resources):
            body = {**RESOURCE, "title": f"Формирующее оценивание на уроках математики, поток {k + 1}"}
            r = await api.post("/api/v1/resources", json=body, headers=regional)
            assert r.status_code == 201, r.text
            region.resource_ids.append(str(r.json()["id"]))
        svc = auth(Role.service, region=REGION)
        for rid in region.route_ids:
            if len(region.audit_ids) >= audits:
                break
            route = (await api.get(f"/api/v1/routes/{rid}", headers=svc)).json()
            tutor = next(
                (
                    t
                    for t in region.teachers
                    if t["organisation"] == route["organisation"] and str(t["id"]) != str(route["teacher_id"])
                ),
                None,
            )
            if tutor is None or str(route["teacher_id"]) not in by_id:
                continue
            region.audit_ids.append(await _audit_one(api, route, str(tutor["id"])))


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


def single_read_targets(region: Region, n: int = 500) -> dict[str, list[Target]]:
    """The ordinary single-object reads, each over random objects of the region (the service's token)."""
    h = auth(Role.service, region=REGION, ttl=3600)
    return {
        "GET /teachers/{id}": [Target("GET", f"/api/v1/teachers/{t['id']}", h) for t in region.teachers[:n]],
        "GET /resources/{id}": [Target("GET", f"/api/v1/resources/{i}", h) for i in region.resource_ids[:n]],
        "GET /routes/{id}": [Target("GET", f"/api/v1/routes/{i}", h) for i in region.route_ids[:n]],
        "GET /audits/{id}": [Target("GET", f"/api/v1/audits/{i}", h) for i in region.audit_ids[:n]],
    }


OWNER = {
    "GET /teachers/{id}": "assessment",
    "GET /resources/{id}": "resources",
    "GET /routes/{id}": "routes",
    "GET /audits/{id}": "audit",
}


class Profiler:
    """py-spy sampling the gateway and the services while a run goes (when py-spy is installed)."""

    def __init__(self, out: Path | None, pids: dict[str, int]) -> None:
        self.out = out
        self.pids = pids
        self.spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if out is not None and not Path(self.spy).exists():
            print("py-spy is not installed: no profile")
            self.out = None

    def start(self, name: str, seconds: float, procs: tuple[str, ...]) -> list[subprocess.Popen[bytes]]:
        if self.out is None:
            return []
        self.out.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z]+", "-", name.lower()).strip("-")
        return [
            subprocess.Popen(
                [
                    self.spy,
                    "record",
                    "-p",
                    str(pid),
                    "-d",
                    str(max(1, round(seconds))),
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    str(self.out / f"{slug}.{proc}.txt"),
                    "--nonblocking",
                    "--gil",  # only while the process holds the GIL: its CPU, not its waiting
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for proc, pid in self.pids.items()
            if proc in procs
        ]

    @staticmethod
    def wait(spies: list[subprocess.Popen[bytes]]) -> None:
        for p in spies:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()


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
    ap.add_argument("--resources", type=int, default=200, help="resources made for GET /resources/{id}")
    ap.add_argument("--audits", type=int, default=20, help="routes walked to an audit for GET /audits/{id}")
    ap.add_argument("--mix", action=argparse.BooleanOptionalAction, default=True, help="run the mix after the reads")
    ap.add_argument("--profile", type=Path, default=None, help="py-spy samples of each read run go here")
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
                asyncio.run(load_single_reads(st.gateway, region, resources=args.resources, audits=args.audits))
                print(
                    f"region: {len(region.teachers)} teachers, {len(region.route_ids)} routes, "
                    f"{len(region.municipalities)} municipalities, {len(region.resource_ids)} resources, "
                    f"{len(region.audit_ids)} audits (loaded in {time.monotonic() - t0:.0f}s)"
                )
                gen = "wrk" if shutil.which("wrk") and os.environ.get("LOADGEN", "wrk") == "wrk" else "python"
                print(f"load generator: {gen}, {args.connections} connections, {args.seconds:g}s runs, loopback only\n")
                routes = route_targets(region)
                reads = single_read_targets(region)
                hello_t = [Target("GET", "/hello", {})]
                drive(hello_base, hello_t, seconds=1, connections=args.connections)  # warm-up
                for targets in reads.values():
                    drive(st.gateway, targets, seconds=1, connections=args.connections)
                base = drive(hello_base, hello_t, seconds=args.seconds, connections=args.connections)
                print(f"  baseline hello-world          {base.summary()}")
                profiler = Profiler(args.profile, {n: p.pid for n, p in st.procs.items()})
                ratios: dict[str, float] = {}
                alone_errors = 0
                for name, targets in reads.items():
                    spies = profiler.start(name, args.seconds, ("gateway", OWNER[name]))
                    alone = drive(st.gateway, targets, seconds=args.seconds, connections=args.connections)
                    profiler.wait(spies)
                    ratios[name] = alone.rps / base.rps if base.rps else 0.0
                    alone_errors += alone.errors
                    print(f"  {name + ' via gateway':30s}{alone.summary()}  ratio {ratios[name]:.2f}")
                ratio = min(ratios.values())
                if not args.mix:
                    print(f"\nload generator: {gen}")
                    for name, r in ratios.items():
                        print(f"ratio {name} via gateway / hello-world baseline = {r:.2f}  (goal >= 0.25)")
                    print(f"errors: {alone_errors}  (goal 0)")
                    summary = {"generator": gen, "baseline_rps": round(base.rps), "errors": alone_errors}
                    summary.update({k: round(v, 3) for k, v in ratios.items()})
                    print(json.dumps(summary, ensure_ascii=False))
                    if ratio < 0.25 or alone_errors:
                        sys.exit(1)
                    return

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
                errors = alone_errors + sum(m.errors for m in mixes.values())
                print(f"\nmix total {total:.0f} req/s of reads + {mixes['POST results (uploads)'].done} uploads")
                print(f"load generator: {gen}")
                for name, r in ratios.items():
                    print(f"ratio {name} via gateway / hello-world baseline = {r:.2f}  (goal >= 0.25)")
                print(f"errors: {errors}  (goal 0)")
                summary = {"generator": gen, "baseline_rps": round(base.rps), "errors": errors}
                summary.update({k: round(v, 3) for k, v in ratios.items()})
                print(json.dumps(summary, ensure_ascii=False))
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
