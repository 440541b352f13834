"""Helpers the routers share: the caller's region, rows as matcher models, ETag helpers (from kit)."""

from __future__ import annotations

import uuid
from typing import Any

from kit.auth import Principal
from kit.errors import FieldError, ValidationFailed
from services.resources import matching

__all__ = ["mentor_offer_of", "offer_of", "uuid_or_none", "with_free", "write_region"]


def write_region(principal: Principal) -> str:
    """The region a write lands in: the caller's own."""
    if not principal.region:
        raise ValidationFailed(
            "your credential names no region",
            errors=[FieldError(loc=["token", "region"], code="region-required", message="a region is required")],
        )
    return principal.region


def with_free(row: dict[str, Any]) -> dict[str, Any]:
    """Rows carry capacity - reserved as `free`; null capacity means no limit."""
    if row.get("capacity") is None:
        row["free"] = None
    return row


def offer_of(row: dict[str, Any]) -> matching.Offer:
    return matching.Offer(
        id=str(row["id"]),
        kind=row["kind"],
        title=row["title"],
        competencies=frozenset(row["competencies"]),
        subjects=frozenset(row["subjects"]),
        levels=frozenset(row["levels"]),
        learning_type=row["learning_type"],
        mode=row["mode"],
        municipalities=frozenset(row["municipalities"]),
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        free=None if row["capacity"] is None else row["capacity"] - row["reserved"],
        federal_registry=row["federal_registry"],
        hours=row["hours"],
        owner_teacher_id=str(row["owner_teacher_id"]) if row["owner_teacher_id"] else None,
    )


def mentor_offer_of(row: dict[str, Any]) -> matching.MentorOffer:
    return matching.MentorOffer(
        id=str(row["id"]),
        teacher_id=str(row["teacher_id"]),
        role=row["role"],
        municipality=row["municipality"],
        subjects=frozenset(row["subjects"]),
        competencies=frozenset(row["competencies"]),
        level=row["level"],
        mode=row["mode"],
        free=row["capacity"] - row["load"],
    )


def uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
