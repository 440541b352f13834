"""Matching and mentor assignment at region scale, each against a baseline measured in the same run.

    .venv/bin/python benchmarks/matching.py [--teachers 80000] [--resources 5000] [--mentors 3000] [--no-http]

1. In process: the indexed matcher (`CatalogueIndex.match`, what POST /api/v1/matching/batch runs)
   for every teacher, against the full-scan matcher (`match` over the whole catalogue) on a sample of
   the same queries; both must give identical answers on that sample. Prints teachers/s and the ratio.
2. Through HTTP (gateway -> resources -> PostgreSQL; own embedded PostgreSQL and processes on free
   ports): the catalogue is loaded with the CSV import endpoints, then a sample of teachers is
   matched one request each (POST /api/v1/matching) and in batches (POST /api/v1/matching/batch).
3. Assignment: min-cost flow against a greedy pass on the same mentees (teachers of groups 1-2) and
   mentors: served mentees (flow must be >= greedy), weighted by group, and closeness.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.resources import matching
from services.resources.assignment import GROUP_WEIGHT, Mentee, MentorSlots, assign, greedy_assign
from services.resources.catalogue_index import CatalogueIndex
from services.resources.reach import neighbour_map

SUBJECTS = {
    "russian": "RUS",
    "literature": "LIT",
    "mathematics": "MATH",
    "informatics": "INF",
    "history": "HIST",
    "social_studies": "SOC",
    "physics": "PHYS",
    "chemistry": "CHEM",
    "biology": "BIO",
    "geography": "GEO",
    "technology": "TECH",
    "english": "ENG",
    "german": "GER",
    "french": "FRA",
    "primary": "PRIM",
}
METHODOLOGICAL = ["M1", "M2", "M3", "M4"]
KINDS = [
    ("course", "formal"),
    ("event", "non_formal"),
    ("project", "non_formal"),
    ("internship", "non_formal"),
    ("community", "informal"),
    ("methodological_association", "non_formal"),
    ("self_study", "informal"),
]
REGION = "r-bench"


class Region:
    """A synthetic region: municipalities with neighbours, a catalogue, mentors and teachers."""

    def __init__(self, seed: int, municipalities: int, resources: int, mentors: int, teachers: int) -> None:
        rnd = random.Random(seed)
        self.muns = [f"mo-{i:02d}" for i in range(municipalities)]
        pairs = {
            (self.muns[i], self.muns[j]) for i in range(municipalities) for j in (i + 1, i + 7) if j < municipalities
        }
        self.pairs = sorted(pairs)
        self.neighbours = neighbour_map(self.pairs)
        subjects = list(SUBJECTS)
        self.resource_rows: list[dict[str, Any]] = []
        for i in range(resources):
            kind, lt = rnd.choice(KINDS)
            if rnd.random() < 0.45:
                comps = rnd.sample(METHODOLOGICAL, rnd.randint(1, 2))
                subs: list[str] = []
            else:
                s = rnd.choice(subjects)
                comps = rnd.sample([f"{SUBJECTS[s]}.{k}" for k in (1, 2, 3)], rnd.randint(1, 2))
                if rnd.random() < 0.3:
                    comps.append(rnd.choice(METHODOLOGICAL))
                subs = [s]
            mode = rnd.choice(["online", "online", "in_person", "mixed"])
            muns = [] if rnd.random() < 0.4 else rnd.sample(self.muns, rnd.randint(1, 3))
            dated = kind in ("course", "event", "internship") and rnd.random() < 0.8
            start = date(2026, rnd.randint(8, 12), 1) if dated else None
            self.resource_rows.append(
                {
                    "external_id": f"b-{i:05d}",
                    "kind": kind,
                    "title": f"Ресурс {i}",
                    "competencies": comps,
                    "subjects": subs,
                    "levels": sorted(rnd.sample([1, 2, 3, 4], rnd.randint(1, 3))) if rnd.random() < 0.5 else [],
                    "learning_type": lt,
                    "mode": mode,
                    "municipalities": muns,
                    "federal_registry": kind == "course" and rnd.random() < 0.4,
                    "starts_on": start,
                    "ends_on": date(2027, rnd.randint(1, 6), 1) if dated else None,
                    "capacity": rnd.choice([None, 20, 30, 50]) if kind in ("course", "event", "internship") else None,
                }
            )
        self.mentor_rows: list[dict[str, Any]] = []
        for _ in range(mentors):
            s = rnd.choice(subjects)
            subs = [s] if rnd.random() < 0.8 else [s, rnd.choice(subjects)]
            comps = rnd.sample([f"{SUBJECTS[s]}.{k}" for k in (1, 2, 3)] + METHODOLOGICAL, rnd.randint(0, 3))
            self.mentor_rows.append(
                {
                    "teacher_id": str(uuid.UUID(int=rnd.getrandbits(128))),
                    "municipality": rnd.choice(self.muns),
                    "subjects": sorted(set(subs)),
                    "competencies": comps,
                    "level": rnd.choice([3, 4, 4]),
                    "mode": rnd.choice(["in_person", "in_person", "online", "mixed"]),
                    "capacity": rnd.randint(1, 4),
                }
            )
        self.teachers: list[dict[str, Any]] = []
        for _ in range(teachers):
            s = rnd.choice(subjects)
            group = rnd.choices([1, 2, 3, 4], weights=[20, 35, 30, 15])[0]
            pool = METHODOLOGICAL + [f"{SUBJECTS[s]}.{k}" for k in (1, 2, 3)]
            deficits = rnd.sample(pool, max(1, rnd.randint(1, 4) - (1 if group == 4 else 0)))
            self.teachers.append(
                {
                    "teacher_id": str(uuid.UUID(int=rnd.getrandbits(128))),
                    "subject": s,
                    "municipality": rnd.choice(self.muns),
                    "group": group,
                    "deficits": deficits,
                    "modes": ["online"] if rnd.random() < 0.2 else [],
                }
            )

    def offers(self) -> list[matching.Offer]:
        return [
            matching.Offer(
                id=r["external_id"],
                kind=r["kind"],
                title=r["title"],
                competencies=frozenset(r["competencies"]),
                subjects=frozenset(r["subjects"]),
                levels=frozenset(r["levels"]),
                learning_type=r["learning_type"],
                mode=r["mode"],
                municipalities=frozenset(r["municipalities"]),
                starts_on=r["starts_on"],
                ends_on=r["ends_on"],
                free=r["capacity"],
                federal_registry=r["federal_registry"],
            )
            for r in self.resource_rows
        ]

    def mentor_offers(self) -> list[matching.MentorOffer]:
        return [
            matching.MentorOffer(
                id=f"m-{i:05d}",
                teacher_id=m["teacher_id"],
                role="mentor",
                municipality=m["municipality"],
                subjects=frozenset(m["subjects"]),
                competencies=frozenset(m["competencies"]),
                level=m["level"],
                mode=m["mode"],
                free=m["capacity"],
            )
            for i, m in enumerate(self.mentor_rows)
        ]

    def query(self, t: dict[str, Any]) -> matching.MatchQuery:
        return matching.MatchQuery(
            deficits=tuple(t["deficits"]),
            group=t["group"],
            municipality=t["municipality"],
            subject=t["subject"],
            period_start=date(2026, 9, 1),
            period_end=date(2027, 5, 31),
            modes=frozenset(t["modes"]),
            teacher_id=t["teacher_id"],
            neighbours=self.neighbours.get(t["municipality"], frozenset()),
        )

    def request(self, t: dict[str, Any]) -> dict[str, Any]:
        return {
            "teacher_id": t["teacher_id"],
            "deficits": t["deficits"],
            "subject": t["subject"],
            "group": t["group"],
            "municipality": t["municipality"],
            "period": {"start": "2026-09-01", "end": "2027-05-31"},
            "preferences": {"modes": t["modes"]},
        }


def shape(r: matching.MatchResult) -> list[Any]:
    return [
        (d.competency, [(a.item.id, a.score) for a in d.alternatives], [(a.item.id, a.score) for a in d.mentors])
        for d in r.deficits
    ]


def bench_in_process(region: Region, naive_sample: int) -> dict[str, float]:
    offers, mentors = region.offers(), region.mentor_offers()
    queries = [region.query(t) for t in region.teachers]
    t0 = time.perf_counter()
    index = CatalogueIndex(offers, mentors)
    build = time.perf_counter() - t0
    gc.collect()
    fast: list[matching.MatchResult] = []
    gaps = deficits = 0
    t0 = time.perf_counter()
    for i, q in enumerate(queries):
        r = index.match(q)
        deficits += len(r.deficits)
        gaps += sum(1 for d in r.deficits if d.gap)
        if i < naive_sample:  # keep only what the baseline is compared with
            fast.append(r)
    t_fast = time.perf_counter() - t0
    sample = queries[:naive_sample]
    gc.collect()
    t0 = time.perf_counter()
    naive = [matching.match(q, offers, mentors) for q in sample]
    t_naive = time.perf_counter() - t0
    mismatches = sum(1 for a, b in zip(naive, fast, strict=False) if shape(a) != shape(b))
    fast_rate, naive_rate = len(queries) / t_fast, len(sample) / t_naive
    print(f"\n== matching in process: {len(offers)} resources, {len(mentors)} mentors, {len(queries)} teachers")
    print(f"  index build                 {build * 1000:8.0f} ms")
    print(f"  indexed matcher             {t_fast:8.1f} s   {fast_rate:8.0f} teachers/s  (all {len(queries)})")
    print(f"  full-scan matcher (baseline){t_naive:8.1f} s   {naive_rate:8.0f} teachers/s  (sample {len(sample)})")
    print(
        f"  ratio indexed/full-scan     {fast_rate / naive_rate:8.1f} x   identical answers on the sample: "
        f"{len(sample) - mismatches}/{len(sample)}"
    )
    print(f"  deficits without any alternative (gaps): {gaps} of {deficits}")
    return {"indexed_tps": fast_rate, "naive_tps": naive_rate, "mismatches": mismatches}


def bench_assignment(region: Region, seed: int) -> None:
    weak = [
        Mentee(t["teacher_id"], t["subject"], t["municipality"], t["group"], frozenset(t["deficits"]))
        for t in region.teachers
        if t["group"] <= 2
    ]
    slots = [
        MentorSlots(
            f"m-{i:05d}",
            m["teacher_id"],
            m["municipality"],
            frozenset(m["subjects"]),
            frozenset(m["competencies"]),
            m["mode"],
            m["capacity"],
        )
        for i, m in enumerate(region.mentor_rows)
    ]
    capacity = sum(s.free for s in slots)
    balanced = random.Random(seed).sample(weak, min(len(weak), capacity))
    for title, mentees in (("every teacher of groups 1-2", weak), ("as many mentees as slots", balanced)):
        _assignment_case(title, mentees, slots, region)


def _assignment_case(title: str, mentees: list[Mentee], slots: list[MentorSlots], region: Region) -> None:
    t0 = time.perf_counter()
    flow = assign(mentees, slots, region.neighbours)
    t_flow = time.perf_counter() - t0
    t0 = time.perf_counter()
    greedy = greedy_assign(mentees, slots, region.neighbours)
    t_greedy = time.perf_counter() - t0

    def weighted(r: Any) -> int:
        return sum(GROUP_WEIGHT[a.mentee.group] for a in r.assignments)

    print(
        f"\n== mentor assignment, {title}: {len(mentees)} mentees, {len(slots)} mentors, "
        f"{sum(s.free for s in slots)} slots"
    )
    for name, r, t in (("min-cost flow", flow, t_flow), ("greedy (baseline)", greedy, t_greedy)):
        by_group = Counter(a.mentee.group for a in r.assignments)
        tiers = Counter(a.tier for a in r.assignments)
        print(
            f"  {name:18s} served {r.served:6d}  group1 {by_group[1]:6d}  group2 {by_group[2]:6d}  "
            f"weighted {weighted(r):6d}  same-mun {tiers['same_municipality']:5d}  "
            f"neighbour {tiers['neighbouring']:5d}  online {tiers['online']:5d}  {t:6.2f} s"
        )
    print(
        f"  served ratio flow/greedy {flow.served / max(greedy.served, 1):.3f}  (must be >= 1)   "
        f"unserved reasons (flow): {dict(Counter(u.reason for u in flow.unserved))}"
    )
    assert flow.served >= greedy.served, "the flow served fewer mentees than greedy"


def csv_of(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, list):
            return "|".join(str(x) for x in v)
        if isinstance(v, bool):
            return "да" if v else "нет"
        return str(v)

    lines = [";".join(columns)] + [";".join(cell(r.get(c)) for c in columns) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


async def bench_http(region: Region, gateway: str, single: int, batch: int, concurrency: int) -> None:
    from kit.auth import Role
    from tests.harness import auth

    h = auth(Role.regional_specialist, region=REGION, ttl=3600)
    async with httpx.AsyncClient(base_url=gateway, timeout=300) as api:
        cols = [
            "external_id",
            "kind",
            "title",
            "competencies",
            "subjects",
            "levels",
            "learning_type",
            "mode",
            "municipalities",
            "federal_registry",
            "starts_on",
            "ends_on",
            "capacity",
        ]
        t0 = time.perf_counter()
        r = await api.post(
            "/api/v1/resources/import",
            content=csv_of(region.resource_rows, cols),
            headers={**h, "Content-Type": "text/csv", "Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 200, r.text[:500]
        t_res = time.perf_counter() - t0
        mcols = ["teacher_id", "municipality", "subjects", "competencies", "level", "mode", "capacity"]
        t0 = time.perf_counter()
        r = await api.post(
            "/api/v1/mentors/import",
            content=csv_of(region.mentor_rows, mcols),
            headers={**h, "Content-Type": "text/csv", "Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 200, r.text[:500]
        t_men = time.perf_counter() - t0
        r = await api.put(
            "/api/v1/resource-map/neighbours",
            json={"pairs": [{"municipality": a, "neighbour": b} for a, b in region.pairs]},
            headers=h,
        )
        assert r.status_code == 200, r.text[:500]
        print("\n== through HTTP (gateway -> resources -> PostgreSQL)")
        print(
            f"  import {len(region.resource_rows)} resources (CSV) {t_res:6.2f} s   "
            f"{len(region.resource_rows) / t_res:8.0f} rows/s"
        )
        print(
            f"  import {len(region.mentor_rows)} mentors (CSV)   {t_men:6.2f} s   "
            f"{len(region.mentor_rows) / t_men:8.0f} rows/s"
        )

        sample = region.teachers[:single]
        sem = asyncio.Semaphore(concurrency)

        async def one(t: dict[str, Any]) -> None:
            async with sem:
                resp = await api.post("/api/v1/matching", json=region.request(t), headers=h)
                assert resp.status_code == 200, resp.text[:300]

        await one(sample[0])  # warm-up
        t0 = time.perf_counter()
        await asyncio.gather(*(one(t) for t in sample))
        t_single = time.perf_counter() - t0
        print(
            f"  POST /matching, one teacher a request ({concurrency} in flight): {single} teachers "
            f"{t_single:6.2f} s  {single / t_single:8.0f} teachers/s"
        )

        rows = region.teachers[:batch]
        chunks = [rows[i : i + 500] for i in range(0, len(rows), 500)]
        t0 = time.perf_counter()
        for chunk in chunks:
            resp = await api.post(
                "/api/v1/matching/batch", json={"queries": [region.request(t) for t in chunk]}, headers=h
            )
            assert resp.status_code == 200, resp.text[:300]
        t_batch = time.perf_counter() - t0
        print(
            f"  POST /matching/batch, 500 teachers a request: {batch} teachers "
            f"{t_batch:6.2f} s  {batch / t_batch:8.0f} teachers/s"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teachers", type=int, default=80_000)
    ap.add_argument("--resources", type=int, default=5_000)
    ap.add_argument("--mentors", type=int, default=3_000)
    ap.add_argument("--municipalities", type=int, default=60)
    ap.add_argument("--naive-sample", type=int, default=2_000)
    ap.add_argument("--http-single", type=int, default=400)
    ap.add_argument("--http-batch", type=int, default=4_000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--no-http", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    region = Region(args.seed, args.municipalities, args.resources, args.mentors, args.teachers)
    print(
        f"synthetic region: {args.municipalities} municipalities, {len(region.pairs)} neighbour pairs, "
        f"{args.resources} resources, {args.mentors} mentors, {args.teachers} teachers "
        f"(made in {time.perf_counter() - t0:.1f} s)"
    )
    result = bench_in_process(region, args.naive_sample)
    bench_assignment(region, args.seed)
    if not args.no_http:
        from deploy import stack
        from tests.harness import postgres_server, start_stack

        with postgres_server() as admin_url:
            stack.prepare_database(admin_url)
            st = start_stack(admin_url, Path(tempfile.mkdtemp(prefix="iom-bench-logs-")))
            try:
                asyncio.run(bench_http(region, st.gateway, args.http_single, args.http_batch, args.concurrency))
            finally:
                st.stop_all()
    if result["mismatches"]:
        raise SystemExit("the indexed matcher disagreed with the full scan")


if __name__ == "__main__":
    main()
