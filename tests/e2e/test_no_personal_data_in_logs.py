"""The whole cycle with distinctive teacher names, plus the errors most likely to echo them: no log line
of any process carries a name, in any spelling a log could hold it (raw, JSON-escaped, URL-encoded)."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import quote, quote_plus

import httpx

from tests.e2e.conftest import GeneratedClient
from tests.e2e.cycle import Person, walk
from tests.harness import Stack
from tests.region import MUN_A, MUN_B, ORG_A1, ORG_A2, ORG_B1, as_regional, service_headers

PEOPLE = (
    Person("pii-1", "Шереметьева-Ягужинская Евпраксия Фотиевна", MUN_A, ORG_A1),
    Person("pii-2", "Тимофеев-Ресовский Аполлинарий Никанорович", MUN_A, ORG_A2),
    Person("pii-3", "Quaxleywright Bartholomewa Zenobia", MUN_B, ORG_B1),
)
RENAMED = "Залесская-Вышеградская Феврония Агафоновна"


def spellings(name: str) -> set[str]:
    """Every way a log line could hold a name or a part of it."""
    parts = {name, *[p for p in name.replace("-", " ").split() if len(p) >= 5]}
    out: set[str] = set()
    for p in parts:
        out |= {p, json.dumps(p)[1:-1], quote(p), quote(p).lower(), quote_plus(p), p.encode("unicode_escape").decode()}
    return out


async def provoke_errors(api: httpx.AsyncClient, teacher_id: str) -> None:
    """Requests that carry names where an error path might log them."""
    surname = PEOPLE[0].full_name.split()[0]
    assert (await api.get("/api/v1/teachers", params={"q": surname}, headers=as_regional())).status_code == 200
    bad = {
        "external_id": "pii-x",
        "full_name": RENAMED,
        "municipality": MUN_A,
        "organisation": ORG_A1,
        "experience_years": "много",
    }
    assert (await api.post("/api/v1/teachers", json=bad, headers=service_headers())).status_code == 422
    stale = await api.patch(
        f"/api/v1/teachers/{teacher_id}",
        json={"full_name": RENAMED},
        headers={**service_headers(), "If-Match": '"999"'},
    )
    assert stale.status_code in (412, 428), stale.text
    # A NUL in a name reaches PostgreSQL, which refuses it: the error path must not log the value.
    nul = {
        "external_id": "pii-nul",
        "full_name": RENAMED + "\u0000",
        "municipality": MUN_A,
        "organisation": ORG_A1,
        "position": "учитель",
        "subjects": ["mathematics"],
    }
    r = await api.post("/api/v1/teachers/bulk", json={"teachers": [nul]}, headers=service_headers())
    assert r.status_code == 422, r.text
    csv = f"external_id;full_name;M1-1\npii-1;{RENAMED};not-a-number\n"
    r = await api.post(
        f"/api/v1/campaigns/{uuid.uuid4()}/results",
        content=csv.encode(),
        headers={**service_headers(), "Content-Type": "text/csv", "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code in (404, 422), r.text


async def test_no_teacher_name_reaches_any_log(
    generated_client: GeneratedClient, live: Stack, api: httpx.AsyncClient
) -> None:
    out = await walk(generated_client.gen, live.gateway, PEOPLE)
    assert PEOPLE[0].full_name in out.export_csv  # the names did travel through every service
    await provoke_errors(api, out.teacher_ids[PEOPLE[0].external_id])
    await asyncio.sleep(0.5)  # access lines are written just after the responses
    logs = live.logs()
    assert len(logs.splitlines()) > 50
    leaked = sorted({s for p in (*PEOPLE, Person("", RENAMED, "", "")) for s in spellings(p.full_name) if s in logs})
    assert not leaked, f"names in the logs: {leaked}"
