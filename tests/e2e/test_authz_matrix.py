"""Authorization matrix, generated from the committed OpenAPI document (openapi.json).

1. Every operation with a path parameter, called against a real object of the test region by every
   role from another scope (another teacher, school, municipality, region), is refused with 403 or
   404 (problem+json), and nothing changes (everything is re-read as the regional specialist).
   Requests are otherwise valid (a schema example body, the current ETag in If-Match), so the scope
   is the only reason to refuse them.
2. Every write operation (POST/PUT/PATCH/DELETE) with a read-only API key is 403.
   API keys attack like people (keys of another region and another municipality, holding every scope),
   and every operation refuses (403 insufficient-scope) a key holding every scope but its own.
3. Tokens with alg=none, a wrong signature, a wrong audience or expired are 401 on every operation,
   at the gateway and at the owning service directly.

A new operation joins the matrix when openapi.json is regenerated; one whose id has no real object
in tests/e2e/world.py fails and says so.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from deploy.openapi import DEFAULT_FILE
from gateway.apikeys import hash_key, new_key
from gateway.scopes import known_scopes, scope_table
from kit.auth import Role
from kit.dbadmin import asyncpg_dsn
from tests.assessment.intake_support import framework_doc, items_obj, scores_with
from tests.e2e.world import World, build_world
from tests.harness import TEST_ENV, Stack, auth
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_A2, ORG_B1, REGION, as_regional

pytestmark = pytest.mark.no_db  # one world per module, emptied and built by the `world` fixture

SPEC: dict[str, Any] = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
WRITE_METHODS = ("post", "put", "patch", "delete")
OTHER_REGION = "r-other"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.spec["operationId"])

    @property
    def path_params(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == "path"]

    @property
    def header_params(self) -> set[str]:
        return {p["name"].lower() for p in self.spec.get("parameters", []) if p["in"] == "header"}


OPERATIONS = [Operation(m, p, op) for p, item in SPEC["paths"].items() for m, op in item.items() if m != "parameters"]
ID_OPERATIONS = [o for o in OPERATIONS if o.path_params]
WRITE_OPERATIONS = [o for o in OPERATIONS if o.method in WRITE_METHODS]

# Bodies for operations whose request schema carries no example.
BODIES: dict[str, Any] = {
    "campaigns-update_campaign": {"name": "Переименованная кампания"},
    "campaigns-rescore_campaign": {"framework_version": 1},
    "routes-mark_route_audited": {"audit_id": str(uuid.uuid4()), "total": 10, "completed_at": "2026-11-01T10:00:00Z"},
    "routes-add_recommendation": {"text": "Курс по формирующему оцениванию"},
    "routes-update_task": {"done": True},
    "directory-upsert_municipalities": [{"code": MUN_A, "name": "Округ А", "region": REGION}],
    "directory-upsert_organisations": [{"code": ORG_A1, "name": "Школа А1", "municipality": MUN_A}],
    "frameworks-create_framework": framework_doc(),
    # A valid row for the object's own teacher, so that only the scope can keep it out.
    "campaigns-upload_results": {"rows": [{"external_id": "t-a1-1", "items": items_obj(scores_with(set()))}]},
}
# Uploads judge scope row by row: a row of a teacher outside the caller's scope is rejected (422,
# nothing stored) with one of these codes; for these operations that is the refusal.
ROW_REFUSALS: dict[str, set[str]] = {"campaigns-upload_results": {"unknown-teacher"}}


# --- who attacks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attacker:
    label: str
    role: Role
    region: str
    municipality: str | None = None
    organisation: str | None = None
    teacher: str | None = None  # external id of the teacher whose token this is (same region only)
    key: bool = False  # an API key with every scope, of this role and territory, instead of a token

    def headers(self, world: World) -> dict[str, str]:
        if self.key:
            return {"X-API-Key": KEYS[self.label]}
        scope: dict[str, Any] = {"region": self.region}
        if self.municipality:
            scope["municipality"] = self.municipality
        if self.organisation:
            scope["organisation"] = self.organisation
        if self.role == Role.teacher:
            # Another region's teacher token claims the very same teacher id: the region must still win.
            ext = self.teacher or world.teacher_ext
            scope["teacher_id"] = str(world.region.teachers[ext]["id"])
        return auth(self.role, **scope)


# The object's owner is teacher t-a1-1 of school A1 in municipality A of region r-test.
ATTACKERS = (
    Attacker("teacher of the same school", Role.teacher, REGION, MUN_A, ORG_A1, "t-a1-2"),
    Attacker("teacher of another municipality", Role.teacher, REGION, MUN_B, ORG_B1, "t-b1-1"),
    Attacker("school admin of another school", Role.school_admin, REGION, MUN_A, ORG_A2),
    Attacker("school admin of another municipality", Role.school_admin, REGION, MUN_B, ORG_B1),
    Attacker("methodologist of another municipality", Role.municipal_methodologist, REGION, MUN_B),
    Attacker("teacher of another region, same ids", Role.teacher, OTHER_REGION, MUN_A, ORG_A1),
    Attacker("school admin of another region, same codes", Role.school_admin, OTHER_REGION, MUN_A, ORG_A1),
    Attacker("methodologist of another region, same code", Role.municipal_methodologist, OTHER_REGION, MUN_A),
    Attacker("regional specialist of another region", Role.regional_specialist, OTHER_REGION),
    Attacker("admin of another region", Role.admin, OTHER_REGION),
    Attacker("service of another region", Role.service, OTHER_REGION),
    Attacker("API key of another region", Role.regional_specialist, OTHER_REGION, key=True),
    Attacker("API key of another municipality", Role.municipal_methodologist, REGION, MUN_B, key=True),
    Attacker("API key of another school", Role.school_admin, REGION, MUN_A, ORG_A2, key=True),
)
# The attackers' API keys (label -> key), issued by the `world` fixture; keys of a scope (scope -> key
# holding every scope but that one) for the scope test.
KEYS: dict[str, str] = {}

# How widely each kind of object may be read: only callers outside that scope attack a read. None of
# the attackers may change anything of the object's (its writers are the regional specialist and, for
# municipal objects, the methodologist of municipality A), so every write is attacked by all of them.
REGION_WIDE = {"code", "version", "resource_id", "mentor_id"}  # frameworks and the resource map
MUNICIPALITY_WIDE = {"municipality", "export_id"}
# Objects named by a code, not an id, live in the caller's own region: another region's caller who
# writes to that code writes its own region's object. For them only "nothing of ours changed" holds.
REGION_NAMESPACED_CODES = {"municipality"}


def object_level(op: Operation) -> str:
    params = set(op.path_params)
    if params & REGION_WIDE or params == {"campaign_id"} or op.path.startswith("/api/v1/mentors/"):
        return "region"  # frameworks, assessment and monitoring campaigns, resources and mentors
    if params & MUNICIPALITY_WIDE:
        return "municipality"
    return "teacher"


def attackers_for(op: Operation) -> list[Attacker]:
    if op.method in WRITE_METHODS:
        return list(ATTACKERS)
    level = object_level(op)
    if level == "region":
        return [a for a in ATTACKERS if a.region != REGION]
    if level == "municipality":
        return [a for a in ATTACKERS if a.region != REGION or a.municipality != MUN_A]
    return list(ATTACKERS)


# --- requests ------------------------------------------------------------------------------------


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return SCHEMAS[ref.rsplit("/", 1)[1]] if ref else schema


def body_of(op: Operation, strict: bool = True) -> tuple[str | None, Any]:
    """(content type, a valid body) of an operation, from the spec's examples or BODIES.

    Not strict: any well-formed JSON will do (a read-only credential is refused before the body is read).
    """
    rb = op.spec.get("requestBody")
    if not rb:
        return None, None
    content = rb["content"]
    media = "application/json" if "application/json" in content else next(iter(content))
    if op.id in BODIES:
        return "application/json", BODIES[op.id]
    entry = content[media]
    schema = _resolve(entry.get("schema", {}))
    if entry.get("example") is not None:
        return media, entry["example"]
    if schema.get("examples"):
        return media, schema["examples"][0]
    if not strict:
        return "application/json", {}
    raise AssertionError(f"{op.id}: give a valid body in BODIES (its schema has no example)")


def value_for(param: str, op: Operation, world: World) -> str:
    key = param
    if param == "campaign_id" and op.path.startswith("/api/v1/monitoring"):
        key = "monitoring_campaign_id"
    elif param == "teacher_id" and op.path.startswith("/api/v1/mentors/"):
        key = "mentor_teacher_id"  # the teacher who is the mentor
    value = world.ids.get(key)
    assert value, f"{op.id}: no real object for `{param}`; add one to tests/e2e/world.py"
    return value


def url_of(op: Operation, world: World, path: str | None = None) -> str:
    out = path or op.path
    for p in op.path_params:
        out = out.replace("{" + p + "}", value_for(p, op, world))
    return out


def object_path(op: Operation) -> str:
    """The GET path of the object an operation acts on (its path up to the last id parameter)."""
    last = op.path.rfind("}")
    return op.path[: last + 1]


async def current_etag(api: httpx.AsyncClient, op: Operation, world: World) -> str:
    r = await api.get(url_of(op, world, object_path(op)), headers=as_regional())
    return r.headers.get("etag", '"1"')


async def request(
    api: httpx.AsyncClient, op: Operation, world: World, headers: dict[str, str], strict: bool = True
) -> httpx.Response:
    h = dict(headers)
    if "if-match" in op.header_params:
        h["If-Match"] = await current_etag(api, op, world)
    if "idempotency-key" in op.header_params:
        h["Idempotency-Key"] = uuid.uuid4().hex
    media, body = body_of(op, strict)
    content = None
    if media is not None:
        h["Content-Type"] = media
        content = json.dumps(body).encode() if "json" in media else str(body).encode()
    return await api.request(op.method.upper(), url_of(op, world), headers=h, content=content)


async def snapshot(api: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """Everything of the world as the regional specialist sees it (bodies and ETags)."""
    ids = world.ids
    paths = [
        f"/api/v1/routes/{ids['route_id']}",
        f"/api/v1/routes/{ids['route_id']}/history",
        f"/api/v1/routes/{ids['route_id']}/versions",
        "/api/v1/routes?limit=500",
        f"/api/v1/teachers/{ids['teacher_id']}",
        "/api/v1/teachers?limit=500",
        f"/api/v1/campaigns/{ids['campaign_id']}",
        "/api/v1/campaigns?limit=500",
        f"/api/v1/campaigns/{ids['campaign_id']}/uploads",
        f"/api/v1/results?campaign_id={ids['campaign_id']}",
        f"/api/v1/audits/{ids['audit_id']}",
        "/api/v1/audits?limit=500",
        f"/api/v1/monitoring/campaigns/{ids['monitoring_campaign_id']}",
        f"/api/v1/monitoring/campaigns/{ids['monitoring_campaign_id']}/scores",
        "/api/v1/monitoring/campaigns",
        f"/api/v1/checklists/municipalities/{MUN_A}",
        "/api/v1/exports?limit=500",
        "/api/v1/frameworks",
        "/api/v1/municipalities",
        "/api/v1/organisations",
    ]
    for key, path in (
        ("resource_id", "/api/v1/resources/{}"),
        ("mentor_id", "/api/v1/mentors/{}"),
        ("reservation_id", "/api/v1/reservations/{}"),
    ):
        if ids.get(key):
            paths.append(path.format(ids[key]))
    answers = await asyncio.gather(*(api.get(p, headers=as_regional()) for p in paths))
    return {p: (r.status_code, r.headers.get("etag"), r.text) for p, r in zip(paths, answers, strict=True)}


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [p for p in before if before[p] != after.get(p)]


# --- fixtures ------------------------------------------------------------------------------------


async def empty_tables(admin_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        rows = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[]) "
            "AND tablename <> 'alembic_version'",
            ["assessment", "resources", "routes", "audit", "gateway"],
        )
        names = ", ".join(f'"{r["schemaname"]}"."{r["tablename"]}"' for r in rows)
        for attempt in range(10):
            try:
                async with conn.transaction():
                    await conn.execute("SET LOCAL lock_timeout = '2s'")
                    await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                return
            except (asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError):
                await asyncio.sleep(0.05 * (attempt + 1))
        raise RuntimeError("could not empty the tables")
    finally:
        await conn.close()


async def store_key(
    conn: asyncpg.Connection, label: str, role: Role, scopes: list[str], region: str, **territory: str | None
) -> str:
    """An API key as `python -m gateway apikey issue` stores it (the CLI takes a second a key)."""
    key, prefix = new_key()
    await conn.execute(
        "INSERT INTO gateway.api_keys (name, key_hash, prefix, role, region, municipality, organisation, scopes) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        label,
        hash_key(key),
        prefix,
        role.value,
        region,
        territory.get("municipality"),
        territory.get("organisation"),
        scopes,
    )
    return key


async def issue_keys(admin_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        every = known_scopes()
        for a in ATTACKERS:
            if a.key:
                KEYS[a.label] = await store_key(
                    conn, a.label, a.role, every, a.region, municipality=a.municipality, organisation=a.organisation
                )
        for scope in every:
            others = [s for s in every if s != scope]
            KEYS[scope] = await store_key(conn, f"all but {scope}", Role.regional_specialist, others, REGION)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def world(live: Stack, admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> World:
    await empty_tables(admin_url)
    async with httpx.AsyncClient(base_url=live.gateway, timeout=60) as api:
        built = await build_world(api, live, tmp_path_factory.mktemp("exports"))
    await issue_keys(admin_url)
    return built


@pytest.fixture
async def client(live: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.gateway, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def read_only_key(live: Stack, world: World) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "apikey",
            "issue",
            "--name",
            "dashboard (read-only)",
            "--role",
            "regional_specialist",
            "--region",
            REGION,
            "--read-only",
            *(arg for scope in known_scopes() for arg in ("--scope", scope)),
        ],
        env=live.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    key: str = json.loads(out.stdout)["key"]
    return key


# --- 1. another scope is refused -----------------------------------------------------------------


def _problem(r: httpx.Response) -> bool:
    return r.headers.get("content-type", "").startswith("application/problem+json")


def refused(op: Operation, r: httpx.Response) -> bool:
    if not _problem(r):
        return False
    if r.status_code in (403, 404):
        return True
    codes = ROW_REFUSALS.get(op.id)
    if codes and r.status_code == 422 and r.json().get("code") == "rows-rejected":
        return {e.get("code") for e in r.json().get("errors", [])} <= codes
    return False


@pytest.mark.parametrize("op", ID_OPERATIONS, ids=lambda o: o.id)
async def test_another_scope_is_refused_and_nothing_changes(
    op: Operation, world: World, client: httpx.AsyncClient
) -> None:
    before = await snapshot(client, world)
    let_through: list[str] = []
    for attacker in attackers_for(op):
        r = await request(client, op, world, attacker.headers(world))
        own_namespace = attacker.region != REGION and set(op.path_params) <= REGION_NAMESPACED_CODES
        if not refused(op, r) and not (own_namespace and op.method in WRITE_METHODS and r.status_code < 500):
            let_through.append(f"{attacker.label}: {r.status_code} {r.text[:200]}")
    changed = diff(before, await snapshot(client, world))
    assert not let_through, f"{op.method.upper()} {op.path} was not refused:\n" + "\n".join(let_through)
    assert not changed, f"{op.method.upper()} {op.path} changed: {changed}"


async def test_the_rightful_caller_gets_through(world: World, client: httpx.AsyncClient) -> None:
    """The matrix means something only if the same requests succeed in scope."""
    reads = [o for o in ID_OPERATIONS if o.method == "get" and not o.path.endswith("/download")]
    failed = []
    for op in reads:
        r = await request(client, op, world, as_regional())
        if r.status_code != 200:
            failed.append(f"{op.id}: {r.status_code} {r.text[:200]}")
    assert not failed, "\n".join(failed)


# --- 2. read-only credentials write nothing ------------------------------------------------------


@pytest.mark.parametrize("op", WRITE_OPERATIONS, ids=lambda o: o.id)
async def test_read_only_key_cannot_write(
    op: Operation, world: World, read_only_key: str, client: httpx.AsyncClient
) -> None:
    before = await snapshot(client, world)
    r = await request(client, op, world, {"X-API-Key": read_only_key}, strict=False)
    assert r.status_code == 403 and _problem(r), f"{op.id}: {r.status_code} {r.text[:300]}"
    assert r.json()["code"] == "read-only-credential"
    assert not diff(before, await snapshot(client, world))


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: o.id)
async def test_a_key_without_the_operations_scope_is_refused(
    op: Operation, world: World, client: httpx.AsyncClient
) -> None:
    scope = scope_table().scope_of(op.method, op.path)
    assert scope, f"{op.id}: no scope in gateway/data/scopes.json"
    r = await request(client, op, world, {"X-API-Key": KEYS[scope]}, strict=False)
    assert r.status_code == 403 and _problem(r), f"{op.id}: {r.status_code} {r.text[:300]}"
    assert r.json()["code"] == "insufficient-scope"


# --- 3. bad tokens are 401 everywhere -------------------------------------------------------------


def forged(*, key: str = TEST_ENV["JWT_SECRET"], alg: str = "HS256", **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": "iom-platform",
        "aud": "iom-api",
        "sub": "intruder",
        "role": "admin",
        "region": REGION,
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    return jwt.encode(body, None if alg == "none" else key, algorithm=alg)


BAD_TOKENS = {
    "alg-none": forged(alg="none"),
    "wrong-signature": forged(key="another-secret-0123456789abcdef0123456789abcdef"),
    "wrong-audience": forged(aud="someone-else"),
    "expired": forged(exp=int(time.time()) - 60, iat=int(time.time()) - 700),
}


async def test_bad_tokens_are_401_on_every_operation(live: Stack, world: World, client: httpx.AsyncClient) -> None:
    wrong: list[str] = []
    for op in OPERATIONS:
        path = re.sub(r"\{[^}]+\}", lambda m: world.ids.get(m.group(0)[1:-1]) or str(uuid.uuid4()), op.path)
        for name, tok in BAD_TOKENS.items():
            for base in (live.gateway, live.url(op.spec["x-service"])):
                r = await client.request(op.method.upper(), base + path, headers={"Authorization": f"Bearer {tok}"})
                if r.status_code != 401 or not _problem(r):
                    wrong.append(f"{op.method.upper()} {path} via {base} with {name}: {r.status_code}")
    assert not wrong, "\n".join(wrong[:50])


def test_matrix_covers_the_api() -> None:
    assert len(ID_OPERATIONS) >= 30 and len(WRITE_OPERATIONS) >= 25
    # Paths outside the world's reach would silently shrink the matrix: every id parameter is known.
    known = {
        "teacher_id",
        "external_id",
        "code",
        "version",
        "campaign_id",
        "result_id",
        "route_id",
        "task_id",
        "goal_id",
        "audit_id",
        "municipality",
        "export_id",
        "resource_id",
        "mentor_id",
        "reservation_id",
        "webhook_id",
        "member_id",
        "assignment_id",
        "enrolment_id",
    }
    unknown = {p for o in ID_OPERATIONS for p in o.path_params} - known
    assert not unknown, f"path parameters the matrix does not know: {unknown}"
