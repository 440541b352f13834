"""Hostile workbooks through the gateway (issue 12, point 2): each gets a 4xx problem while the service answers others.

Two crafted workbooks, as the issue describes them: one whose last row holds a cell at XFD1048576 (the
declared dimension A1:XFD1048576), and one of sparse rows, each with a cell at XFD. Both are posted to
the four upload endpoints (resources import, mentors import, monitoring scores, results). The proof that
the service kept answering is an outcome, not a duration: once the upload's transaction is open (the
reading comes next), `GET`s to the same service are sent one after another, and at least two of them are
answered before the upload's answer arrives. Had the reading run on the event loop, the `GET` in flight
would wait for it and none could be answered in between (at most one, by a race at the very end).

The sparse rows under a 1,024-column header are the memory case: the service's peak RSS (VmHWM, reset
before the upload) stays under a generous bound.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest

from benchmarks.uploads import crafted
from kit.auth import Role
from tests.assessment.intake_support import item_codes, setup_intake
from tests.audit.support import create_campaign, register_municipalities
from tests.harness import Stack, auth
from tests.region import REGION

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIB = 1024 * 1024
# How far a service's resident memory may peak above where it was while it refuses the wide sparse workbook.
PEAK_GROWTH_BOUND = 64 * MIB


def column(n: int) -> str:
    """A column's letters (1 -> A, 1024 -> AMJ, 16384 -> XFD)."""
    out = ""
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(65 + rest) + out
    return out


def workbook(header: list[str], rows_xml: str) -> bytes:
    """A workbook declaring A1:XFD1048576 whose sheet holds `header` in row 1, then `rows_xml`."""
    cells = "".join(f'<c r="{column(i)}1" t="inlineStr"><is><t>{h}</t></is></c>' for i, h in enumerate(header, start=1))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hostile.xlsx"
        crafted(path, f'<row r="1">{cells}</row>{rows_xml}', "A1:XFD1048576")
        return path.read_bytes()


def far_cell(header: list[str], rows: int) -> bytes:
    """`rows` ordinary rows, then one cell at XFD1048576: the reader meets the row cap at the gap."""
    body = "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(2, rows + 2))
    return workbook(header, body + '<row r="1048576"><c r="XFD1048576"><v>7</v></c></row>')


def sparse(header: list[str], rows: int, far: str = "XFD") -> bytes:
    """`rows` sparse rows, each with a cell in column A and one at column `far`."""
    body = "".join(
        f'<row r="{n}"><c r="A{n}"><v>1</v></c><c r="{far}{n}"><v>1</v></c></row>' for n in range(2, rows + 2)
    )
    return workbook(header, body)


def billion_laughs(header: list[str]) -> bytes:
    """A workbook whose sheet declares nested entities (a billion "lol"s once expanded) and uses the last one."""
    entities = "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    body = workbook(header, '<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row>')
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    doctype = f'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY lol "lol">{entities}]>'
    parts["xl/worksheets/sheet1.xml"] = doctype.encode() + parts["xl/worksheets/sheet1.xml"]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


@dataclass(frozen=True)
class Endpoint:
    """Where a workbook is posted, the service behind it, and a read of the same service."""

    service: str
    post: Callable[[bytes], Coroutine[Any, Any, httpx.Response]]
    read: Callable[[], Coroutine[Any, Any, httpx.Response]]
    header: list[str]
    max_rows: int


async def resources_import(api: httpx.AsyncClient, what: str) -> Endpoint:
    headers = auth(Role.regional_specialist, region=REGION)

    async def post(body: bytes) -> httpx.Response:
        h = {**headers, "Content-Type": XLSX, "Idempotency-Key": str(uuid.uuid4())}
        return await api.post(f"/api/v1/{what}/import", content=body, headers=h)

    async def read() -> httpx.Response:
        return await api.get(f"/api/v1/{what}", params={"limit": 1}, headers=headers)

    header = ["external_id", "kind", "title"] if what == "resources" else ["teacher_id", "municipality", "subjects"]
    return Endpoint("resources", post, read, header, 20_000)


async def monitoring_scores(api: httpx.AsyncClient) -> Endpoint:
    await register_municipalities(api)
    campaign = await create_campaign(api, f"c-{uuid.uuid4().hex[:6]}", "2026-04-15")
    headers = auth(Role.regional_specialist, region=REGION)

    async def post(body: bytes) -> httpx.Response:
        h = {**headers, "Content-Type": XLSX, "Idempotency-Key": uuid.uuid4().hex}
        return await api.post(f"/api/v1/monitoring/campaigns/{campaign['id']}/scores", content=body, headers=h)

    async def read() -> httpx.Response:
        return await api.get("/api/v1/monitoring/campaigns", params={"limit": 1}, headers=headers)

    return Endpoint("audit", post, read, ["municipality", "goals", "indicators"], 10_000)


async def results_upload(api: httpx.AsyncClient) -> Endpoint:
    intake = await setup_intake(api)
    uploader = auth(Role.service, region=REGION)
    reader = auth(Role.regional_specialist, region=REGION)

    async def post(body: bytes) -> httpx.Response:
        h = {**uploader, "Content-Type": XLSX, "Idempotency-Key": uuid.uuid4().hex}
        return await api.post(f"/api/v1/campaigns/{intake.campaign_id}/results", content=body, headers=h)

    async def read() -> httpx.Response:
        return await api.get("/api/v1/campaigns", params={"limit": 1}, headers=reader)

    return Endpoint("assessment", post, read, ["external_id", *item_codes()], 1_000_000)


ENDPOINTS = ("resources-import", "mentors-import", "monitoring-scores", "results")


async def endpoint(api: httpx.AsyncClient, name: str) -> Endpoint:
    if name == "resources-import":
        return await resources_import(api, "resources")
    if name == "mentors-import":
        return await resources_import(api, "mentors")
    if name == "monitoring-scores":
        return await monitoring_scores(api)
    return await results_upload(api)


async def upload_under_way(db: asyncpg.Connection, service: str, upload: asyncio.Task[httpx.Response]) -> None:
    """Wait until the upload's transaction is open in the service (its idempotency key taken: reading comes next)."""
    while not upload.done():
        open_tx = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND state = 'idle in transaction'",
            f"iom_{service}",
        )
        if open_tx:
            return
        await asyncio.sleep(0.005)
    pytest.fail(f"the upload was answered before its transaction was seen: {(await upload).text}")


async def reads_answered_during(target: Endpoint, body: bytes, db: asyncpg.Connection) -> tuple[httpx.Response, int]:
    """Post `body`; once it is under way, read the same service again and again: the upload's answer and how
    many reads were answered before it."""
    upload = asyncio.create_task(target.post(body))
    await upload_under_way(db, target.service, upload)
    answered = 0
    while not upload.done():
        r = await target.read()
        assert r.status_code == 200, r.text
        answered += not upload.done()
    return await upload, answered


def problem(r: httpx.Response) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers["content-type"]
    out: dict[str, Any] = r.json()
    return out


@pytest.mark.parametrize("name", ENDPOINTS)
class TestHostileWorkbooks:
    async def test_a_far_cell_is_refused_while_the_service_answers(
        self, api: httpx.AsyncClient, db: asyncpg.Connection, name: str
    ) -> None:
        target = await endpoint(api, name)
        # Up to the row cap the rows are real (the reading takes a while); the far cell is beyond it.
        body = far_cell(target.header, min(target.max_rows - 1, 19_999))
        answer, answered = await reads_answered_during(target, body, db)
        assert problem(answer)["code"] == "too-many-rows"
        assert answered >= 2, "the service answered no read while it was reading the upload"

    async def test_sparse_rows_are_refused_while_the_service_answers(
        self, api: httpx.AsyncClient, db: asyncpg.Connection, name: str
    ) -> None:
        target = await endpoint(api, name)
        # The sparse rows stay under every cap (the row cap too): read to the end, then refused as rows.
        answer, answered = await reads_answered_during(
            target, sparse(target.header, min(target.max_rows - 1, 19_999)), db
        )
        problem(answer)
        assert answered >= 2, "the service answered no read while it was reading the upload"

    async def test_an_xml_bomb_is_refused(self, api: httpx.AsyncClient, name: str) -> None:
        target = await endpoint(api, name)
        assert problem(await target.post(billion_laughs(target.header)))["status"] == 422
        assert (await target.read()).status_code == 200


def peak_rss(pid: int) -> int:
    """The process's peak resident memory since it was last reset (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def reset_peak_rss(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.mark.parametrize("name", ENDPOINTS)
async def test_wide_sparse_rows_keep_the_services_memory_bounded(
    api: httpx.AsyncClient, live: Stack, name: str
) -> None:
    target = await endpoint(api, name)
    header = [*target.header, *(f"c{i}" for i in range(len(target.header) + 1, 1025))]
    body = sparse(header, min(target.max_rows - 1, 19_999), far=column(1024))
    pid = live.procs[target.service].pid
    reset_peak_rss(pid)
    before = peak_rss(pid)  # just reset: the resident memory now
    problem(await target.post(body))
    assert peak_rss(pid) - before < PEAK_GROWTH_BOUND, f"{before / MIB:.0f} -> {peak_rss(pid) / MIB:.0f} MiB"


def test_openpyxl_parses_through_defusedxml() -> None:
    """The services' openpyxl refuses entities through defusedxml (tests/kit/test_uploads.py::TestXmlBombs)."""
    assert openpyxl.DEFUSEDXML
