"""Checklist of municipal documents through the gateway: writing, versions, scope, regional summary."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.audit.vocab import Direction
from tests.audit.support import register_municipalities
from tests.region import MUN_A, MUN_B, as_methodologist, as_regional, as_school

YES = {
    "goals_and_tasks": True,
    "quantitative_indicators": True,
    "qualitative_indicators": True,
    "collection_methods": True,
}
NO = dict.fromkeys(YES, False)


def body(
    overrides: dict[str, dict[str, bool]] | None = None, documents: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    over = overrides or {}
    return {
        "documents": documents
        if documents is not None
        else [{"type": "concept", "name": "Концепция ММС", "date": "2025-09-01"}],
        "directions": [{"direction": d.value, **over.get(d.value, YES)} for d in Direction],
    }


def path(mun: str) -> str:
    return f"/api/v1/checklists/municipalities/{mun}"


@pytest.fixture(autouse=True)
async def directory(api: httpx.AsyncClient) -> None:
    await register_municipalities(api)


class TestWrite:
    async def test_methodologist_writes_own_checklist(self, api: httpx.AsyncClient) -> None:
        h = as_methodologist(MUN_A)
        r = await api.put(path(MUN_A), json=body({"staff_potential": NO}), headers=h)
        assert r.status_code == 200, r.text
        got = r.json()
        assert r.headers["etag"] == '"1"' and got["version"] == 1
        assert got["completeness"] == round(100 * 44 / 48, 1)
        assert got["documents"] == [{"type": "concept", "name": "Концепция ММС", "date": "2025-09-01"}]
        assert (await api.get(path(MUN_A), headers=h)).json()["directions"] == got["directions"]

    async def test_versions_with_if_match(self, api: httpx.AsyncClient) -> None:
        h = as_methodologist(MUN_A)
        await api.put(path(MUN_A), json=body(), headers=h)
        r = await api.put(path(MUN_A), json=body(documents=[]), headers={**h, "If-Match": '"1"'})
        assert r.status_code == 200 and r.json()["version"] == 2
        stale = await api.put(path(MUN_A), json=body(), headers={**h, "If-Match": '"1"'})
        assert stale.status_code == 412

    async def test_every_direction_once(self, api: httpx.AsyncClient) -> None:
        b = body()
        b["directions"] = b["directions"][:11]
        assert (await api.put(path(MUN_A), json=b, headers=as_regional())).status_code == 422
        b = body()
        b["directions"][1] = {**b["directions"][0]}
        assert (await api.put(path(MUN_A), json=b, headers=as_regional())).status_code == 422

    async def test_unknown_document_type_is_refused(self, api: httpx.AsyncClient) -> None:
        b = body(documents=[{"type": "memo", "name": "x", "date": "2025-01-01"}])
        assert (await api.put(path(MUN_A), json=b, headers=as_regional())).status_code == 422


class TestScope:
    async def test_other_municipality_is_404(self, api: httpx.AsyncClient) -> None:
        await api.put(path(MUN_B), json=body(), headers=as_regional())
        h = as_methodologist(MUN_A)
        assert (await api.get(path(MUN_B), headers=h)).status_code == 404
        assert (await api.put(path(MUN_B), json=body(), headers=h)).status_code == 404

    async def test_a_municipality_outside_the_regions_directory_is_404(self, api: httpx.AsyncClient) -> None:
        r = await api.put(path("mo-elsewhere"), json=body(), headers=as_regional())
        assert r.status_code == 404 and r.json()["code"] == "unknown-municipality"
        listed = (await api.get("/api/v1/checklists", headers=as_regional())).json()["items"]
        assert listed == []

    async def test_schools_are_refused(self, api: httpx.AsyncClient) -> None:
        r = await api.put(path(MUN_A), json=body(), headers=as_school("oo-a1", MUN_A))
        assert r.status_code == 403

    async def test_list_is_scoped(self, api: httpx.AsyncClient) -> None:
        for m in (MUN_A, MUN_B):
            await api.put(path(m), json=body(), headers=as_regional())
        mine = (await api.get("/api/v1/checklists", headers=as_methodologist(MUN_A))).json()["items"]
        assert [c["municipality"] for c in mine] == [MUN_A]
        everything = (await api.get("/api/v1/checklists", headers=as_regional())).json()["items"]
        assert [c["municipality"] for c in everything] == [MUN_A, MUN_B]


class TestSummary:
    async def test_weakest_directions_across_the_region(self, api: httpx.AsyncClient) -> None:
        h = as_regional()
        half = {**NO, "goals_and_tasks": True, "quantitative_indicators": True}
        await api.put(path(MUN_A), json=body({"staff_potential": NO, "young_teachers": half}), headers=h)
        await api.put(path(MUN_B), json=body({"staff_potential": half}, documents=[]), headers=h)
        got = (await api.get("/api/v1/checklists/summary", headers=h)).json()
        assert got["municipalities"] == 2
        assert got["weakest_directions"] == ["staff_potential", "young_teachers", "deficits"]
        staff = next(d for d in got["directions"] if d["direction"] == "staff_potential")
        assert staff["completeness"] == 25.0 and staff["counts"]["goals_and_tasks"] == 1
        assert staff["shares"]["collection_methods"] == 0.0 and staff["rank"] == 1
        assert got["municipalities_without_documents"] == [MUN_B]
        mine = (await api.get("/api/v1/checklists/summary", headers=as_methodologist(MUN_B))).json()
        assert mine["municipalities"] == 1

    async def test_vocabulary(self, api: httpx.AsyncClient) -> None:
        got = (await api.get("/api/v1/checklists/directions", headers=as_regional())).json()
        assert len(got["directions"]) == 12 and got["directions"][7]["label"].startswith("Поддержка молодых")
