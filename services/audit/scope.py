"""What part of the region a permitted caller reads and writes (objects out of scope answer 404)."""

from __future__ import annotations

from datetime import date

from kit.auth import Principal, Role
from kit.errors import FieldError, Forbidden, NotFound, ValidationFailed


def own_municipality(principal: Principal) -> str | None:
    """The one municipality a municipal methodologist is limited to; None for region-wide callers."""
    if principal.is_regional:
        return None
    if principal.role == Role.municipal_methodologist:
        return principal.municipality or "-"
    # The permissions (auth.py) let no other role this far; refuse rather than widen the scope.
    raise Forbidden("your role may not see municipal analytics", code="role-forbidden")


def sees_municipality(principal: Principal, municipality: str) -> bool:
    own = own_municipality(principal)
    return own is None or own == municipality


def writer_region(principal: Principal, given: str | None = None) -> str:
    """The region a write belongs to: the credential's, or (only without one) the one given."""
    if principal.region:
        if given and given != principal.region:
            raise Forbidden("that region is outside your scope", code="out-of-scope")
        return principal.region
    if given:
        return given
    raise ValidationFailed(
        "a region is needed",
        errors=[
            FieldError(
                loc=["body", "region"], code="region-required", message="your credential has no region; name the region"
            )
        ],
    )


def analytics_scope(
    principal: Principal, region: str | None, municipality: str | None, date_from: date | None, date_to: date | None
) -> tuple[str | None, str | None]:
    """(region, municipality) the caller may ask about; a municipal methodologist is held to their own."""
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed("date_from is after date_to", code="invalid-period")
    own = own_municipality(principal)
    if own is not None:
        if municipality and municipality != own:
            raise NotFound("municipality not found", code="municipality-not-found")
        municipality = own
    if principal.region:
        if region and region != principal.region:
            raise NotFound("region not found", code="region-not-found")
        region = principal.region
    return region, municipality
