"""The fast lane (kit.hotread) answers exactly like the documented endpoints.

The lane answers GET <collection>/{id} only for a canonical id (8-4-4-4-12); the same id written as 32
hex digits is a valid path parameter that the lane leaves to FastAPI. So each read is asked twice, the
same token, the same object: once answered by the lane, once by the documented endpoint, and the two
answers must be the same status, the same bytes and the same ETag, for every role that may read it.
What the lane does not answer (out of scope, a bad token, a malformed id) still gets the endpoint's
problem+json.
"""

from __future__ import annotations

import re
import uuid

import httpx

from kit.auth import Role
from tests.e2e.world import World, build_world
from tests.harness import Stack, auth
from tests.region import MUN_A, MUN_B, REGION, as_methodologist, as_regional, as_school, as_teacher, service_headers

READS = {
    "teachers": "teacher_id",
    "resources": "resource_id",
    "routes": "route_id",
    "audits": "audit_id",
}
SERVICE_OF = {"teachers": "assessment", "resources": "resources", "routes": "routes", "audits": "audit"}


def _hex(object_id: str) -> str:
    return uuid.UUID(object_id).hex


async def _lane_count(live: Stack, collection: str) -> float:
    """How many reads of `collection` the service's fast lane answered (its own /metrics)."""
    async with httpx.AsyncClient(timeout=10) as c:
        text = (await c.get(live.url(SERVICE_OF[collection]) + "/metrics")).text
    m = re.search(rf'^http_fast_reads_total{{route="/api/v1/{collection}/{{[a-z_]+}}"}} ([0-9.e+]+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


async def _both(
    api: httpx.AsyncClient, collection: str, object_id: str, headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    fast = await api.get(f"/api/v1/{collection}/{object_id}", headers=headers)
    documented = await api.get(f"/api/v1/{collection}/{_hex(object_id)}", headers=headers)
    return fast, documented


def _same(fast: httpx.Response, documented: httpx.Response) -> None:
    assert fast.status_code == documented.status_code, (fast.text, documented.text)
    assert fast.content == documented.content
    for h in ("content-type", "etag", "cache-control"):
        assert fast.headers.get(h) == documented.headers.get(h), h


def _readers(world: World) -> dict[str, dict[str, str]]:
    t = world.teacher
    return {
        "service": service_headers(),
        "regional": as_regional(),
        "methodologist": as_methodologist(t["municipality"]),
        "school": as_school(t["organisation"], t["municipality"]),
        "teacher": as_teacher(world.region, world.teacher_ext),
    }


async def test_fast_reads_answer_byte_for_byte_like_the_documented_endpoints(
    api: httpx.AsyncClient, live: Stack
) -> None:
    world = await build_world(api, live)
    answered = 0
    for collection, key in READS.items():
        for who, headers in _readers(world).items():
            before = await _lane_count(live, collection)
            fast, documented = await _both(api, collection, world.ids[key], headers)
            _same(fast, documented)
            if fast.status_code == 200:
                # the lane answered the canonical id, and only it: the hex form went to the endpoint
                assert await _lane_count(live, collection) == before + 1, (collection, who)
                answered += 1
                assert fast.json()["id"] == world.ids[key], (collection, who)
                assert fast.headers["etag"]
    # Every role reads the walked teacher's route, audit and own registry entry; the resource is the region's.
    assert answered >= 16


async def test_what_the_lane_does_not_answer_is_the_documented_problem(api: httpx.AsyncClient, live: Stack) -> None:
    world = await build_world(api, live)
    outside = as_methodologist(MUN_B if world.teacher["municipality"] == MUN_A else MUN_A)
    other_region = auth(Role.regional_specialist, region="r-other")
    for collection, key in READS.items():
        object_id = world.ids[key]
        if collection != "resources":  # a resource is seen by the whole region
            fast, documented = await _both(api, collection, object_id, outside)
            assert fast.status_code == 404 and fast.headers["content-type"] == "application/problem+json"
            assert fast.json()["code"] == documented.json()["code"]
        fast, documented = await _both(api, collection, object_id, other_region)
        assert fast.status_code == documented.status_code == 404
        absent = await api.get(f"/api/v1/{collection}/{uuid.uuid4()}", headers=as_regional())
        assert absent.status_code == 404 and absent.headers["content-type"] == "application/problem+json"
        bad = await api.get(f"/api/v1/{collection}/{object_id}", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"
        malformed = await api.get(f"/api/v1/{collection}/{object_id[:-1]}x", headers=as_regional())
        assert malformed.status_code == 422 and malformed.headers["content-type"] == "application/problem+json"
    assert REGION != "r-other"


async def test_a_route_read_answers_304_on_its_etag_like_the_endpoint(api: httpx.AsyncClient, live: Stack) -> None:
    world = await build_world(api, live)
    rid = world.ids["route_id"]
    first = await api.get(f"/api/v1/routes/{rid}", headers=as_regional())
    headers = {**as_regional(), "If-None-Match": first.headers["etag"]}
    fast, documented = await _both(api, "routes", rid, headers)
    assert fast.status_code == documented.status_code == 304
    _same(fast, documented)
