"""Seats of the chosen forms: which a content change reserves and releases, and when a route gives all back.

A task's chosen form (`chosen_resource_id`, one of its offered forms) holds one seat of that resource in the
resources service for the route's teacher. Two tasks choosing the same resource share the route's one
reservation, so a seat is released only when no task of the route still chooses it. The route's end
(completion) and its archiving release every seat it holds. Pure: the I/O is services.routes.service.seats.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from services.routes.workflow import Status

# Reaching these states gives back every seat the route holds.
SEATS_RELEASED_AT = frozenset({Status.completed, Status.archived})


def _tasks(content: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for g in content.get("sections", {}).get("goals", []):
        yield from g.get("tasks", [])


def chosen_seats(content: dict[str, Any]) -> set[str]:
    """Resources chosen for the route's tasks (each once)."""
    return {str(t["chosen_resource_id"]) for t in _tasks(content) if t.get("chosen_resource_id")}


def seat_changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(to reserve, to release): resources newly chosen, and those no task chooses any more."""
    old, new = chosen_seats(before), chosen_seats(after)
    return sorted(new - old), sorted(old - new)


def offered_with(content: dict[str, Any], resource_id: str) -> set[str]:
    """Resources offered to the tasks that chose `resource_id` (the forms a teacher may pick instead)."""
    return {
        str(f.get("resource_id"))
        for t in _tasks(content)
        if str(t.get("chosen_resource_id")) == resource_id
        for f in t.get("forms", [])
        if f.get("resource_id") and str(f.get("resource_id")) != resource_id
    }
