"""Helpers for audit tests: completed routes through the real services, reviews, monitoring rows."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from typing import Any

import httpx

from kit.auth import Role
from services.audit.config import AuditSettings
from services.audit.procedure import GroupRules, procedure_for
from tests.assessment.intake_support import csv_text, row, scores_with, setup_intake, upload
from tests.harness import TEST_ENV, auth
from tests.region import MUN_A, MUN_B, REGION, Region, as_methodologist, as_regional, as_school, as_teacher, tutor_of

# Weak competencies (items scored 0) that put a mathematics result in each group of the default
# framework (57 points: low < 40% <= basic < 60% <= elevated < 80% <= high).
WEAK_FOR_GROUP: dict[int, set[str]] = {
    1: {"MA1", "MA2", "MA3", "M1", "M3"},
    2: {"MA2", "MA3", "M3"},
    3: {"MA2", "MA3"},
    4: set(),
}
STEPS = (
    "goals",
    "indicators",
    "methods",
    "monitoring",
    "analysis",
    "recommendations",
    "measures",
    "decisions",
    "effectiveness",
)
STEP_MAX = dict(zip(STEPS, (21, 10, 3, 15, 15, 9, 21, 3, 3), strict=True))


def rules() -> GroupRules:
    """The group rule as the audit process under test is configured (its salt is the stack's secret)."""
    return AuditSettings(sample_salt=TEST_ENV["AUDIT_SAMPLE_SALT"]).group_rules()


def admin() -> dict[str, str]:
    return auth(Role.admin, region=REGION)


def auditor(mun: str, sub: str, name: str | None = None) -> dict[str, str]:
    return auth(Role.municipal_methodologist, region=REGION, municipality=mun, sub=sub, name=name)


async def wait_for_routes(api: httpx.AsyncClient, expected: int, within: float = 30.0) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + within
    items: list[dict[str, Any]] = []
    while asyncio.get_running_loop().time() < deadline:
        r = await api.get("/api/v1/routes", params={"limit": 500}, headers=as_regional())
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        if len(items) >= expected:
            return items
        await asyncio.sleep(0.25)
    raise AssertionError(f"expected {expected} routes, found {len(items)}")


async def _move(api: httpx.AsyncClient, route_id: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    got = await api.get(f"/api/v1/routes/{route_id}", headers=as_regional())
    assert got.status_code == 200, got.text
    r = await api.post(
        f"/api/v1/routes/{route_id}/transitions", json=body, headers={**headers, "If-Match": got.headers["etag"]}
    )
    assert r.status_code == 200, r.text


async def complete_route(
    api: httpx.AsyncClient, region: Region, route: dict[str, Any], self_check: dict[int, int] | None = None
) -> dict[str, Any]:
    """Drive a generated route through the regulation to `completed`, with the teacher's self-check."""
    rid = str(route["id"])
    ext = next(k for k, t in region.teachers.items() if str(t["id"]) == str(route["teacher_id"]))
    t = region.teachers[ext]
    teacher = as_teacher(region, ext)
    await _move(api, rid, {"action": "recommend"}, as_regional())
    await _move(api, rid, {"action": "send_to_municipality"}, as_regional())
    await _move(api, rid, {"action": "agree_with_school"}, as_methodologist(t["municipality"]))
    await _move(
        api,
        rid,
        {"action": "approve", "tutor": {"teacher_id": await tutor_of(api, region, ext)}},
        as_school(t["organisation"], t["municipality"]),
    )
    await _move(api, rid, {"action": "start"}, teacher)
    if self_check is not None:
        got = await api.get(f"/api/v1/routes/{rid}", headers=as_regional())
        r = await api.put(
            f"/api/v1/routes/{rid}/self-check",
            json={"scores": {str(k): v for k, v in self_check.items()}},
            headers={**teacher, "If-Match": got.headers["etag"]},
        )
        assert r.status_code == 200, r.text
    await _move(
        api,
        rid,
        {
            "action": "complete",
            "evidence": [{"title": "Сценарий урока", "url": "https://school.example/1"}],
        },
        teacher,
    )
    got = await api.get(f"/api/v1/routes/{rid}", headers=as_regional())
    assert got.json()["status"] == "completed", got.text
    out: dict[str, Any] = got.json()
    return out


async def completed_routes(
    api: httpx.AsyncClient, groups: dict[str, int], self_check: dict[int, int] | None = None
) -> tuple[Region, dict[str, dict[str, Any]]]:
    """Assess the given teachers (external id -> group), wait for their routes and complete them."""
    intake = await setup_intake(api)
    body = csv_text([row(ext, scores_with(WEAK_FOR_GROUP[g])) for ext, g in groups.items()])
    r = await upload(api, intake.campaign_id, body)
    assert r.status_code in (200, 201), r.text
    routes = await wait_for_routes(api, len(groups))
    by_ext: dict[str, dict[str, Any]] = {}
    for ext in groups:
        tid = intake.region.id(ext)
        route = next(x for x in routes if str(x["teacher_id"]) == tid)
        by_ext[ext] = await complete_route(api, intake.region, route, self_check)
    return intake.region, by_ext


def scores_body(
    scores: list[int], second_check: dict[str, Any] | None = None, comments: dict[int, str] | None = None
) -> dict[str, Any]:
    return {
        "criteria": [
            {"number": i + 1, "score": s, "comment": (comments or {}).get(i + 1)} for i, s in enumerate(scores)
        ],
        "second_check": second_check,
    }


async def review(
    api: httpx.AsyncClient, audit_id: str, scores: list[int], headers: dict[str, str], **kw: Any
) -> httpx.Response:
    return await api.put(f"/api/v1/audits/{audit_id}/reviews/mine", json=scores_body(scores, **kw), headers=headers)


async def complete(api: httpx.AsyncClient, audit_id: str, headers: dict[str, str]) -> httpx.Response:
    got = await api.get(f"/api/v1/audits/{audit_id}", headers=headers)
    assert got.status_code == 200, got.text
    return await api.post(f"/api/v1/audits/{audit_id}/complete", headers={**headers, "If-Match": got.headers["etag"]})


async def insert_audit(
    db: Any,
    *,
    group: int,
    municipality: str,
    organisation: str,
    self_check: list[int | None] | None = None,
    route_id: uuid.UUID | None = None,
    teacher_id: uuid.UUID | None = None,
) -> str:
    """Arrange an open audit directly (as the start endpoint stores it), for tests of scoring and statistics."""
    route_id = route_id or uuid.uuid4()
    procedure, sampled = procedure_for(group, route_id, rules())
    sc = self_check if self_check is not None else [None] * 10
    audit_id = await db.fetchval(
        """INSERT INTO audit.audits (route_id, route_version, teacher_id, region, municipality, organisation,
               subject, "group", procedure, sampled, self_check_scores, self_check_meta, self_check_total, created_by)
           VALUES ($1, 1, $2, $3, $4, $5, 'mathematics', $6, $7, $8, $9::smallint[], '[]'::jsonb, $10, 'test')
           RETURNING id""",
        route_id,
        teacher_id or uuid.uuid4(),
        REGION,
        municipality,
        organisation,
        group,
        procedure.value,
        sampled,
        sc,
        sum(s for s in sc if s is not None) if all(s is not None for s in sc) else None,
    )
    return str(audit_id)


def route_id_for(group: int, *, sampled: bool) -> uuid.UUID:
    """A route id that does (or does not) fall in the configured sample of its group."""
    r = rules()
    while True:
        rid = uuid.uuid4()
        if procedure_for(group, rid, r)[1] is sampled:
            return rid


# --- monitoring -----------------------------------------------------------------------------------


def score_row(
    mun: str,
    points: dict[str, float] | None = None,
    *,
    name: str | None = None,
    total: float | None = None,
    fill: float = 0.5,
) -> dict[str, Any]:
    """A monitoring row: the given points, the rest at `fill` of the maximum (rounded to 0.5)."""
    pts = {s: round(STEP_MAX[s] * fill * 2) / 2 for s in STEPS}
    pts.update(points or {})
    out: dict[str, Any] = {"municipality": mun, "municipality_name": name or f"Округ {mun}", **pts}
    out["total"] = total if total is not None else sum(pts.values())
    return out


def row_with_total_percent(mun: str, percent: float, name: str | None = None) -> dict[str, Any]:
    """A row whose total is exactly `percent` points (the total maximum is 100)."""
    remaining = percent
    pts: dict[str, float] = {}
    for s in STEPS:
        take = min(STEP_MAX[s], remaining)
        pts[s] = take
        remaining -= take
    return score_row(mun, pts, name=name)


async def create_campaign(api: httpx.AsyncClient, code: str, held_on: str, **over: Any) -> dict[str, Any]:
    r = await api.post(
        "/api/v1/monitoring/campaigns",
        json={"code": code, "title": f"Мониторинг {code}", "held_on": held_on, **over},
        headers=as_regional(),
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def upload_scores(
    api: httpx.AsyncClient,
    campaign_id: str,
    body: bytes | str | list[dict[str, Any]],
    content_type: str = "application/json",
    *,
    key: str | None = "auto",
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
) -> httpx.Response:
    h = dict(headers or as_regional())
    h["Content-Type"] = content_type
    if key == "auto":
        key = uuid.uuid4().hex
    if key is not None:
        h["Idempotency-Key"] = key
    if isinstance(body, list):
        data = json.dumps({"rows": body}).encode()
    else:
        data = body.encode() if isinstance(body, str) else body
    return await api.post(f"/api/v1/monitoring/campaigns/{campaign_id}/scores", content=data, headers=h, params=params)


def to_csv(rows: list[dict[str, Any]], header: list[str] | None = None, sep: str = ";") -> str:
    cols = header or ["municipality", "municipality_name", *STEPS, "total"]
    keys = ["municipality", "municipality_name", *STEPS, "total"]
    out = io.StringIO()
    w = csv.writer(out, delimiter=sep, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([str(r.get(k, "")).replace(".", ",") if isinstance(r.get(k), float) else r.get(k, "") for k in keys])
    return out.getvalue()


# Municipality codes the audit tests write checklists and monitoring scores for: the audit service
# accepts only municipalities of the region's directory (assessment's GET /api/v1/municipalities).
TEST_MUNICIPALITIES = (MUN_A, MUN_B, *(f"mo-{i:02d}" for i in range(101)))


async def register_municipalities(
    api: httpx.AsyncClient, codes: tuple[str, ...] = TEST_MUNICIPALITIES, region: str = REGION
) -> None:
    body = [{"code": c, "name": f"Округ {c}", "region": region} for c in codes]
    r = await api.put("/api/v1/municipalities", json=body, headers=auth(Role.service, region=region))
    assert r.status_code == 200, r.text
