"""Summaries of the municipal documents checklist: which directions are weakest across the region."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.audit.vocab import DIRECTION_LABELS_RU, ELEMENT_LABELS_RU, ChecklistElement, Direction


def completeness(directions: Mapping[str, Mapping[str, bool]]) -> float:
    """Percent of the 12 x 4 checklist answered 'yes'."""
    total = len(Direction) * len(ChecklistElement)
    yes = sum(1 for d in Direction for e in ChecklistElement if directions.get(d.value, {}).get(e.value))
    return round(100.0 * yes / total, 1)


def summarise(checklists: Sequence[Mapping[str, Any]], *, weakest: int = 3) -> dict[str, Any]:
    """Per direction the count and share of municipalities having each element; weakest directions first."""
    n = len(checklists)
    rows = []
    for order, d in enumerate(Direction):
        counts = {
            e.value: sum(1 for c in checklists if c["directions"].get(d.value, {}).get(e.value))
            for e in ChecklistElement
        }
        yes = sum(counts.values())
        rows.append(
            {
                "direction": d.value,
                "label": DIRECTION_LABELS_RU[d],
                "counts": counts,
                "shares": {k: (round(100.0 * v / n, 1) if n else None) for k, v in counts.items()},
                "completeness": round(100.0 * yes / (n * len(ChecklistElement)), 1) if n else None,
                "_order": order,
            }
        )
    ranked = sorted(rows, key=lambda r: (r["completeness"] if r["completeness"] is not None else 0.0, r["_order"]))
    for i, r in enumerate(ranked, start=1):
        r["rank"] = i
    for r in rows:
        r.pop("_order")
    per_municipality = sorted(
        (
            {
                "municipality": c["municipality"],
                "completeness": completeness(c["directions"]),
                "documents": len(c["documents"]),
            }
            for c in checklists
        ),
        key=lambda m: (m["completeness"], m["municipality"]),
    )
    return {
        "municipalities": n,
        "directions": rows,
        "weakest_directions": [r["direction"] for r in ranked[:weakest]] if n else [],
        "municipalities_without_documents": [c["municipality"] for c in checklists if not c["documents"]],
        "by_municipality": per_municipality,
        "elements": [{"element": e.value, "label": ELEMENT_LABELS_RU[e]} for e in ChecklistElement],
    }
