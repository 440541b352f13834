"""Helpers the routers share: versions in ETags, If-Match, the caller's region and rows as models."""

from __future__ import annotations

import uuid
from typing import Any

from kit.auth import Principal
from kit.errors import FieldError, PreconditionFailed, PreconditionRequired, ValidationFailed
from services.resources import matching


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    if value is None or value.strip() == "*":
        return None
    v = value.strip().removeprefix("W/").strip('"')
    try:
        return int(v)
    except ValueError:
        raise PreconditionFailed("If-Match does not match the current version", code="stale-version") from None


def require_if_match(value: str | None) -> int:
    """Workflow transitions need the version the caller saw (428 without it)."""
    if value is None:
        raise PreconditionRequired("send If-Match with the ETag you read", code="if-match-required")
    v = parse_if_match(value)
    if v is None:
        raise PreconditionRequired("If-Match must name a version, not *", code="if-match-required")
    return v


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
