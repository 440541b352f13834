"""Builders for the resource-map tests (the crafted region of tests.region: municipalities A and B)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from kit.auth import Role
from tests.harness import auth
from tests.region import MUN_A, MUN_B, REGION, as_regional
from tests.routes.factory import insert_route

__all__ = ["MUN_A", "MUN_B", "REGION", "a_route", "as_regional", "mentor", "new_id", "resource", "teacher_headers"]


def new_id() -> str:
    return str(uuid.uuid4())


def resource(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "course",
        "title": "Формирующее оценивание на уроках математики",
        "description": "Критериальное оценивание, обратная связь, листы самооценки",
        "provider": "ЦНППМ",
        "hours": 72,
        "competencies": ["M3"],
        "subjects": ["mathematics"],
        "levels": [],
        "learning_type": "formal",
        "mode": "online",
        "municipalities": [],
    }
    body.update(over)
    return body


def mentor(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "teacher_id": new_id(),
        "municipality": MUN_A,
        "role": "methodist",
        "subjects": ["mathematics"],
        "competencies": ["M3"],
        "level": 4,
        "mode": "in_person",
        "capacity": 2,
        "joined_year": 2025,
        "joined_assessment": "fioko-2025",
    }
    body.update(over)
    return body


def teacher_headers(
    teacher_id: str | None = None, municipality: str = MUN_A, organisation: str = "oo-a1"
) -> dict[str, str]:
    return auth(
        Role.teacher,
        region=REGION,
        municipality=municipality,
        organisation=organisation,
        teacher_id=teacher_id or new_id(),
    )


async def add_resource(api: httpx.AsyncClient, headers: dict[str, str] | None = None, **over: Any) -> dict[str, Any]:
    r = await api.post("/api/v1/resources", json=resource(**over), headers=headers or as_regional())
    assert r.status_code == 201, r.text
    return dict(r.json())


async def add_mentor(api: httpx.AsyncClient, headers: dict[str, str] | None = None, **over: Any) -> dict[str, Any]:
    r = await api.post("/api/v1/mentors", json=mentor(**over), headers=headers or as_regional())
    assert r.status_code == 201, r.text
    return dict(r.json())


async def a_route(db: asyncpg.Connection, **over: Any) -> dict[str, str]:
    """A route in the routes service to reserve for (school A1 of municipality A unless told): its id and teacher."""
    row = await insert_route(db, **over)
    return {"route_id": str(row["id"]), "teacher_id": str(row["teacher_id"])}
