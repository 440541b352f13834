"""The route as a document (issue 13, points 7 and 9): the ИОМ format printed as HTML, DOCX and PDF through
the gateway, with names instead of codes; the route's content typed in the API (every demo route validates)."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import asyncpg
import docx
import httpx
import pypdf
import pytest

from deploy import demo
from services.routes.directory import MISS_RETRY_SECONDS
from services.routes.route_document.model import RouteContent
from services.routes.route_document.view import ru_date
from services.routes.schemas import RouteRead
from tests.harness import Stack
from tests.region import MUN_A, ORG_A1, as_regional, seed_region, service_headers
from tests.routes.factory import insert_route
from tests.routes.test_lifecycle import a_route

# A word of two or more Latin letters that is not an established acronym.
LATIN = re.compile(r"\b(?!PISA\b|PIRLS\b|TIMSS\b)[A-Za-z]{2,}\b")


def squeeze(text: str) -> str:
    """Whitespace as one space (table cells wrap lines in the PDF)."""
    return " ".join(text.split())


def docx_text(body: bytes) -> str:
    d = docx.Document(io.BytesIO(body))
    parts = [p.text for p in d.paragraphs]
    parts += [c.text for t in d.tables for row in t.rows for c in row.cells]
    return squeeze("\n".join(parts))


def pdf_text(body: bytes) -> tuple[str, list[Any]]:
    reader = pypdf.PdfReader(io.BytesIO(body))
    return squeeze("\n".join(p.extract_text() for p in reader.pages)), list(reader.pages)


async def a_printed_route(api: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, str]]:
    _, summary = await a_route(api)
    rid = summary["id"]
    route = (await api.get(f"/api/v1/routes/{rid}", headers=as_regional())).json()
    printed = {}
    for fmt in ("html", "docx", "pdf"):
        r = await api.get(f"/api/v1/routes/{rid}/print", params={"format": fmt}, headers=as_regional())
        assert r.status_code == 200, r.text
        printed[fmt] = r
    return route, printed


def expected(route: dict[str, Any]) -> tuple[list[str], list[str]]:
    tasks = [t["formulation"] for g in route["content"]["sections"]["goals"] for t in g["tasks"]]
    dates = sorted({ru_date(p["date"]) for p in route["content"]["control_points"]})
    assert tasks and dates
    return tasks, dates


class TestThePrintedRoute:
    async def test_a_school_added_to_the_directory_prints_by_name(
        self, api: httpx.AsyncClient, db: asyncpg.Connection
    ) -> None:
        await seed_region(api)
        route = await insert_route(db, organisation="oo-new-1")
        url = f"/api/v1/routes/{route['id']}/print"
        first = await api.get(url, params={"format": "html"}, headers=as_regional())
        assert first.status_code == 200 and "Школа имени Гагарина" not in first.text
        school = {"code": "oo-new-1", "name": "Школа имени Гагарина", "municipality": MUN_A}
        r = await api.put("/api/v1/organisations", json=[school], headers=service_headers())
        assert r.status_code == 200, r.text
        await asyncio.sleep(MISS_RETRY_SECONDS + 0.5)  # the names read for the first print are asked again
        again = await api.get(url, params={"format": "html"}, headers=as_regional())
        assert "Школа имени Гагарина" in again.text

    async def test_three_formats_hold_the_teacher_every_task_and_every_control_date(
        self, api: httpx.AsyncClient
    ) -> None:
        route, printed = await a_printed_route(api)
        tasks, dates = expected(route)
        assert printed["html"].headers["content-type"].startswith("text/html")
        assert printed["docx"].headers["content-type"].startswith("application/vnd.openxmlformats")
        assert printed["pdf"].headers["content-type"].startswith("application/pdf")
        assert "attachment" in printed["pdf"].headers["content-disposition"]
        pdf, pages = pdf_text(printed["pdf"].content)
        texts = {"html": squeeze(printed["html"].text), "docx": docx_text(printed["docx"].content), "pdf": pdf}
        for fmt, text in texts.items():
            assert route["teacher_name"] in text, fmt
            # Cells of the PDF wrap lines, also after a hyphen: compare without whitespace.
            bare = "".join(text.split())
            for task in tasks:
                assert "".join(task.split()) in bare, (fmt, task)
            for day in dates:
                assert day in text, (fmt, day)
            for section in ("Личный профиль", "Профессиональный профиль", "Профиль компетенций", "Контрольные точки"):
                assert section in text, (fmt, section)
            assert "Самопроверка по формату анализа ИОМ" in text and "Согласование и утверждение" in text, fmt
            assert "Маршрут сформирован по результатам диагностики" in text, fmt  # the approvals: what and when
        # A4 portrait (595 x 842 points), every page.
        assert all(round(float(p.mediabox.width)) == 595 and round(float(p.mediabox.height)) == 842 for p in pages)

    async def test_names_not_codes_and_no_latin_words(self, api: httpx.AsyncClient) -> None:
        route, printed = await a_printed_route(api)
        pdf, _ = pdf_text(printed["pdf"].content)
        body = printed["html"].text.split("<body>", 1)[1]  # what a person reads, not the style sheet
        html = squeeze(re.sub(r"<[^>]+>", " ", body))
        for fmt, text in {"html": html, "docx": docx_text(printed["docx"].content), "pdf": pdf}.items():
            assert "Школа А1" in text and "Округ А" in text, fmt  # the directory's names (tests.region)
            for code in (MUN_A, ORG_A1, route["status"], "learning", "practice_change", "deficit", "strength"):
                assert code not in text, (fmt, code)
            assert not LATIN.findall(text), (fmt, LATIN.findall(text)[:10])

    async def test_an_unknown_format_is_422_and_html_stays_the_default(self, api: httpx.AsyncClient) -> None:
        _, summary = await a_route(api)
        r = await api.get(f"/api/v1/routes/{summary['id']}/print", params={"format": "odt"}, headers=as_regional())
        assert r.status_code == 422
        r = await api.get(f"/api/v1/routes/{summary['id']}/print", headers=as_regional())
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")


class TestTypedContent:
    async def test_a_route_read_validates_and_round_trips_its_content(self, api: httpx.AsyncClient) -> None:
        route, _ = await a_printed_route(api)
        typed = RouteRead.model_validate(route)
        task = typed.content.sections.goals[0].tasks[0]  # type: ignore[index, union-attr]
        assert task.result_form and task.starts_on is not None
        assert typed.content.control_points and typed.content.control_points[0].date is not None
        # What the endpoints answer (exclude_unset) is the stored JSON as it is.
        assert typed.model_dump(mode="json", exclude_unset=True)["content"] == route["content"]

    def test_content_stored_before_today_still_validates(self) -> None:
        old = {"period": {"start": "2025-09-01", "end": "2026-03-01"}, "sections": {"goals": [{"tasks": [{}]}]}}
        typed = RouteContent.model_validate(old)
        assert typed.model_dump(mode="json", exclude_unset=True) == old
        assert RouteContent.model_validate({}).control_points is None

    async def test_every_demo_route_validates(
        self, live: Stack, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for key, value in live.env.items():  # the loader signs its tokens with the stack's secret
            monkeypatch.setenv(key, value)
        tokens = await asyncio.to_thread(demo.load_if_empty, live.gateway)
        regional = {"Authorization": f"Bearer {tokens['regional_specialist']}"}
        teachers = len(demo.region_data()["teachers"])
        routes: list[dict[str, Any]] = []
        for _ in range(150):
            routes = (await api.get("/api/v1/routes", params={"limit": 500}, headers=regional)).json()["items"]
            if len(routes) >= teachers:
                break
            await asyncio.sleep(0.2)
        assert len(routes) == teachers
        for summary in routes:
            full = (await api.get(f"/api/v1/routes/{summary['id']}", headers=regional)).json()
            typed = RouteRead.model_validate(full)
            assert typed.model_dump(mode="json", exclude_unset=True)["content"] == full["content"]
        # And one of them prints in every format with the demo directory's names.
        rid = routes[0]["id"]
        for fmt in ("html", "docx", "pdf"):
            r = await api.get(f"/api/v1/routes/{rid}/print", params={"format": fmt}, headers=regional)
            assert r.status_code == 200, (fmt, r.text)
