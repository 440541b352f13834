"""The printed route (ИОМ) in Russian: HTML (the default, print to PDF from any browser), DOCX and PDF.

Every format is made from one view model (services.routes.route_document.view.build_document); the HTML is
the Jinja2 template templates/route_print.html (autoescaped), the DOCX the Word template
templates/route_print.docx (route_document.docx), the PDF is drawn by route_document.pdf."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from services.routes.labels import STATUS_RU
from services.routes.route_document.docx import render_docx
from services.routes.route_document.pdf import render_pdf
from services.routes.route_document.view import TEMPLATES, RouteDocument, build_document, ru_date

# Imported from here by callers that predate services.routes.labels.
__all__ = ["DOCX_MEDIA_TYPE", "FORMATS", "STATUS_RU", "Printed", "render", "render_html", "ru_date"]


DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Printed:
    body: bytes
    media_type: str
    extension: str


@cache
def _template() -> Template:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
    return env.get_template("route_print.html")


def render_html(doc: RouteDocument | Mapping[str, Any]) -> str:
    """The document as HTML (a route as the API answers it is made into the document first, without names)."""
    return _template().render(doc=doc if isinstance(doc, RouteDocument) else build_document(doc))


def _html(doc: RouteDocument) -> Printed:
    return Printed(render_html(doc).encode(), "text/html; charset=utf-8", "html")


def _docx(doc: RouteDocument) -> Printed:
    return Printed(render_docx(doc), DOCX_MEDIA_TYPE, "docx")


def _pdf(doc: RouteDocument) -> Printed:
    return Printed(render_pdf(doc), "application/pdf", "pdf")


FORMATS = {"html": _html, "docx": _docx, "pdf": _pdf}


def render(doc: RouteDocument, fmt: str) -> Printed:
    """The document in one of FORMATS."""
    return FORMATS[fmt](doc)
