"""Requests/s of one GET through the gateway against the same GET straight at the service, one run.

    .venv/bin/python benchmarks/gateway.py [--seconds 5] [--connections 32]

Starts its own PostgreSQL (embedded, or TEST_DATABASE_URL) and the five processes on free ports,
seeds a few teachers, then alternates direct and gateway runs and prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.loadgen import load
from deploy import stack
from tests.harness import postgres_server, start_stack
from tests.region import as_regional, seed_region


async def _seed(gateway: str) -> str:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as api:
        region = await seed_region(api)
    return region.id("t-a1-1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with postgres_server() as admin_url:
        stack.prepare_database(admin_url)
        st = start_stack(admin_url, Path(tempfile.mkdtemp(prefix="iom-bench-logs-")))
        try:
            teacher_id = asyncio.run(_seed(st.gateway))
            headers = as_regional()
            path = f"/api/v1/teachers/{teacher_id}"
            targets = {"direct": st.url("assessment") + path, "gateway": st.gateway + path}
            load(targets["direct"], headers, seconds=1, connections=args.connections)  # warm-up
            load(targets["gateway"], headers, seconds=1, connections=args.connections)
            best: dict[str, float] = {"direct": 0.0, "gateway": 0.0}
            print(f"GET {path.replace(teacher_id, '{id}')}  ({args.connections} connections, {args.seconds:g}s runs)")
            for rnd in range(1, args.rounds + 1):
                for name in ("direct", "gateway"):
                    res = load(targets[name], headers, seconds=args.seconds, connections=args.connections)
                    best[name] = max(best[name], res.rps)
                    print(f"  round {rnd} {name:8s} {res.summary()}")
            ratio = best["gateway"] / best["direct"] if best["direct"] else 0.0
            print(f"\nbest direct {best['direct']:.0f} req/s, best via gateway {best['gateway']:.0f} req/s")
            print(f"ratio gateway/direct = {ratio:.2f}  (goal >= 0.40)")
        finally:
            st.stop_all()


if __name__ == "__main__":
    main()
