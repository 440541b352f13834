"""The monthly export split into shards (issue 16, point 2): N shards run at the same time and give the files
(byte for byte) and the records of one run; a shard re-run changes nothing; the locks of the shards."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.stack import ROOT
from services.routes.exports.queries import LOCK_KEY
from services.routes.exports.shards import INDEX_ENV, Shard, municipality_key, shard_key, shard_of
from tests.harness import Stack
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_B1, REGION, seed_region
from tests.routes.factory import insert_route

MONTH = "2026-11"
MUN_C = "mo-c"  # in the region too, not in the directory
OTHER = "mo-other"  # another region's
# Each of 3 shards writes at least one municipality, and the region's workbook has sheets of every shard.
SHARDS = 3
RECORD = "month, region, municipality, format, filename, sha256, size_bytes, rows"


async def seed(db: asyncpg.Connection, api: httpx.AsyncClient) -> None:
    await seed_region(api, teachers=[])
    for name, group, municipality, org in (
        ("Борисов Олег Ильич", 2, MUN_A, ORG_A1),
        ("Васильев Денис Петрович", 1, MUN_A, ORG_A1),
        ("Кузнецов Иван Андреевич", 2, MUN_B, ORG_B1),
        ("Абрамова Ольга Юрьевна", 3, MUN_C, "oo-c1"),
        ("Яковлева Нина Павловна", 1, MUN_C, "oo-c1"),
    ):
        await insert_route(db, teacher_name=name, group=group, municipality=municipality, organisation=org)
    await insert_route(
        db, teacher_name="Соседова Алла Петровна", group=1, region="r-other", municipality=OTHER, organisation="oo-o"
    )


async def export_cli(live: Stack, out: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.routes",
        "export",
        "--month",
        MONTH,
        "--quiet",
        "--out",
        str(out),
        *args,
        env={**live.env, **(env or {})},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=180)
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


def files(out: Path) -> dict[str, bytes]:
    """The month's files people get (the shards' markers are hidden files)."""
    return {p.name: p.read_bytes() for p in sorted((out / MONTH).iterdir()) if not p.name.startswith(".")}


async def records(db: asyncpg.Connection) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in await db.fetch(f"SELECT {RECORD} FROM routes.exports")}


async def paths(db: asyncpg.Connection) -> set[Path]:
    return {Path(r["path"]).parent for r in await db.fetch("SELECT path FROM routes.exports")}


async def in_parallel(live: Stack, out: Path) -> list[dict[str, Any]]:
    """The 3 shards at once, each told its index as Kubernetes tells an Indexed Job's pod."""
    runs = await asyncio.gather(
        *(export_cli(live, out, "--shard-from-env", str(SHARDS), env={INDEX_ENV: str(i)}) for i in range(SHARDS))
    )
    for code, _, stderr in runs:
        assert code == 0, stderr
    return [json.loads(stdout.strip().splitlines()[-1]) for _, stdout, _ in runs]


@pytest.mark.no_db
def test_the_seed_spreads_over_every_shard() -> None:
    assert {shard_of(m, SHARDS) for m in (MUN_A, MUN_B, MUN_C)} == set(range(SHARDS))
    assert shard_of(OTHER, SHARDS) in range(SHARDS)


@pytest.mark.no_db
class TestShardArgument:
    def test_i_of_n(self) -> None:
        assert Shard.parse("2/3") == Shard(2, 3) and str(Shard(2, 3)) == "2/3"
        for bad in ("3/3", "-1/3", "1", "a/b", "0/0", "0/65"):
            with pytest.raises(ValueError):
                Shard.parse(bad)

    def test_the_index_comes_from_the_indexed_job(self) -> None:
        assert Shard.from_env(4, {INDEX_ENV: "3"}) == Shard(3, 4)
        for env in ({}, {INDEX_ENV: ""}, {INDEX_ENV: "4"}):
            with pytest.raises(ValueError):
                Shard.from_env(4, env)

    def test_every_municipality_has_one_shard(self) -> None:
        codes = [f"mo-{i}" for i in range(300)]
        for n in (1, 2, 3, 7):
            owners = {m: [i for i in range(n) if Shard(i, n).owns(m)] for m in codes}
            assert all(len(o) == 1 for o in owners.values())
            assert {o[0] for o in owners.values()} == set(range(n))  # none left idle by 300 codes


class TestShardedExport:
    async def test_three_shards_at_once_give_the_files_and_records_of_one_run(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        code, _, stderr = await export_cli(live, tmp_path / "one")
        assert code == 0, stderr
        one, one_records = files(tmp_path / "one"), await records(db)
        assert {f"region-{REGION}.xlsx", "region-r-other.xlsx", f"{MUN_C}.json"} <= set(one)

        summaries = await in_parallel(live, tmp_path / "sharded")
        sharded = files(tmp_path / "sharded")
        assert sorted(sharded) == sorted(one)
        assert [n for n in one if one[n] != sharded[n]] == []  # byte for byte, the region workbooks too
        assert await records(db) == one_records
        assert await paths(db) == {(tmp_path / "sharded" / MONTH).resolve()}
        assert sum(s["routes"] for s in summaries) == 6 and {s["shard"] for s in summaries} == {"0/3", "1/3", "2/3"}
        assert sum(s["region_workbooks"] for s in summaries) == 2  # written once, by the last shard done

    async def test_a_shard_re_run_changes_nothing_and_keeps_the_other_shards_files(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await in_parallel(live, tmp_path)
        first, first_records = files(tmp_path), await records(db)
        for _ in range(2):
            code, stdout, stderr = await export_cli(live, tmp_path, "--shard", f"{shard_of(MUN_B, SHARDS)}/{SHARDS}")
            assert code == 0, stderr
            assert json.loads(stdout)["region_workbooks"] == 2  # the others' markers stand: every shard is done
            assert files(tmp_path) == first
            assert await records(db) == first_records

    async def test_a_municipality_without_routes_now_loses_only_its_files(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        await in_parallel(live, tmp_path)
        await db.execute("DELETE FROM routes.routes WHERE municipality = $1", MUN_C)
        summaries = await in_parallel(live, tmp_path)
        assert sum(s["removed_stale"] for s in summaries) == 3
        left = files(tmp_path)
        assert not [n for n in left if n.startswith(MUN_C)]
        assert {f"{m}.{f}" for m in (MUN_A, MUN_B, OTHER) for f in ("csv", "xlsx", "json")} <= set(left)
        code, _, stderr = await export_cli(live, tmp_path / "one")
        assert code == 0, stderr
        assert files(tmp_path / "one") == left  # the region workbook without its sheet, as one run writes it

    async def test_one_run_and_a_second_copy_of_a_shard_are_refused_while_shards_run(
        self, api: httpx.AsyncClient, live: Stack, db: Any, tmp_path: Path
    ) -> None:
        await seed(db, api)
        # As shard 1/3 running holds them: the export lock shared, its shard's lock, its municipality's lock.
        assert await db.fetchval("SELECT pg_try_advisory_lock_shared($1)", LOCK_KEY)
        assert await db.fetchval("SELECT pg_try_advisory_lock($1)", shard_key(Shard(1, SHARDS)))
        try:
            code, _, stderr = await export_cli(live, tmp_path, "--shard", f"1/{SHARDS}")
            assert code == 75 and "идёт другая ежемесячная выгрузка" in stderr
            code, _, stderr = await export_cli(live, tmp_path)
            assert code == 75 and "идёт другая ежемесячная выгрузка" in stderr
            code, _, stderr = await export_cli(live, tmp_path, "--shard", f"0/{SHARDS}")
            assert code == 0, stderr  # another shard runs meanwhile
            assert await db.fetchval("SELECT pg_try_advisory_lock($1)", municipality_key(MUN_B))
            # Shard 0 of 2 would write MUN_B too (another N): refused while MUN_B's writer runs.
            assert shard_of(MUN_B, 2) == 0
            code, _, stderr = await export_cli(live, tmp_path / "other-n", "--shard", "0/2")
            assert code == 75, stderr
        finally:
            await db.execute("SELECT pg_advisory_unlock_all()")
        assert await db.fetchval("SELECT count(*) FROM routes.exports WHERE municipality = ''") == 0

    async def test_shards_need_an_index(self, live: Stack, tmp_path: Path) -> None:
        code, _, stderr = await export_cli(live, tmp_path, "--shard-from-env", "3", env={INDEX_ENV: ""})
        assert code == 2 and INDEX_ENV in stderr
        code, _, stderr = await export_cli(live, tmp_path, "--shard", "3/3")
        assert code == 2
