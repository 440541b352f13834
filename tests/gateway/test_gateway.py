"""The gateway: authentication, routing, errors, limits, health, merged OpenAPI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import httpx
import jwt
import pytest

from deploy import stack
from gateway.proxy import IDLE_UPSTREAM_SECONDS
from kit.auth import Role
from kit.cli import KEEP_ALIVE_SECONDS
from tests.harness import TEST_ENV, Stack, auth, free_port, token
from tests.region import MUN_A, REGION, as_methodologist, as_regional, seed_region

SECRET = TEST_ENV["JWT_SECRET"]
PORTAL = ("--name", "school portal", "--role", "regional_specialist", "--region", REGION)


def forged(claims_update: dict[str, object], *, key: str = SECRET, alg: str = "HS256") -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "iom-platform",
        "aud": "iom-api",
        "sub": "someone",
        "role": "regional_specialist",
        "region": REGION,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(claims_update)
    return jwt.encode(claims, key, algorithm=alg)


class TestAuthentication:
    async def test_missing_token_is_401_problem(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/teachers")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["request_id"] == r.headers["x-request-id"]

    @pytest.mark.parametrize(
        "bad",
        [
            pytest.param(forged({"exp": int(time.time()) - 3600}), id="expired"),
            pytest.param(forged({}, key="another-secret-0123456789abcdef0123456789"), id="wrong-signature"),
            pytest.param(forged({"aud": "someone-else"}), id="wrong-audience"),
            pytest.param(forged({"iss": "evil"}), id="wrong-issuer"),
            pytest.param(forged({}, alg="HS512"), id="algorithm-not-allowed"),
            pytest.param(jwt.encode({"sub": "x", "role": "admin"}, None, algorithm="none"), id="alg-none"),
            pytest.param("not.a.jwt", id="garbage"),
        ],
    )
    async def test_bad_tokens_are_401(self, api: httpx.AsyncClient, bad: str) -> None:
        r = await api.get("/api/v1/teachers", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401
        assert r.json()["code"] in {"invalid-token", "token-expired"}

    async def test_unknown_role_claim_is_401(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/teachers", headers={"Authorization": f"Bearer {forged({'role': 'superuser'})}"})
        assert r.status_code == 401

    async def test_service_refuses_a_request_without_token_even_from_loopback(self, live: Stack) -> None:
        async with httpx.AsyncClient(base_url=live.url("assessment")) as direct:
            r = await direct.get("/api/v1/teachers")
        assert r.status_code == 401

    async def test_service_verifies_tokens_itself(self, live: Stack) -> None:
        async with httpx.AsyncClient(base_url=live.url("assessment")) as direct:
            r = await direct.get("/api/v1/teachers", headers={"Authorization": f"Bearer {forged({'aud': 'x'})}"})
        assert r.status_code == 401


class TestServiceIdentity:
    """The `service` role is the services' own: only tokens signed with the internal key carry it."""

    @pytest.mark.parametrize(
        "claims",
        [
            pytest.param({"role": "service"}, id="people-key"),
            pytest.param({"role": "service", "aud": "iom-internal"}, id="people-key-internal-audience"),
        ],
    )
    async def test_a_service_token_signed_with_the_people_key_is_401(
        self, live: Stack, api: httpx.AsyncClient, claims: dict[str, object]
    ) -> None:
        await seed_region(api)
        h = {"Authorization": f"Bearer {forged(claims)}"}
        assert (await api.get("/api/v1/assessment/changes", headers=h)).status_code == 401
        async with httpx.AsyncClient(base_url=live.url("assessment")) as direct:
            r = await direct.get("/api/v1/assessment/changes", headers=h)
        assert r.status_code == 401 and r.json()["code"] == "invalid-token"

    async def test_an_internal_token_carries_only_the_service_role(self, api: httpx.AsyncClient) -> None:
        tok = forged({"role": "admin", "aud": "iom-internal"}, key=TEST_ENV["INTERNAL_JWT_SECRET"])
        r = await api.get("/api/v1/teachers", headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 401

    async def test_the_services_own_token_still_works(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        r = await api.get("/api/v1/assessment/changes", headers=auth(Role.service, region=REGION))
        assert r.status_code == 200

    def test_the_token_command_refuses_the_service_role(self, live: Stack) -> None:
        out = subprocess.run(
            [sys.executable, "-m", "gateway", "token", "--role", "service", "--region", REGION],
            env=live.env,
            capture_output=True,
            text=True,
        )
        assert out.returncode != 0 and "invalid choice: 'service'" in out.stderr and not out.stdout


class TestApiKeys:
    def refused(self, live: Stack, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "gateway", "apikey", *args]
        return subprocess.run(cmd, env=live.env, capture_output=True, text=True)

    def cli(self, live: Stack, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "gateway", "apikey", *args], env=live.env, capture_output=True, text=True, check=True
        )
        return out.stdout

    async def test_a_key_cannot_act_as_a_service(self, live: Stack, db: object) -> None:
        args = ("issue", "--name", "school portal", "--role", "service", "--region", REGION, "--scope", "routes:read")
        out = self.refused(live, *args)
        assert out.returncode != 0 and "'service'" in out.stderr
        assert await db.fetch("SELECT * FROM gateway.api_keys") == []  # type: ignore[attr-defined]

    async def test_a_key_of_the_service_role_stored_before_is_not_honoured(
        self, live: Stack, api: httpx.AsyncClient, db: object
    ) -> None:
        await seed_region(api)
        issued = json.loads(self.cli(live, "issue", *PORTAL, "--scope", "teachers:read", "--scope", "changes:read"))
        await db.execute("UPDATE gateway.api_keys SET role = 'service'")  # type: ignore[attr-defined]
        r = await api.get("/api/v1/assessment/changes", headers={"X-API-Key": issued["key"]})
        assert r.status_code == 401 and r.json()["code"] == "invalid-api-key"

    async def test_issued_key_works_and_revoked_key_stops_working(self, live: Stack, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        issued = json.loads(self.cli(live, "issue", *PORTAL, "--scope", "teachers:read"))
        r = await api.get("/api/v1/teachers", headers={"X-API-Key": issued["key"]})
        assert r.status_code == 200 and len(r.json()["items"]) == 5
        assert issued["key"] not in self.cli(live, "list")
        self.cli(live, "revoke", issued["id"])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            r = await api.get("/api/v1/teachers", headers={"X-API-Key": issued["key"]})
            if r.status_code == 401:
                break
            await asyncio.sleep(0.5)
        assert r.status_code == 401

    async def test_key_is_stored_only_as_hash(self, live: Stack, db: object) -> None:
        issued = json.loads(self.cli(live, "issue", *PORTAL, "--scope", "exports:read"))
        rows = await db.fetch("SELECT * FROM gateway.api_keys")  # type: ignore[attr-defined]
        assert len(rows) == 1
        assert issued["key"] not in json.dumps([dict(r) for r in rows], default=str)

    async def test_scoped_key_sees_only_its_municipality(self, live: Stack, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        args = ("issue", "--name", "dashboard", "--role", "municipal_methodologist", "--region", REGION)
        issued = json.loads(self.cli(live, *args, "--municipality", MUN_A, "--scope", "teachers:read"))
        r = await api.get("/api/v1/teachers", headers={"X-API-Key": issued["key"]})
        assert {t["municipality"] for t in r.json()["items"]} == {MUN_A}

    async def test_read_only_key_cannot_write(self, live: Stack, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        args = ("issue", *PORTAL, "--read-only", "--scope", "teachers:read", "--scope", "directory:write")
        issued = json.loads(self.cli(live, *args))
        h = {"X-API-Key": issued["key"]}
        assert (await api.get("/api/v1/teachers", headers=h)).status_code == 200
        r = await api.put("/api/v1/municipalities", json=[], headers=h)
        assert r.status_code == 403 and r.json()["code"] == "read-only-credential"

    async def test_unknown_key_is_401(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/teachers", headers={"X-API-Key": "iomk_nope_nope"})
        assert r.status_code == 401


class TestRouting:
    async def test_request_id_is_kept_end_to_end(self, live: Stack, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/teachers", headers={**as_regional(), "X-Request-ID": "trace-abc-123"})
        assert r.headers["x-request-id"] == "trace-abc-123"
        log = live.log_dir / "assessment.log"
        for _ in range(50):  # the access line is written just after the response is sent
            if '"request_id":"trace-abc-123"' in log.read_text():
                break
            await asyncio.sleep(0.05)
        assert '"request_id":"trace-abc-123"' in log.read_text()

    async def test_request_id_is_made_when_absent(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/teachers", headers=as_regional())
        assert len(r.headers["x-request-id"]) >= 8

    async def test_unknown_api_path_is_404_problem(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/api/v1/nothing-here", headers=as_regional())
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"

    async def test_oversized_body_is_413_problem(self, api: httpx.AsyncClient) -> None:
        body = b"[" + b"1," * 600_000 + b"1]"
        r = await api.put(
            "/api/v1/municipalities", content=body, headers={**as_regional(), "Content-Type": "application/json"}
        )
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"

    async def test_service_down_is_503_problem(self, admin_url: str, tmp_path: object) -> None:
        ports = {p.name: free_port() for p in stack.ALL}
        env = stack.process_env(admin_url, ports, {**__import__("os").environ, **TEST_ENV})
        gw = stack.spawn(stack.GATEWAY, env, tmp_path)  # type: ignore[arg-type]
        try:
            deadline = time.monotonic() + 30
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['gateway']}", timeout=10) as c:
                while True:
                    try:
                        await c.get("/livez")
                        break
                    except httpx.TransportError:
                        if time.monotonic() > deadline:
                            pytest.fail("the gateway did not start")
                        await asyncio.sleep(0.1)
                r = await c.get("/api/v1/teachers", headers=as_regional())
                assert r.status_code == 503
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["code"] == "upstream-unavailable"
                ready = await c.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["checks"]["assessment"] == "unreachable"
        finally:
            stack.terminate([gw])


class TestHealthAndDocs:
    async def test_readyz_reports_every_service(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/readyz")
        assert r.status_code == 200
        assert r.json()["checks"] == {
            "database": "ok",
            "assessment": "ok",
            "resources": "ok",
            "routes": "ok",
            "audit": "ok",
        }

    async def test_every_service_has_livez_readyz_metrics(self, live: Stack) -> None:
        for p in stack.ALL:
            async with httpx.AsyncClient(base_url=live.url(p.name)) as c:
                assert (await c.get("/livez")).status_code == 200
                assert (await c.get("/readyz")).status_code == 200
                assert (await c.get("/metrics")).status_code == 200

    async def test_metrics_are_labelled_by_route_template(self, live: Stack, api: httpx.AsyncClient) -> None:
        region = await seed_region(api)
        await api.get(f"/api/v1/teachers/{region.id('t-a1-1')}", headers=as_regional())
        async with httpx.AsyncClient(base_url=live.url("assessment")) as c:
            text = (await c.get("/metrics")).text
        assert 'route="/api/v1/teachers/{teacher_id}"' in text
        assert region.id("t-a1-1") not in text

    async def test_swagger_ui_is_served(self, api: httpx.AsyncClient) -> None:
        r = await api.get("/docs")
        assert r.status_code == 200 and "swagger" in r.text.lower()

    async def test_merged_openapi_has_unique_operation_ids_and_problem_errors(self, api: httpx.AsyncClient) -> None:
        spec = (await api.get("/openapi.json")).json()
        assert spec["openapi"].startswith("3.1")
        ops = [op for item in spec["paths"].values() for op in item.values() if isinstance(op, dict)]
        ids = [op["operationId"] for op in ops]
        assert len(ids) == len(set(ids)) and "teachers-list_teachers" in ids
        for op in ops:
            for code, resp in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert "application/problem+json" in resp["content"], (op["operationId"], code)
            assert op["security"][0] == {"bearerAuth": []}, op["operationId"]
        assert "Problem" in spec["components"]["schemas"]
        assert "HTTPValidationError" not in spec["components"]["schemas"]

    async def test_every_api_path_is_routed_to_its_owning_service(self, api: httpx.AsyncClient) -> None:
        from gateway.config import DEFAULT_ROUTES

        spec = (await api.get("/openapi.json")).json()
        for path, item in spec["paths"].items():
            segment = path.removeprefix("/api/v1/").split("/", 1)[0]
            for op in item.values():
                assert DEFAULT_ROUTES.get(segment) == op["x-service"], path


class TestLogs:
    async def test_logs_carry_no_names_or_tokens(self, live: Stack, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        tok = token(Role.regional_specialist, region=REGION)
        await api.get("/api/v1/teachers", params={"q": "Иванова"}, headers={"Authorization": f"Bearer {tok}"})
        await api.get("/api/v1/teachers", headers=as_methodologist(MUN_A))
        logs = live.logs()
        for secret in ("Иванова", "Ёлкин", "Кузнецов", tok):
            assert secret not in logs


def test_forged_tokens_helper_is_sane() -> None:
    assert auth(Role.admin)["Authorization"].startswith("Bearer ")


def test_upstream_connections_are_dropped_by_the_gateway_before_the_services_close_them() -> None:
    # Otherwise a request sent just as a service closes an idle connection fails: a spurious 503.
    assert IDLE_UPSTREAM_SECONDS < KEEP_ALIVE_SECONDS
