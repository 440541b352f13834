"""Personal data (152-FZ): depersonalising a teacher everywhere, private files, retention of exports and
idempotency records. Through the gateway, on real PostgreSQL and the real processes."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.stack import ROOT
from kit.auth import Role
from services.assessment.intake.reading import spool_body
from services.routes.depersonalising import depersonalised_fields, scrub_content, scrub_overrides
from tests.e2e.world import run_export
from tests.harness import Stack, auth
from tests.region import MUN_A, ORG_A1, REGION, as_regional, seed_region
from tests.routes.flow import results_for, wait_for_routes

NAME = "Иванова Мария Петровна"
EXTERNAL_ID = "t-a1-1"
REQUEST = "Хочу освоить формирующее оценивание, звоните +7 900 000-00-00"


def as_admin(region: str = REGION) -> dict[str, str]:
    return auth(Role.admin, region=region)


def as_teacher(teacher_id: str) -> dict[str, str]:
    return auth(Role.teacher, region=REGION, municipality=MUN_A, organisation=ORG_A1, teacher_id=teacher_id)


def month_of(route: dict[str, Any]) -> str:
    return str(route["period_start"])[:7]


def export_text(folder: Path) -> str:
    """Every export file of the month as text (CSV and JSON as they are, XLSX's shared strings unzipped)."""
    import zipfile

    parts = []
    for p in sorted(folder.iterdir()):
        if p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                parts += [z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml")]
        else:
            parts.append(p.read_text(encoding="utf-8-sig"))
    return "\n".join(parts)


async def one_route(api: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    """The crafted region, one weak result of the first teacher, and the route made of it."""
    region = await seed_region(api)
    await results_for(api, {EXTERNAL_ID: {"M1", "M2", "M3"}})
    routes = await wait_for_routes(api, 1)
    return region.id(EXTERNAL_ID), routes[0]


async def wait_for_no_name(api: httpx.AsyncClient, route_id: str, within: float = 20.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    body: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        r = await api.get(f"/api/v1/routes/{route_id}", headers=as_regional())
        assert r.status_code == 200, r.text
        body = r.json()
        if body["teacher_name"] == "":
            return body
        await asyncio.sleep(0.2)
    raise AssertionError("the route still names the teacher")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestDepersonalise:
    async def test_the_name_appears_nowhere_afterwards(
        self, api: httpx.AsyncClient, live: Stack, tmp_path: Path
    ) -> None:
        teacher_id, route = await one_route(api)
        r = await api.get(f"/api/v1/routes/{route['id']}", headers=as_regional())
        r = await api.put(
            f"/api/v1/routes/{route['id']}/request",
            json={"text": REQUEST, "interests": ["оценивание"]},
            headers={**as_teacher(teacher_id), "If-Match": r.headers["ETag"]},
        )
        assert r.status_code == 200, r.text
        month = month_of(route)
        await asyncio.to_thread(run_export, live, month, tmp_path)
        assert NAME in export_text(tmp_path / month)  # the arrangement: the name is there before

        r = await api.post(f"/api/v1/teachers/{teacher_id}/depersonalise", headers=as_admin())
        assert r.status_code == 200, r.text
        teacher = r.json()
        assert teacher["id"] == teacher_id and teacher["full_name"] == ""
        assert teacher["external_id"] != EXTERNAL_ID and teacher["depersonalised_at"]
        assert teacher["municipality"] == MUN_A and teacher["subjects"] == ["mathematics"]  # aggregates stay

        read = await api.get(f"/api/v1/teachers/{teacher_id}", headers=as_regional())
        profile = await api.get(f"/api/v1/teachers/{teacher_id}/profile", headers=as_regional())
        results = await api.get("/api/v1/results", params={"limit": 500}, headers=as_regional())
        found = await api.get("/api/v1/teachers", params={"q": "Иванова"}, headers=as_regional())
        for answer in (read, profile, results, found):
            assert answer.status_code == 200, answer.text
            assert NAME not in answer.text and EXTERNAL_ID not in answer.text
        assert profile.json()["results"][0]["total_points"] > 0  # results keep their scores
        assert found.json()["items"] == []

        stored = await wait_for_no_name(api, str(route["id"]))
        assert NAME not in json.dumps(stored, ensure_ascii=False) and REQUEST not in json.dumps(stored)
        assert stored["external_id"] == teacher["external_id"]
        for path in ("print", "versions", "history"):
            r = await api.get(f"/api/v1/routes/{route['id']}/{path}", headers=as_regional())
            assert r.status_code == 200, r.text
            assert NAME not in r.text and REQUEST not in r.text and EXTERNAL_ID not in r.text, path

        await asyncio.to_thread(run_export, live, month, tmp_path)
        text = export_text(tmp_path / month)
        assert NAME not in text and EXTERNAL_ID not in text

        log = await api.get("/api/v1/assessment/personal-data-log", headers=as_admin())
        assert log.status_code == 200, log.text
        [entry] = log.json()["items"]
        assert entry["teacher_id"] == teacher_id and entry["action"] == "depersonalised"
        assert entry["actor_role"] == "admin" and entry["region"] == REGION and entry["at"]
        assert NAME not in log.text and EXTERNAL_ID not in log.text

    async def test_a_stale_if_match_is_refused(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        teacher_id = region.id(EXTERNAL_ID)
        h = {**as_admin(), "If-Match": '"999"'}
        r = await api.post(f"/api/v1/teachers/{teacher_id}/depersonalise", headers=h)
        assert r.status_code == 412, r.text
        r = await api.get(f"/api/v1/teachers/{teacher_id}", headers=as_regional())
        assert r.json()["full_name"] == NAME

    @pytest.mark.parametrize(
        "role", [Role.regional_specialist, Role.service, Role.municipal_methodologist, Role.school_admin]
    )
    async def test_only_an_administrator_may(self, api: httpx.AsyncClient, role: Role) -> None:
        region = await seed_region(api)
        teacher_id = region.id(EXTERNAL_ID)
        h = auth(role, region=REGION, municipality=MUN_A, organisation=ORG_A1)
        r = await api.post(f"/api/v1/teachers/{teacher_id}/depersonalise", headers=h)
        assert r.status_code == 403, r.text
        assert (await api.get("/api/v1/assessment/personal-data-log", headers=h)).status_code == 403
        r = await api.get(f"/api/v1/teachers/{teacher_id}", headers=as_regional())
        assert r.json()["full_name"] == NAME

    async def test_a_teacher_of_another_region_is_not_found(self, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        teacher_id = region.id(EXTERNAL_ID)
        r = await api.post(f"/api/v1/teachers/{teacher_id}/depersonalise", headers=as_admin("r-other"))
        assert r.status_code == 404, r.text
        log = await api.get("/api/v1/assessment/personal-data-log", headers=as_admin())
        assert log.json()["items"] == []
        r = await api.get(f"/api/v1/teachers/{teacher_id}", headers=as_regional())
        assert r.json()["full_name"] == NAME


class TestPrivateFiles:
    async def test_export_files_are_the_owners_only(self, api: httpx.AsyncClient, live: Stack, tmp_path: Path) -> None:
        _, route = await one_route(api)
        month = month_of(route)
        out = tmp_path / "exports"
        await asyncio.to_thread(run_export, live, month, out)
        files = list((out / month).iterdir())
        assert {p.suffix for p in files} == {".csv", ".xlsx", ".json"}
        assert {mode(p) for p in files} == {0o600}
        assert mode(out / month) == 0o700 and mode(out) == 0o700

    @pytest.mark.no_db
    async def test_the_intake_spool_is_the_owners_only(self, tmp_path: Path) -> None:
        async def body() -> Any:
            yield b"external_id;M1\n"

        spool = await spool_body(body(), 1000, str(tmp_path))
        try:
            assert mode(spool.path) == 0o600
        finally:
            spool.remove()


async def back_date(db: asyncpg.Connection, table: str, days: int, where: str = "TRUE") -> None:
    await db.execute(f"UPDATE {table} SET created_at = now() - make_interval(days => {days}) WHERE {where}")


def retention(live: Stack, out: Path, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "services.routes", "retention", "--out", str(out)],
        env={**live.env, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


async def add_idempotency_record(db: asyncpg.Connection, schema: str, key: str, days_old: int) -> None:
    await db.execute(
        f"INSERT INTO {schema}.idempotency_keys (key, principal, operation, fingerprint, status_code, response, "
        "created_at) VALUES ($1, 'p', 'op', 'f', 200, '{}'::bytea, now() - make_interval(days => $2))",
        key,
        days_old,
    )


class TestRetention:
    async def test_old_export_files_records_and_idempotency_records_go(
        self, api: httpx.AsyncClient, live: Stack, db: asyncpg.Connection, tmp_path: Path
    ) -> None:
        _, route = await one_route(api)
        month = month_of(route)
        out = tmp_path / "exports"
        await asyncio.to_thread(run_export, live, month, out)
        old_files = sorted((out / month).iterdir())
        # An older month, written 400 days ago (its records and files back-dated), and a leftover file.
        await back_date(db, "routes.exports", 400)
        for p in old_files:
            os.utime(p, (p.stat().st_atime, p.stat().st_mtime - 400 * 86400))
        (out / "2020-01").mkdir(mode=0o700)
        leftover = out / "2020-01" / "mo-a.csv"
        leftover.write_text("ФИО\n")
        os.utime(leftover, (0, 0))
        await add_idempotency_record(db, "routes", "old", 40)
        await add_idempotency_record(db, "routes", "fresh", 1)

        summary = retention(live, out, ROUTES_EXPORT_RETENTION_DAYS="365", ROUTES_IDEMPOTENCY_RETENTION_DAYS="30")

        assert summary == {
            "export_records_removed": len(old_files),
            "export_files_removed": len(old_files) + 1,
            "idempotency_records_removed": 1,
        }
        assert not any(p.exists() for p in [*old_files, leftover])
        assert await db.fetchval("SELECT count(*) FROM routes.exports") == 0
        assert [r["key"] for r in await db.fetch("SELECT key FROM routes.idempotency_keys")] == ["fresh"]
        r = await api.get("/api/v1/exports", params={"month": month}, headers=as_regional())
        assert r.status_code == 200 and r.json()["items"] == []

    async def test_files_within_the_retention_stay(
        self, api: httpx.AsyncClient, live: Stack, db: asyncpg.Connection, tmp_path: Path
    ) -> None:
        _, route = await one_route(api)
        month = month_of(route)
        out = tmp_path / "exports"
        await asyncio.to_thread(run_export, live, month, out)
        await back_date(db, "routes.exports", 100)
        files = sorted((out / month).iterdir())

        summary = retention(live, out, ROUTES_EXPORT_RETENTION_DAYS="365")

        assert summary["export_records_removed"] == 0 and summary["export_files_removed"] == 0
        assert all(p.exists() for p in files)
        assert await db.fetchval("SELECT count(*) FROM routes.exports") == len(files)

    async def test_an_upload_purges_expired_idempotency_records(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        """A stored answer of an upload may name teachers: it is kept 30 days (kit.idempotency)."""
        await add_idempotency_record(db, "assessment", "old", 31)
        await add_idempotency_record(db, "assessment", "fresh", 29)
        await seed_region(api)
        await results_for(api, {EXTERNAL_ID: {"M1"}})
        keys = {r["key"] for r in await db.fetch("SELECT key FROM assessment.idempotency_keys")}
        assert "old" not in keys and "fresh" in keys and len(keys) == 2


@pytest.mark.no_db
class TestRouteScrubRule:
    CONTENT: dict[str, Any] = {
        "group": 1,
        "sections": {
            "personal_profile": {"full_name": NAME, "organisation": ORG_A1, "municipality": MUN_A},
            "professional_request": {"text": REQUEST, "interests": ["оценивание"]},
            "goals": [{"problem": "p", "tasks": []}],
        },
    }

    def test_the_name_and_request_go_the_rest_stays(self) -> None:
        out = scrub_content(self.CONTENT)
        assert out["sections"]["personal_profile"] == {"full_name": "", "organisation": ORG_A1, "municipality": MUN_A}
        assert out["sections"]["professional_request"] == {"text": "", "interests": []}
        assert out["sections"]["goals"] == self.CONTENT["sections"]["goals"]
        assert self.CONTENT["sections"]["personal_profile"]["full_name"] == NAME  # a copy

    def test_achievements_and_courses_the_teacher_wrote_go(self) -> None:
        written = {
            "position": "учитель",
            "achievements": ["Победитель конкурса"],
            "courses_last_3_years": [{"title": "К"}],
        }
        content = {**self.CONTENT, "sections": {**self.CONTENT["sections"], "professional_profile": written}}
        assert scrub_content(content)["sections"]["professional_profile"] == {
            "position": "учитель",
            "achievements": [],
            "courses_last_3_years": [],
        }
        assert scrub_overrides([{"target": "profile", "value": written}]) == []

    def test_overrides_with_the_teachers_text_go(self) -> None:
        kept = {"target": "task", "task_id": "t1", "field": "done", "value": True}
        assert scrub_overrides([{"target": "request", "value": {"text": REQUEST}}, kept]) == [kept]

    def test_a_route_naming_nobody_needs_no_change(self) -> None:
        row = {"teacher_name": NAME, "external_id": EXTERNAL_ID, "content": self.CONTENT, "overrides": []}
        values = depersonalised_fields(row, "depersonalised-x")
        assert set(values) == {"teacher_name", "external_id", "content"}
        assert depersonalised_fields({**row, **values}, "depersonalised-x") == {}
