"""A small crafted region for tests: two municipalities (A, B), two schools each, teachers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from kit.auth import Role
from tests.harness import auth

REGION = "r-test"
MUN_A, MUN_B = "mo-a", "mo-b"
ORG_A1, ORG_A2, ORG_B1, ORG_B2 = "oo-a1", "oo-a2", "oo-b1", "oo-b2"


@dataclass
class Region:
    teachers: dict[str, dict[str, Any]] = field(default_factory=dict)  # external_id -> TeacherRead

    def id(self, external_id: str) -> str:
        return str(self.teachers[external_id]["id"])


def teacher_row(external_id: str, name: str, mun: str, org: str, subjects: list[str] | None = None) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "full_name": name,
        "municipality": mun,
        "organisation": org,
        "position": "учитель",
        "subjects": subjects or ["mathematics"],
        "qualification_category": "first",
        "experience_years": 10,
    }


DEFAULT_TEACHERS = [
    teacher_row("t-a1-1", "Иванова Мария Петровна", MUN_A, ORG_A1, ["mathematics"]),
    teacher_row("t-a1-2", "Ёлкин Пётр Сергеевич", MUN_A, ORG_A1, ["physics"]),
    teacher_row("t-a2-1", "Смирнова Анна Игоревна", MUN_A, ORG_A2, ["russian", "literature"]),
    teacher_row("t-b1-1", "Кузнецов Иван Андреевич", MUN_B, ORG_B1, ["mathematics"]),
    teacher_row("t-b2-1", "Попова Елена Викторовна", MUN_B, ORG_B2, ["history"]),
]


def service_headers() -> dict[str, str]:
    return auth(Role.service, region=REGION)


async def seed_region(api: httpx.AsyncClient, teachers: list[dict[str, Any]] | None = None) -> Region:
    h = service_headers()
    r = await api.put(
        "/api/v1/municipalities",
        json=[
            {"code": MUN_A, "name": "Округ А", "region": REGION},
            {"code": MUN_B, "name": "Округ Б", "region": REGION},
        ],
        headers=h,
    )
    assert r.status_code == 200, r.text
    r = await api.put(
        "/api/v1/organisations",
        json=[
            {"code": ORG_A1, "name": "Школа А1", "municipality": MUN_A},
            {"code": ORG_A2, "name": "Школа А2", "municipality": MUN_A},
            {"code": ORG_B1, "name": "Школа Б1", "municipality": MUN_B},
            {"code": ORG_B2, "name": "Школа Б2", "municipality": MUN_B},
        ],
        headers=h,
    )
    assert r.status_code == 200, r.text
    rows = teachers if teachers is not None else DEFAULT_TEACHERS
    region = Region()
    if not rows:
        return region
    r = await api.post("/api/v1/teachers/bulk", json={"teachers": rows}, headers=h)
    assert r.status_code == 200, r.text
    for row in rows:
        got = await api.get(f"/api/v1/teachers/by-external-id/{row['external_id']}", headers=h)
        assert got.status_code == 200, got.text
        region.teachers[row["external_id"]] = got.json()
    return region


def as_methodologist(mun: str) -> dict[str, str]:
    return auth(Role.municipal_methodologist, region=REGION, municipality=mun)


def as_school(org: str, mun: str) -> dict[str, str]:
    return auth(Role.school_admin, region=REGION, municipality=mun, organisation=org)


def as_teacher(region: Region, external_id: str) -> dict[str, str]:
    t = region.teachers[external_id]
    return auth(
        Role.teacher,
        region=REGION,
        municipality=t["municipality"],
        organisation=t["organisation"],
        teacher_id=str(t["id"]),
    )


def as_regional() -> dict[str, str]:
    return auth(Role.regional_specialist, region=REGION)


async def tutor_of(api: httpx.AsyncClient, region: Region, external_id: str) -> str:
    """The id of a teacher of the same school as this one, to tutor their route (regulation step 7); the
    school's tutor is registered when the school has no other teacher."""
    t = region.teachers[external_id]
    for ext, other in region.teachers.items():
        if ext != external_id and other["organisation"] == t["organisation"]:
            return str(other["id"])
    row = teacher_row(f"tutor-{t['organisation']}", "Тьюторова Нина Викторовна", t["municipality"], t["organisation"])
    h = service_headers()
    r = await api.post("/api/v1/teachers/bulk", json={"teachers": [row]}, headers=h)
    assert r.status_code == 200, r.text
    got = await api.get(f"/api/v1/teachers/by-external-id/{row['external_id']}", headers=h)
    assert got.status_code == 200, got.text
    region.teachers[row["external_id"]] = got.json()
    return str(got.json()["id"])
