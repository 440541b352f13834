"""The printed route as DOCX, from the Word template templates/route_print.docx (docxtpl: Jinja2 tags in the
document; a methodologist changes wording, fonts and layout in Word, without code).

The template gets one variable, `doc` (route_document.view.RouteDocument); its tags are the names of that
view model's fields: `{{ doc.teacher }}`, a paragraph loop `{%p for l in doc.personal %}{{ l.text }}`,
table rows `{%tr for t in g.tasks %}`. Every value is escaped (autoescape)."""

from __future__ import annotations

import io
from functools import cache

from docxtpl import DocxTemplate

from services.routes.route_document.view import TEMPLATES, RouteDocument

TEMPLATE = TEMPLATES / "route_print.docx"


@cache
def _template_bytes() -> bytes:
    return TEMPLATE.read_bytes()


def render_docx(doc: RouteDocument) -> bytes:
    tpl = DocxTemplate(io.BytesIO(_template_bytes()))  # a template renders once: a fresh one per document
    tpl.render({"doc": doc}, autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()
