"""A printable route (ИОМ) in Russian, as self-contained HTML (print to PDF from any browser).

The page is the Jinja2 template templates/route_print.html (autoescaped); this module gives it the route."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader, Template

from services.routes.labels import KIND_RU, LEVEL_LABELS, STATUS_COMP_RU, STATUS_RU, subject_label

TEMPLATES = Path(__file__).parent / "templates"

# Imported from here by callers that predate services.routes.labels.
__all__ = ["STATUS_RU", "render_html"]


def ru_date(value: Any) -> str:
    """An ISO date as DD.MM.YYYY (anything shorter is shown as it is)."""
    s = str(value or "")
    return f"{s[8:10]}.{s[5:7]}.{s[0:4]}" if len(s) >= 10 else s


def _text(value: Any) -> Any:
    # A missing value prints as nothing, never as "None".
    return "" if value is None else value


@cache
def _template() -> Template:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=ChainableUndefined,
        finalize=_text,
        keep_trailing_newline=False,
    )
    env.filters["ru_date"] = ru_date
    return env.get_template("route_print.html")


def render_html(route: dict[str, Any]) -> str:
    c = route["content"]
    sec = c.get("sections", {})
    return _template().render(
        route=route,
        period=c.get("period", {}),
        sec=sec,
        prof=sec.get("personal_profile", {}),
        pp=sec.get("professional_profile", {}),
        cp=sec.get("competency_profile", {}),
        req=sec.get("professional_request", {}),
        refl=sec.get("reflection", {}),
        mentoring=c.get("mentoring") or {},
        tutor=(route.get("tutor") or {}).get("name"),
        status_ru=STATUS_RU,
        level_labels=LEVEL_LABELS,
        kind_ru=KIND_RU,
        status_comp_ru=STATUS_COMP_RU,
        subject_label=subject_label,
    )
