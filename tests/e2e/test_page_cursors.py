"""Every paged list answers a cursor it did not make with the same problem: 422 `invalid-cursor`, naming
the query parameter, in Russian (kit.pagination.invalid_cursor), whichever service owns the list; a cursor
of the right size whose keys are of the wrong type is the same 422 or, where any text is a key, a page,
never an error of the server."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from kit.auth import Role
from tests.region import REGION, as_regional, auth, service_headers

SPEC = json.loads((Path(__file__).resolve().parents[2] / "openapi.json").read_text())
PAGED = sorted(
    path
    for path, ops in SPEC["paths"].items()
    if "{" not in path and any(p.get("name") == "cursor" for p in ops.get("get", {}).get("parameters", []))
)
# the roles that read the lists: the region's specialist most, the platform its webhooks, an administrator
# the personal data log
READERS = (as_regional(), service_headers(), auth(Role.admin, region=REGION))


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


NOT_OURS = {"garbage": "не-курсор", "not a list": _cursor({"a": 1}), "too many keys": _cursor(["x"] * 6)}


async def _read(api: httpx.AsyncClient, path: str, cursor: str) -> httpx.Response:
    for headers in READERS:
        r = await api.get(path, params={"cursor": cursor}, headers=headers)
        if r.status_code != 403:
            return r
    raise AssertionError(f"no role reads {path}")


@pytest.mark.no_db
def test_every_paged_list_of_the_spec_is_checked() -> None:
    assert len(PAGED) >= 15 and "/api/v1/resources" in PAGED and "/api/v1/webhooks" in PAGED


def _is_invalid_cursor(r: httpx.Response) -> bool:
    body = r.json()
    return (
        r.status_code == 422
        and r.headers["content-type"] == "application/problem+json"
        and body["code"] == "invalid-cursor"
        and [e["loc"] for e in body["errors"]] == [["query", "cursor"]]
    )


@pytest.mark.parametrize("path", PAGED)
async def test_a_cursor_the_list_did_not_make_is_named_as_such(api: httpx.AsyncClient, path: str) -> None:
    for what, cursor in NOT_OURS.items():
        r = await _read(api, path, cursor)
        assert _is_invalid_cursor(r), (path, what, r.status_code, r.text)


@pytest.mark.parametrize("path", PAGED)
async def test_keys_of_the_wrong_type_are_refused_not_failed_on(api: httpx.AsyncClient, path: str) -> None:
    for size in range(1, 5):
        r = await _read(api, path, _cursor(["не ключ"] * size))
        assert r.status_code == 200 or _is_invalid_cursor(r), (path, size, r.status_code, r.text)
