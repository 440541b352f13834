"""A bounded, loopback-only HTTP load generator run in its own process (so it does not share a GIL)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(p / 100 * len(data)))]

    def summary(self) -> str:
        med = statistics.median(self.latencies_ms) if self.latencies_ms else 0.0
        return (
            f"{self.rps:9.0f} req/s  p50 {med:6.2f} ms  p95 {self.pct(95):6.2f} ms  "
            f"p99 {self.pct(99):6.2f} ms  errors {self.errors}"
        )


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise ValueError(f"load is only ever sent to loopback addresses, not {host}")


async def _run(url: str, headers: dict[str, str], seconds: float, connections: int, max_requests: int) -> Result:
    latencies: list[float] = []
    errors = 0
    count = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors, count
            while time.perf_counter() < deadline and count < max_requests:
                t0 = time.perf_counter()
                try:
                    async with session.get(url, headers=headers) as r:
                        await r.read()
                        if r.status >= 400:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                latencies.append((time.perf_counter() - t0) * 1000)
                count += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    return Result(count, errors, elapsed, latencies)


def _child(q: mp.Queue, url: str, headers: dict[str, str], seconds: float, connections: int, max_requests: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    r = asyncio.run(_run(url, headers, seconds, connections, max_requests))
    q.put((r.requests, r.errors, r.seconds, r.latencies_ms))


def _unit_ms(value: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * factor
    return float(value)


def _wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> Result:
    """Run wrk (C, one thread per core) when installed: it costs the machine far less than Python."""
    args = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--latency"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    pcts = {int(p): _unit_ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)", out, re.M)}
    # wrk reports percentiles, not samples: keep them as a tiny synthetic sample for `pct`.
    lat = [pcts.get(50, 0.0)] * 50 + [pcts.get(75, 0.0)] * 25 + [pcts.get(90, 0.0)] * 15 + [pcts.get(99, 0.0)] * 10
    return Result(total, errors, total / rps if rps else seconds, lat)


def load(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    seconds: float = 5.0,
    connections: int = 32,
    max_requests: int = 2_000_000,
) -> Result:
    """GET `url` from `connections` concurrent connections for `seconds` (bounded by max_requests).

    Uses wrk when it is installed (LOADGEN=python forces the Python generator)."""
    _check_loopback(url)
    if shutil.which("wrk") and os.environ.get("LOADGEN", "wrk") == "wrk":
        return _wrk(url, headers or {}, seconds, connections)
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, url, headers or {}, seconds, connections, max_requests))
    p.start()
    try:
        requests, errors, secs, lat = q.get(timeout=seconds + 60)
    finally:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    return Result(requests, errors, secs, lat)
