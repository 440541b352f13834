"""The region a write lands in."""

from __future__ import annotations

from kit.auth import Principal
from kit.errors import FieldError, ValidationFailed


def write_region(principal: Principal) -> str:
    """The region a write lands in: the caller's own."""
    if not principal.region:
        raise ValidationFailed(
            "your credential names no region",
            errors=[FieldError(loc=["token", "region"], code="region-required", message="a region is required")],
        )
    return principal.region
