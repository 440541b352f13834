"""What a route keeps of a depersonalised teacher (152-FZ): no name, no personal text; the rest stays.

The name is in the route's columns and its content (the personal profile the print shows); the
teacher's own words are the professional request, and a manual change of it is kept as an override.
"""

from __future__ import annotations

import copy
from typing import Any

NO_NAME = ""
EMPTY_REQUEST: dict[str, Any] = {"text": "", "interests": []}
# Overrides that carry the teacher's own text (re-applied on regeneration, so they go too).
# The teacher's own words about themselves: the professional request and the achievements and courses they wrote.
PERSONAL_OVERRIDE_TARGETS = frozenset({"request", "profile"})
PERSONAL_PROFILE_LISTS = ("achievements", "courses_last_3_years")


def scrub_content(content: dict[str, Any]) -> dict[str, Any]:
    """The content without the teacher's name, request, achievements and courses (a copy; the rest as it was)."""
    out = copy.deepcopy(content)
    sections = out.get("sections")
    if not isinstance(sections, dict):
        return out
    profile = sections.get("personal_profile")
    if isinstance(profile, dict) and "full_name" in profile:
        profile["full_name"] = NO_NAME
    if "professional_request" in sections:
        sections["professional_request"] = dict(EMPTY_REQUEST)
    professional = sections.get("professional_profile")
    if isinstance(professional, dict):
        for key in PERSONAL_PROFILE_LISTS:
            if key in professional:
                professional[key] = []
    return out


def scrub_overrides(overrides: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manual changes without those holding the teacher's own text."""
    return [o for o in overrides if o.get("target") not in PERSONAL_OVERRIDE_TARGETS]


def depersonalised_fields(row: dict[str, Any], external_id: str) -> dict[str, Any]:
    """The columns of a stored route to change so it names nobody (empty when it already does)."""
    wanted = {
        "teacher_name": NO_NAME,
        "external_id": external_id,
        "content": scrub_content(row["content"]),
        "overrides": scrub_overrides(list(row["overrides"] or [])),
    }
    return {k: v for k, v in wanted.items() if row.get(k) != v}
