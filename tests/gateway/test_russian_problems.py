"""Problems people read come back in Russian through the gateway (issue 13, point 1).

Typical errors of every day — no token, an unknown object, a body that does not fit, a role that may not,
a change without If-Match — answer with a Russian `title`, `detail` and `errors[].message`, while `code`
stays the stable machine code programs read.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from kit.auth import Role
from tests.harness import auth
from tests.region import REGION
from tests.resources.helpers import as_regional, resource

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
LATIN_WORD = re.compile(r"\b[A-Za-z]{2,}\b")
ALLOWED = {"If-Match", "ETag", "API", "JSON", "UUID", "Bearer", "Authorization", "X-API-Key", "ApiKey"}


def russian(text: str | None) -> bool:
    """Cyrillic, and no Latin word outside «names» and the header/format names a technician reads."""
    if not text or not CYRILLIC.search(text):
        return False
    plain = re.sub(r"«[^»]*»", " ", text)
    for name in sorted(ALLOWED, key=len, reverse=True):
        plain = plain.replace(name, " ")
    return not LATIN_WORD.search(plain)


def assert_russian_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code
    assert russian(body["title"]), body
    assert russian(body.get("detail")), body
    for error in body.get("errors") or []:
        assert russian(error["message"]), error
    return body


async def test_missing_token_is_explained_in_russian(api: httpx.AsyncClient) -> None:
    r = await api.get("/api/v1/resources")
    assert_russian_problem(r, 401, "missing-token")


async def test_an_absent_object_and_an_unknown_path_are_not_found_in_russian(api: httpx.AsyncClient) -> None:
    r = await api.get(f"/api/v1/resources/{uuid.uuid4()}", headers=as_regional())
    body = assert_russian_problem(r, 404, "resource-not-found")
    assert body["detail"] == "Ресурс не найден"
    r = await api.get("/api/v1/no-such-segment/x", headers=as_regional())
    assert_russian_problem(r, 404, "not-found")


async def test_a_body_that_does_not_fit_names_each_field_in_russian(api: httpx.AsyncClient) -> None:
    body = {**resource(), "hours": "много", "surplus": 1}
    del body["title"]
    r = await api.post("/api/v1/resources", json=body, headers=as_regional())
    problem = assert_russian_problem(r, 422, "validation-failed")
    by_field = {tuple(e["loc"]): e for e in problem["errors"]}
    assert by_field[("body", "title")]["code"] == "missing"
    assert by_field[("body", "title")]["message"] == "Заполните обязательное поле"
    assert by_field[("body", "hours")]["code"] == "int_parsing"
    assert by_field[("body", "surplus")]["code"] == "extra_forbidden"
    r = await api.get("/api/v1/resources/not-a-uuid", headers=as_regional())
    problem = assert_russian_problem(r, 422, "validation-failed")
    assert problem["errors"][0]["code"] == "uuid_parsing"


async def test_a_role_that_may_not_is_named_in_russian(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/api/v1/resources/import", content=b"", headers=auth(Role.school_admin, region=REGION, municipality="m")
    )
    body = assert_russian_problem(r, 403, "role-forbidden")
    assert body["detail"].startswith("Ваша роль «Администратор школы» не позволяет ")


async def test_a_change_without_if_match_asks_for_it_in_russian(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/v1/resources", json=resource(), headers=as_regional())
    assert created.status_code == 201, created.text
    r = await api.patch(f"/api/v1/resources/{created.json()['id']}", json={"hours": 36}, headers=as_regional())
    body = assert_russian_problem(r, 428, "if-match-required")
    assert "If-Match" in body["detail"]
