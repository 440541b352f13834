"""Helpers for route tests: results in through the real assessment service, routes out."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.assessment.intake_support import Intake, csv_text, row, scores_with, setup_intake, upload
from tests.region import as_regional


async def wait_for_routes(
    api: httpx.AsyncClient, expected: int, *, within: float = 20.0, **params: Any
) -> list[dict[str, Any]]:
    """Poll the routes list (regional scope) until `expected` routes exist."""
    deadline = asyncio.get_running_loop().time() + within
    items: list[dict[str, Any]] = []
    while asyncio.get_running_loop().time() < deadline:
        r = await api.get("/api/v1/routes", params={"limit": 500, **params}, headers=as_regional())
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        if len(items) >= expected:
            return items
        await asyncio.sleep(0.2)
    raise AssertionError(f"expected {expected} routes, found {len(items)}")


async def results_for(api: httpx.AsyncClient, weak: dict[str, set[str]], intake: Intake | None = None) -> Intake:
    """Upload one result per teacher (external id -> weak competencies) and return the intake."""
    intake = intake or await setup_intake(api)
    body = csv_text([row(ext, scores_with(w)) for ext, w in weak.items()])
    r = await upload(api, intake.campaign_id, body)
    assert r.status_code in (200, 201), r.text
    return intake


async def route_of(api: httpx.AsyncClient, route_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return await api.get(f"/api/v1/routes/{route_id}", headers=headers or as_regional())
