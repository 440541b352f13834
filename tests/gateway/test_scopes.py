"""API keys carry scopes and a territory: the gateway lets a key call only the operations its scopes name."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from gateway.scopes import scope_table
from tests.harness import Stack
from tests.region import MUN_A, MUN_B, REGION, as_regional, seed_region


def issue(live: Stack, *scopes: str, role: str = "regional_specialist", **territory: str) -> str:
    args = ["--name", "school portal", "--role", role, "--region", territory.pop("region", REGION)]
    for name, value in territory.items():
        args += [f"--{name}", value]
    for scope in scopes:
        args += ["--scope", scope]
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "apikey", "issue", *args],
        env=live.env,
        capture_output=True,
        text=True,
        check=True,
    )
    key: str = json.loads(out.stdout)["key"]
    return key


def operations(spec: dict[str, object]) -> set[str]:
    paths = spec["paths"]
    assert isinstance(paths, dict)
    return {f"{m.upper()} {p}" for p, item in paths.items() for m in item if m != "parameters"}


class TestTheTable:
    async def test_every_operation_of_the_merged_api_has_one_scope(self, api: httpx.AsyncClient) -> None:
        spec = (await api.get("/openapi.json")).json()
        table = scope_table()
        served = operations(spec)
        assert served - table.operations.keys() == set(), "add these operations to gateway/data/scopes.json"
        assert table.operations.keys() - served == set(), "these operations of gateway/data/scopes.json are gone"

    async def test_each_operation_declares_its_scope_in_the_openapi(self, api: httpx.AsyncClient) -> None:
        spec = (await api.get("/openapi.json")).json()
        table = scope_table()
        for path, item in spec["paths"].items():
            for method, op in item.items():
                scope = table.operations[f"{method.upper()} {path}"]
                assert op["security"] == [{"bearerAuth": []}, {"apiKeyAuth": [scope]}], op["operationId"]
        described = spec["components"]["securitySchemes"]["apiKeyAuth"]["description"]
        assert all(f"`{name}`" in described for name in table.scopes)


class TestScopedKeys:
    async def test_a_key_calls_what_its_scopes_name_and_nothing_else(self, live: Stack, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        h = {"X-API-Key": issue(live, "teachers:read", "routes:read")}
        assert (await api.get("/api/v1/teachers", headers=h)).status_code == 200
        assert (await api.get("/api/v1/routes", headers=h)).status_code == 200
        for method, path, scope in (
            ("GET", "/api/v1/assessment/changes", "changes:read"),
            ("GET", "/api/v1/exports", "exports:read"),
            ("PUT", "/api/v1/municipalities", "directory:write"),
            ("POST", "/api/v1/routes/generate", "routes:generate"),
        ):
            r = await api.request(method, path, headers=h, json=[])
            assert r.status_code == 403, (path, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "insufficient-scope"
            assert r.json()["detail"] == f"У этого ключа API нет права «{scope}»"

    async def test_a_refused_write_changes_nothing(self, live: Stack, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        h = {"X-API-Key": issue(live, "directory:read", "teachers:read")}
        before = (await api.get("/api/v1/municipalities", headers=as_regional())).json()
        body = [{"code": MUN_A, "name": "Переименованный", "region": REGION}]
        r = await api.put("/api/v1/municipalities", json=body, headers=h)
        assert r.status_code == 403 and r.json()["code"] == "insufficient-scope"
        assert (await api.get("/api/v1/municipalities", headers=as_regional())).json() == before

    async def test_a_key_sees_only_its_territory(self, live: Stack, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        key = issue(live, "teachers:read", role="municipal_methodologist", municipality=MUN_B)
        r = await api.get("/api/v1/teachers", headers={"X-API-Key": key})
        assert r.status_code == 200 and {t["municipality"] for t in r.json()["items"]} == {MUN_B}

    async def test_a_key_of_another_region_sees_nothing_of_this_one(self, live: Stack, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        key = issue(live, "teachers:read", region="r-other")
        r = await api.get("/api/v1/teachers", headers={"X-API-Key": key})
        assert r.status_code == 200 and r.json()["items"] == []

    async def test_a_key_calling_no_known_operation_is_404(self, live: Stack, api: httpx.AsyncClient) -> None:
        h = {"X-API-Key": issue(live, "teachers:read")}
        r = await api.delete("/api/v1/teachers", headers=h)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"

    def test_a_key_needs_a_region_and_known_scopes(self, live: Stack) -> None:
        base = [sys.executable, "-m", "gateway", "apikey", "issue", "--name", "n", "--role", "regional_specialist"]
        for extra in (["--scope", "teachers:read"], ["--region", REGION], ["--region", REGION, "--scope", "all"]):
            out = subprocess.run([*base, *extra], env=live.env, capture_output=True, text=True)
            assert out.returncode != 0, extra


@pytest.mark.no_db
def test_a_request_finds_its_operation_by_literal_segments_first() -> None:
    table = scope_table()
    mine = table.find("GET", "/api/v1/routes/mine")
    one = table.find("GET", "/api/v1/routes/3f1c")
    assert mine is not None and mine.key == "GET /api/v1/routes/mine"
    assert one is not None and one.key == "GET /api/v1/routes/{route_id}"
    assert table.find("GET", "/api/v1/nothing") is None
    assert table.find("GET", "/api/v1/routes//history") is None
