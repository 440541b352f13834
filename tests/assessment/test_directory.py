"""The municipality and school directory: a region edits only its own entries; bad bodies store nothing."""

from __future__ import annotations

import httpx

from kit.auth import Role
from tests.harness import auth
from tests.region import MUN_A, ORG_A1, REGION, seed_region

OTHER = "r-other"


def as_other_region() -> dict[str, str]:
    return auth(Role.regional_specialist, region=OTHER)


async def municipalities(api: httpx.AsyncClient, region: str = REGION) -> dict[str, str]:
    r = await api.get("/api/v1/municipalities", headers=auth(Role.regional_specialist, region=region))
    assert r.status_code == 200, r.text
    return {m["code"]: m["name"] for m in r.json()}


class TestMunicipalities:
    async def test_another_region_cannot_take_over_a_municipality_code(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        before = await municipalities(api)
        body = [
            {"code": "mo-new", "name": "Новый округ", "region": OTHER},
            {"code": MUN_A, "name": "Захваченный округ", "region": OTHER},
        ]
        r = await api.put("/api/v1/municipalities", json=body, headers=as_other_region())
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "code-of-another-region" and r.json()["codes"] == [MUN_A]
        assert await municipalities(api) == before
        assert await municipalities(api, OTHER) == {}  # all or nothing: mo-new was not stored either

    async def test_a_region_renames_its_own_municipality(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        r = await api.put(
            "/api/v1/municipalities",
            json=[{"code": MUN_A, "name": "Округ Северный", "region": REGION}],
            headers=auth(Role.regional_specialist, region=REGION),
        )
        assert r.status_code == 200, r.text
        assert (await municipalities(api))[MUN_A] == "Округ Северный"

    async def test_a_repeated_code_is_422_naming_the_item(self, api: httpx.AsyncClient) -> None:
        body = [
            {"code": "mo-x", "name": "Икс", "region": REGION},
            {"code": "mo-y", "name": "Игрек", "region": REGION},
            {"code": "mo-x", "name": "Икс снова", "region": REGION},
        ]
        r = await api.put("/api/v1/municipalities", json=body, headers=auth(Role.regional_specialist, region=REGION))
        assert r.status_code == 422, r.text
        [error] = r.json()["errors"]
        assert error["loc"] == ["body", 2, "code"] and error["code"] == "duplicate-code"
        assert await municipalities(api) == {}


class TestOrganisations:
    async def test_another_region_cannot_move_a_school_into_its_municipality(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        r = await api.put(
            "/api/v1/municipalities",
            json=[{"code": "mo-o", "name": "Чужой", "region": OTHER}],
            headers=as_other_region(),
        )
        assert r.status_code == 200, r.text
        r = await api.put(
            "/api/v1/organisations",
            json=[{"code": ORG_A1, "name": "Школа", "municipality": "mo-o"}],
            headers=as_other_region(),
        )
        assert r.status_code == 409 and r.json()["codes"] == [ORG_A1], r.text
        mine = await api.get(
            "/api/v1/organisations",
            params={"municipality": MUN_A},
            headers=auth(Role.regional_specialist, region=REGION),
        )
        assert ORG_A1 in {o["code"] for o in mine.json()}

    async def test_a_repeated_code_is_422(self, api: httpx.AsyncClient) -> None:
        await seed_region(api)
        body = [
            {"code": "oo-z", "name": "А", "municipality": MUN_A},
            {"code": "oo-z", "name": "Б", "municipality": MUN_A},
        ]
        r = await api.put("/api/v1/organisations", json=body, headers=auth(Role.regional_specialist, region=REGION))
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "duplicate-code", r.text
