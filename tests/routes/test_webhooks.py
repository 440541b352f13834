"""Signed webhooks (issue 14, point 5) through the gateway, delivered by the real routes service to a real
local receiver: signatures checked with the Standard Webhooks algorithm (written independently in
tests/webhook_receiver.py), retries after 500, nothing lost while the receiver is down, the territory of
each subscription, and no delivery to a private address by default."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from kit.auth import Role
from services.routes.webhooks.addresses import public, url_problem
from services.routes.webhooks.signing import new_secret, signature
from tests.e2e.world import EVIDENCE, move, run_export
from tests.harness import Stack, auth
from tests.region import (
    MUN_A,
    MUN_B,
    ORG_A1,
    ORG_A2,
    REGION,
    as_methodologist,
    as_regional,
    as_school,
    as_teacher,
    service_headers,
)
from tests.routes.flow import results_for, wait_for_routes
from tests.webhook_receiver import Receiver, verify

ALL_EVENTS = [
    "route.generated",
    "route.status_changed",
    "route.returned_for_correction",
    "route.control_point_due",
    "audit.completed",
    "export.ready",
]
SCHOOL_EVENTS = [e for e in ALL_EVENTS if e != "export.ready"]
# Quick retries, every running route's control point "due", a receiver on this machine allowed.
FAST = {
    "ROUTES_WEBHOOKS_ALLOW_PRIVATE": "true",
    "ROUTES_WEBHOOKS_POLL_SECONDS": "0.2",
    "ROUTES_WEBHOOKS_BACKOFF_BASE_SECONDS": "0.3",
    "ROUTES_WEBHOOKS_BACKOFF_MAX_SECONDS": "1.0",
    "ROUTES_WEBHOOKS_TIMEOUT_SECONDS": "3",
    "ROUTES_WEBHOOKS_MAX_ATTEMPTS": "100",
    "ROUTES_WEBHOOKS_DISABLE_AFTER_FAILURES": "1000",
    "ROUTES_WEBHOOKS_CONTROL_POINT_DAYS": "400",
    "ROUTES_WEBHOOKS_CONTROL_CHECK_SECONDS": "0.5",
}


def restart_routes(live: Stack, env: dict[str, str]) -> None:
    live.stop("routes")
    live.env = env
    live.start("routes")


@pytest.fixture(scope="module")
def fast_routes(live: Stack) -> Iterator[dict[str, str]]:
    """The routes service restarted with FAST settings for this module, and back as it was at the end."""
    original = dict(live.env)
    restart_routes(live, {**original, **FAST})
    try:
        yield original
    finally:
        restart_routes(live, original)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def subscribe(
    api: httpx.AsyncClient, headers: dict[str, str], url: str, events: list[str] | None = None
) -> dict[str, Any]:
    r = await api.post("/api/v1/webhooks", json={"url": url, "events": events or ALL_EVENTS}, headers=headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    assert out["secret"].startswith("whsec_")
    return out


async def deliveries(api: httpx.AsyncClient, sub: dict[str, Any], headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await api.get(f"/api/v1/webhooks/{sub['id']}/deliveries", params={"limit": 500}, headers=headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def settled(
    api: httpx.AsyncClient, sub: dict[str, Any], headers: dict[str, str], within: float = 15.0
) -> list[dict[str, Any]]:
    """The delivery log once no delivery is pending (the attempt is recorded just after the receiver answers)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        log = await deliveries(api, sub, headers)
        if log and all(d["state"] != "pending" for d in log):
            return log
        assert asyncio.get_running_loop().time() < deadline, log
        await asyncio.sleep(0.2)


# --- pure rules ----------------------------------------------------------------------------------


@pytest.mark.no_db
def test_signature_matches_the_specifications_example() -> None:
    # The example of the Standard Webhooks reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
    fresh = new_secret()
    headers = {"webhook-id": "m1", "webhook-timestamp": "1700000000"}
    headers["webhook-signature"] = signature(fresh, "m1", 1700000000, b"{}")
    assert verify(fresh, headers, b"{}") and not verify(fresh, headers, b"{ }")


@pytest.mark.no_db
def test_private_loopback_and_link_local_addresses_are_refused() -> None:
    import ipaddress

    for a in (
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
        "100.64.0.1",
        "0.0.0.0",
    ):
        assert not public(ipaddress.ip_address(a)), a
    assert public(ipaddress.ip_address("8.8.8.8")) and public(ipaddress.ip_address("2a00:1450:4010::64"))
    for url in ("http://127.0.0.1:9/x", "http://[::1]/x", "http://localhost/x", "http://169.254.169.254/latest"):
        assert url_problem(url, allow_private=False), url
        assert url_problem(url, allow_private=True) is None
    assert url_problem("https://user:pw@hooks.example.ru/x", allow_private=True)
    assert url_problem("ftp://hooks.example.ru/x", allow_private=True)
    assert url_problem("https://hooks.example.ru/x", allow_private=False) is None


# --- through the gateway -------------------------------------------------------------------------


async def test_route_events_reach_the_subscriptions_of_their_territory_signed(
    api: httpx.AsyncClient, fast_routes: dict[str, str], receiver: Receiver
) -> None:
    region_sub = await subscribe(api, as_regional(), receiver.url("/region"))
    school_sub = await subscribe(api, as_school(ORG_A1, MUN_A), receiver.url("/school-a1"), SCHOOL_EVENTS)
    await subscribe(api, as_methodologist(MUN_B), receiver.url("/mun-b"))
    await results_for(api, {"t-a1-1": {"M2", "M3"}, "t-b1-1": {"M4"}})
    routes = await wait_for_routes(api, 2)
    a1 = next(r for r in routes if r["organisation"] == ORG_A1)

    generated = await receiver.wait_for("/region", "route.generated", 2)
    await receiver.wait_for("/school-a1", "route.generated", 1)
    await receiver.wait_for("/mun-b", "route.generated", 1)
    for got, sub in ((generated[0], region_sub), (receiver.of("/school-a1")[0], school_sub)):
        assert verify(sub["secret"], got.headers, got.body), got.headers
        assert abs(int(got.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 120
        assert got.headers["content-type"].startswith("application/json")
    assert {g.message["data"]["route_id"] for g in generated} == {str(r["id"]) for r in routes}
    # Only the school's own route reaches the school; the other municipality's service never sees it.
    assert [g.message["data"]["route_id"] for g in receiver.of("/school-a1")] == [str(a1["id"])]
    assert all(g.message["data"]["municipality"] == MUN_B for g in receiver.of("/mun-b"))
    # Ids and statuses, not names.
    assert "Иванова" not in generated[0].body.decode() and "teacher_name" not in generated[0].message["data"]

    await move(api, str(a1["id"]), as_regional(), action="recommend")
    await move(api, str(a1["id"]), as_regional(), action="send_to_municipality")
    await move(api, str(a1["id"]), as_methodologist(MUN_A), action="return_for_correction", comment="Уточнить задачи")
    changed = await receiver.wait_for("/school-a1", "route.status_changed", 3)
    steps = [(c.message["data"]["from"], c.message["data"]["to"]) for c in changed]
    assert ("draft", "recommended") in steps and ("recommended", "sent_to_municipality") in steps
    returned = await receiver.wait_for("/school-a1", "route.returned_for_correction")
    assert returned[0].message["data"]["route_id"] == str(a1["id"])
    assert "Уточнить" not in returned[0].body.decode()  # comments may name people: not sent
    assert not receiver.of("/mun-b", "route.status_changed")

    log = await settled(api, school_sub, as_school(ORG_A1, MUN_A))
    assert all(d["state"] == "delivered" and d["log"][-1]["status_code"] == 200 for d in log)
    assert {d["event_type"] for d in log} >= {"route.generated", "route.status_changed"}


async def test_an_event_nobody_subscribed_to_is_not_kept(
    api: httpx.AsyncClient, fast_routes: dict[str, str], receiver: Receiver, db: asyncpg.Connection
) -> None:
    """Only a school A1 listens, and only to status changes: generating routes, or changing the status of a
    route of another school, leaves nothing in the outbox; A1's own status change is kept and delivered."""
    await subscribe(api, as_school(ORG_A1, MUN_A), receiver.url("/a1"), ["route.status_changed"])
    await results_for(api, {"t-a1-1": {"M2"}, "t-a2-1": {"M3"}})
    routes = await wait_for_routes(api, 2)
    a1 = next(r for r in routes if r["organisation"] == ORG_A1)
    a2 = next(r for r in routes if r["organisation"] == ORG_A2)
    await move(api, str(a2["id"]), as_regional(), action="recommend")
    assert await db.fetchval("SELECT count(*) FROM routes.webhook_events") == 0
    await move(api, str(a1["id"]), as_regional(), action="recommend")
    got = await receiver.wait_for("/a1", "route.status_changed", 1)
    assert [g.message["data"]["route_id"] for g in got] == [str(a1["id"])]
    assert await db.fetchval("SELECT count(*) FROM routes.webhook_events") == 1


async def test_a_delivery_is_retried_after_500_with_the_same_id(
    api: httpx.AsyncClient, fast_routes: dict[str, str], receiver: Receiver
) -> None:
    receiver.answers = [500, 500]
    sub = await subscribe(api, as_regional(), receiver.url(), ["route.generated"])
    await results_for(api, {"t-a1-1": {"M2", "M3"}})
    await wait_for_routes(api, 1)
    got = await receiver.wait_for("/hook", "route.generated", 3)
    assert len({g.headers["webhook-id"] for g in got}) == 1
    assert all(verify(sub["secret"], g.headers, g.body) for g in got)
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        log = await deliveries(api, sub, as_regional())
        if (log and log[0]["state"] == "delivered") or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    attempts = log[0]["log"]
    assert [a["status_code"] for a in attempts] == [500, 500, 200], attempts
    assert attempts[0]["outcome"] == "http-error" and attempts[0]["error"] == "Получатель ответил кодом 500"
    assert str(log[0]["event_id"]) == got[0].headers["webhook-id"]
    r = await api.get(f"/api/v1/webhooks/{sub['id']}", headers=as_regional())
    assert r.json()["failure_run"] == 0 and r.json()["active"] and "secret" not in r.json()


async def test_nothing_is_lost_while_the_receiver_is_down(
    api: httpx.AsyncClient, fast_routes: dict[str, str], receiver: Receiver
) -> None:
    sub = await subscribe(api, as_regional(), receiver.url(), ["route.generated", "route.status_changed"])
    await receiver.stop()
    await results_for(api, {"t-a1-1": {"M2", "M3"}, "t-a1-2": {"M1"}, "t-b1-1": {"M4"}})
    routes = await wait_for_routes(api, 3)
    for r in routes:
        await move(api, str(r["id"]), as_regional(), action="recommend")
    deadline = asyncio.get_running_loop().time() + 15
    while True:  # the receiver is down long enough for every message to fail at least once
        log = await deliveries(api, sub, as_regional())
        if len(log) == 6 and all(d["log"] for d in log):
            break
        assert asyncio.get_running_loop().time() < deadline, log
        await asyncio.sleep(0.2)
    assert all(d["state"] == "pending" and d["log"][0]["outcome"] == "connection-error" for d in log)
    await receiver.start()
    await receiver.wait_for("/hook", "route.generated", 3)
    await receiver.wait_for("/hook", "route.status_changed", 3)
    ids = {g.headers["webhook-id"] for g in receiver.received}
    assert len(ids) == 6
    assert {g.message["data"]["route_id"] for g in receiver.of("/hook", "route.generated")} == {
        str(r["id"]) for r in routes
    }


async def test_control_point_audit_and_export_events(
    api: httpx.AsyncClient, fast_routes: dict[str, str], receiver: Receiver, live: Stack, tmp_path: Path
) -> None:
    mun_sub = await subscribe(api, as_methodologist(MUN_A), receiver.url("/mun-a"))
    intake = await results_for(api, {"t-a1-1": {"M2", "M3"}})
    (route,) = await wait_for_routes(api, 1)
    rid = str(route["id"])
    teacher = as_teacher(intake.region, "t-a1-1")
    await move(api, rid, as_regional(), action="recommend")
    await move(api, rid, as_regional(), action="send_to_municipality")
    await move(api, rid, as_methodologist(MUN_A), action="agree_with_school")
    tutor = {"teacher_id": intake.region.id("t-a1-2")}  # a teacher of the same school
    await move(api, rid, as_school(ORG_A1, MUN_A), action="approve", tutor=tutor)
    await move(api, rid, teacher, action="start")
    due = await receiver.wait_for("/mun-a", "route.control_point_due")
    data = due[0].message["data"]
    assert data["route_id"] == rid and data["status"] in ("approved", "in_progress") and data["control_on"]
    await asyncio.sleep(1.5)  # further checks of the control points send nothing twice
    assert len(receiver.of("/mun-a", "route.control_point_due")) == 1

    await move(api, rid, teacher, action="complete", evidence=EVIDENCE)
    audit_id = str(uuid.uuid4())
    body = {"audit_id": audit_id, "total": 17, "completed_at": datetime.now(UTC).isoformat()}
    for _ in range(2):  # the audit service's outbox may deliver twice: one event
        r = await api.post(f"/api/v1/routes/{rid}/audited", json=body, headers=service_headers())
        assert r.status_code == 200, r.text
    audited = await receiver.wait_for("/mun-a", "audit.completed")
    assert audited[0].message["data"] == {**audited[0].message["data"], "audit_id": audit_id, "total": 17}
    assert audited[0].message["data"]["status"] == "audited"

    month = datetime.now(UTC).strftime("%Y-%m")
    await asyncio.to_thread(run_export, live, month, tmp_path)
    ready = await receiver.wait_for("/mun-a", "export.ready")
    assert {e.message["data"]["municipality"] for e in ready} == {MUN_A}
    assert {e.message["data"]["month"] for e in ready} == {month}
    listed = await api.get("/api/v1/exports", params={"month": month}, headers=as_methodologist(MUN_A))
    assert {str(x["id"]) for x in listed.json()["items"]} >= {e.message["data"]["export_id"] for e in ready}
    await asyncio.sleep(1.0)
    assert len(receiver.of("/mun-a", "audit.completed")) == 1
    for got in receiver.of("/mun-a"):
        assert verify(mun_sub["secret"], got.headers, got.body)


async def test_who_may_subscribe_and_see_what(
    api: httpx.AsyncClient, fast_routes: dict[str, str], receiver: Receiver
) -> None:
    school = await subscribe(api, as_school(ORG_A1, MUN_A), receiver.url(), SCHOOL_EVENTS)
    assert (school["region"], school["municipality"], school["organisation"]) == (REGION, MUN_A, ORG_A1)
    region = await subscribe(api, as_regional(), receiver.url(), ["export.ready"])
    assert (region["region"], region["municipality"], region["organisation"]) == (REGION, None, None)
    url = f"/api/v1/webhooks/{school['id']}"
    for h in (as_school(ORG_A2, MUN_A), as_methodologist(MUN_B), auth(Role.regional_specialist, region="r-x")):
        assert (await api.get(url, headers=h)).status_code == 404
        assert (await api.delete(url, headers=h)).status_code == 404
    r = await api.post(
        "/api/v1/webhooks",
        json={"url": receiver.url(), "events": ["route.generated"]},
        headers=auth(Role.teacher, region=REGION, municipality=MUN_A, organisation=ORG_A1),
    )
    assert r.status_code == 403 and "не позволяет" in r.json()["detail"]
    r = await api.post(
        "/api/v1/webhooks", json={"url": receiver.url(), "events": ["export.ready"]}, headers=as_school(ORG_A1, MUN_A)
    )
    assert r.status_code == 422 and "выгрузка" in r.json()["detail"]
    listed = await api.get("/api/v1/webhooks", headers=as_methodologist(MUN_A))
    assert [str(x["id"]) for x in listed.json()["items"]] == [str(school["id"])]
    assert all("secret" not in x for x in listed.json()["items"])
    assert len((await api.get("/api/v1/webhooks", headers=as_regional())).json()["items"]) == 2
    assert (await api.delete(url, headers=as_school(ORG_A1, MUN_A))).status_code == 204
    assert (await api.get(url, headers=as_regional())).status_code == 404


async def test_private_addresses_are_refused_by_default(
    api: httpx.AsyncClient, live: Stack, receiver: Receiver, db: asyncpg.Connection
) -> None:
    """With the default settings a receiver on this machine is refused when subscribing, and a stored URL
    whose name now resolves to it (DNS rebinding) is refused at delivery: logged, nothing sent, and the
    subscription is disabled after the configured run of failures."""
    original = dict(live.env)
    default = {k: v for k, v in original.items() if not k.startswith("ROUTES_WEBHOOKS_")}
    restart_routes(
        live,
        {
            **default,
            "ROUTES_WEBHOOKS_POLL_SECONDS": "0.2",
            "ROUTES_WEBHOOKS_BACKOFF_BASE_SECONDS": "0.2",
            "ROUTES_WEBHOOKS_BACKOFF_MAX_SECONDS": "0.4",
            "ROUTES_WEBHOOKS_DISABLE_AFTER_FAILURES": "3",
        },
    )
    try:
        for url in (receiver.url(), f"http://localhost:{receiver.port}/hook", "http://169.254.169.254/latest"):
            r = await api.post(
                "/api/v1/webhooks", json={"url": url, "events": ["route.generated"]}, headers=as_regional()
            )
            assert r.status_code == 422 and r.json()["errors"][0]["code"] == "url-not-allowed", r.text
            assert "внутреннюю сеть" in r.json()["detail"]
        sub_id = await db.fetchval(
            "INSERT INTO routes.webhook_subscriptions (region, url, events, secret, created_by) "
            "VALUES ($1, $2, $3, $4, 'test') RETURNING id",
            REGION,
            f"http://localhost:{receiver.port}/hook",
            ["route.generated"],
            new_secret(),
        )
        await results_for(api, {"t-a1-1": {"M2"}, "t-a1-2": {"M1"}})
        await wait_for_routes(api, 2)
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            got = (await api.get(f"/api/v1/webhooks/{sub_id}", headers=as_regional())).json()
            if not got["active"]:
                break
            assert asyncio.get_running_loop().time() < deadline, got
            await asyncio.sleep(0.2)
        assert got["disabled_at"] and got["failure_run"] >= 3
        log = await deliveries(api, {"id": sub_id}, as_regional())
        attempts = [a for d in log for a in d["log"]]
        assert attempts and all(a["outcome"] == "refused-address" for a in attempts)
        assert all(d["state"] == "pending" for d in log)  # kept: nothing lost if it is allowed again
        assert receiver.received == []
    finally:
        restart_routes(live, original)
