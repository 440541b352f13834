"""Turn stored result rows into API shapes (pure: the framework is passed in)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.assessment.scoring import LEVEL_LABELS_RU, Band, Framework, Level, explain_competencies


def _floats(values: Sequence[Any] | None) -> list[float] | None:
    return None if values is None else [float(v) for v in values]


def present_result(row: dict[str, Any], fw: Framework) -> dict[str, Any]:
    """A ResultRead-shaped dict from a row of `RESULT_COLUMNS`."""
    instrument = fw.instruments[row["instrument"]]
    comp_points = _floats(row["competency_points"]) or []
    comps = explain_competencies(fw, instrument, comp_points, _floats(row["item_points"])) if comp_points else []
    level = Level(row["level"])
    return {
        "id": row["id"],
        "teacher_id": row["teacher_id"],
        "external_id": row["external_id"],
        "municipality": row["municipality"],
        "organisation": row["organisation"],
        "campaign": {
            "id": row["campaign_id"],
            "name": row["campaign_name"],
            "source": row["campaign_source"],
            "subject": row["subject"],
            "assessed_on": row["assessed_on"],
            "instrument": row["instrument"],
        },
        "framework": {"id": row["framework_id"], "code": row["framework_code"], "version": row["framework_version"]},
        "total_points": float(row["total_points"]),
        "max_points": float(row["max_points"]),
        "percent": float(row["percent"]),
        "level": level,
        "level_label": LEVEL_LABELS_RU[level],
        "group": row["grp"],
        "level_source": row["level_source"],
        "competencies": comps,
        "deficits": [c for c in comps if c["band"] == Band.deficit],
        "growth_points": [c for c in comps if c["band"] == Band.growth],
        "strengths": [c for c in comps if c["band"] == Band.strength],
        "change": None,
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def change_between(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """How a presented result moved against the same teacher's previous one in the subject."""
    group_delta = current["group"] - previous["group"]
    percent_delta = round(current["percent"] - previous["percent"], 2)
    if group_delta:
        direction = "up" if group_delta > 0 else "down"
    elif abs(percent_delta) > 0.005:
        direction = "up" if percent_delta > 0 else "down"
    else:
        direction = "same"
    before = {c["competency"] for c in previous["deficits"]}
    now = {c["competency"] for c in current["deficits"]}
    return {
        "previous_result_id": previous["id"],
        "previous_campaign_id": previous["campaign"]["id"],
        "previous_level": previous["level"],
        "previous_group": previous["group"],
        "group_delta": group_delta,
        "percent_delta": percent_delta,
        "direction": direction,
        "closed_deficits": sorted(before - now),
        "new_deficits": sorted(now - before),
    }


def attach_changes(presented: list[dict[str, Any]]) -> None:
    """Set `change` on each result (oldest first) against the previous result of the same subject."""
    last: dict[tuple[Any, str], dict[str, Any]] = {}
    for r in presented:
        key = (r["teacher_id"], r["campaign"]["subject"])
        prev = last.get(key)
        r["change"] = change_between(prev, r) if prev is not None else None
        last[key] = r
