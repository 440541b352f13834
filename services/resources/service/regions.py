"""The region a write lands in."""

from __future__ import annotations

from kit.auth import Principal
from kit.errors import FieldError, ValidationFailed


def write_region(principal: Principal) -> str:
    """The region a write lands in: the caller's own."""
    if not principal.region:
        raise ValidationFailed(
            "В ваших учётных данных не указан регион",
            errors=[FieldError(loc=["token", "region"], code="region-required", message="Нужен регион")],
        )
    return principal.region
