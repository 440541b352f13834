"""The demo region `make run` loads: through the real gateway into the running services."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from deploy import demo
from tests.harness import Stack


async def test_the_demo_region_loads_and_its_routes_are_supplied(
    live: Stack, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in live.env.items():  # the loader signs its tokens with the stack's secret
        monkeypatch.setenv(key, value)
    tokens = await asyncio.to_thread(demo.load_if_empty, live.gateway)
    assert set(tokens) >= {"regional_specialist", "municipal_methodologist", "school_admin", "teacher"}
    regional = {"Authorization": f"Bearer {tokens['regional_specialist']}"}
    teachers = len(demo.region_data()["teachers"])
    routes: list[dict[str, object]] = []
    for _ in range(150):
        routes = (await api.get("/api/v1/routes", params={"limit": 500}, headers=regional)).json()["items"]
        if len(routes) >= teachers:
            break
        await asyncio.sleep(0.2)
    assert len(routes) == teachers  # one route per teacher, generated from the demo results
    low = [r for r in routes if r["group"] == 1]
    assert low and all(r["mentor_id"] for r in low), "every group-1 route of the demo has a mentor"
    mine = await api.get("/api/v1/routes/mine", headers={"Authorization": f"Bearer {tokens['teacher']}"})
    assert mine.status_code == 200 and len(mine.json()["items"]) == 1
    assert await asyncio.to_thread(demo.load_if_empty, live.gateway)  # a second start loads nothing twice
    again = (await api.get("/api/v1/routes", params={"limit": 500}, headers=regional)).json()["items"]
    assert len(again) == teachers
