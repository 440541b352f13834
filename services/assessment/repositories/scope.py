"""Scope conditions shared by the assessment queries: region-wide objects and teachers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_

from kit.auth import Principal
from kit.db import scope_condition
from services.assessment.models import (
    teachers,
)


def visible_region(column: Any, principal: Principal) -> Any:
    """Objects of the caller's region or of no region (shared) are visible."""
    if principal.region:
        return or_(column.is_(None), column == principal.region)
    return and_(True)


def teacher_scope_clause(principal: Principal) -> Any:
    """SQL condition limiting teachers to what the principal may see."""
    return scope_condition(
        principal,
        region=teachers.c.region,
        municipality=teachers.c.municipality_code,
        organisation=teachers.c.organisation_code,
        teacher=teachers.c.id,
    )
