"""Which methodological area a competency belongs to (it chooses the goal's problem statement).

The four areas by competency code prefix are data (data/generation_rules.json, "area_by_code_prefix");
any other competency is a subject competency."""

from __future__ import annotations

from functools import cache

from services.routes.reference_data import generation_rules

SUBJECT_AREA = "subject"


@cache
def _by_prefix() -> dict[str, str]:
    return dict(generation_rules()["area_by_code_prefix"])


def area_of(code: str, declared_area: str = "") -> str:
    """The area of a competency: by its code prefix (M1..M4), else the area it declares when methodological."""
    by_prefix = _by_prefix()
    found = by_prefix.get(code.split(".")[0])
    if found:
        return found
    return declared_area if declared_area in by_prefix.values() else SUBJECT_AREA
