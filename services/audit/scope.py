"""What part of the region a permitted caller reads and writes (objects out of scope answer 404)."""

from __future__ import annotations

from datetime import date

from kit.auth import ROLE_LABELS, Principal, Role
from kit.errors import FieldError, Forbidden, NotFound, ValidationFailed


def own_municipality(principal: Principal) -> str | None:
    """The one municipality a municipal methodologist is limited to; None for region-wide callers."""
    if principal.is_regional:
        return None
    if principal.role == Role.municipal_methodologist:
        return principal.municipality or "-"
    # The permissions (auth.py) let no other role this far; refuse rather than widen the scope.
    raise Forbidden(
        f"Ваша роль «{ROLE_LABELS[principal.role]}» не позволяет просматривать аналитику муниципалитетов",
        code="role-forbidden",
    )


def sees_municipality(principal: Principal, municipality: str) -> bool:
    own = own_municipality(principal)
    return own is None or own == municipality


def writer_region(principal: Principal, given: str | None = None) -> str:
    """The region a write belongs to: the credential's, or (only without one) the one given."""
    if principal.region:
        if given and given != principal.region:
            raise Forbidden("Этот регион вне вашей зоны доступа", code="out-of-scope")
        return principal.region
    if given:
        return given
    raise ValidationFailed(
        "Укажите регион",
        errors=[
            FieldError(
                loc=["body", "region"],
                code="region-required",
                message="В ваших учётных данных нет региона: укажите регион в запросе",
            )
        ],
    )


def analytics_scope(
    principal: Principal, region: str | None, municipality: str | None, date_from: date | None, date_to: date | None
) -> tuple[str | None, str | None]:
    """(region, municipality) the caller may ask about; a municipal methodologist is held to their own."""
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed("Начало периода позже его конца", code="invalid-period")
    own = own_municipality(principal)
    if own is not None:
        if municipality and municipality != own:
            raise NotFound("Муниципалитет не найден", code="municipality-not-found")
        municipality = own
    if principal.region:
        if region and region != principal.region:
            raise NotFound("Регион не найден", code="region-not-found")
        region = principal.region
    return region, municipality


def kpi_scope(
    principal: Principal,
    region: str | None,
    municipality: str | None,
    organisation: str | None,
    date_from: date | None,
    date_to: date | None,
) -> tuple[str | None, str | None, str | None]:
    """(region, municipality, school) of the KPIs: a school deputy is held to their own school (and its
    municipality), others to what `analytics_scope` allows them, optionally narrowed to one school."""
    if principal.role != Role.school_admin:
        region, municipality = analytics_scope(principal, region, municipality, date_from, date_to)
        return region, municipality, organisation
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed("Начало периода позже его конца", code="invalid-period")
    if organisation and organisation != principal.organisation:
        raise NotFound("Образовательная организация не найдена", code="organisation-not-found")
    if municipality and municipality != principal.municipality:
        raise NotFound("Муниципалитет не найден", code="municipality-not-found")
    if principal.region and region and region != principal.region:
        raise NotFound("Регион не найден", code="region-not-found")
    return principal.region or region, principal.municipality or "-", principal.organisation or "-"
