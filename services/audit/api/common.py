"""Small helpers the audit routers share: roles, versions, scope and upstream failures."""

from __future__ import annotations

from fastapi import Request

from kit.auth import Principal, Role
from kit.client import UpstreamError
from kit.errors import AppError, FieldError, Forbidden, UpstreamUnavailable, ValidationFailed
from services.audit.clients import MunicipalityDirectory, Upstream, UpstreamShapeError
from services.audit.config import AuditSettings
from services.audit.outbox import RouteOutbox

AUDITORS = frozenset({Role.municipal_methodologist, Role.regional_specialist, Role.admin})
ANALYSTS = frozenset({Role.municipal_methodologist, Role.regional_specialist, Role.admin, Role.service})
REGIONAL_WRITERS = frozenset({Role.regional_specialist, Role.admin, Role.service})


class BadUpstreamAnswer(AppError):
    status, code, title = 502, "upstream-contract", "Bad gateway"


def settings_of(request: Request) -> AuditSettings:
    settings: AuditSettings = request.app.state.settings
    return settings


def upstream_of(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.upstream
    return upstream


def outbox_of(request: Request) -> RouteOutbox:
    outbox: RouteOutbox = request.app.state.outbox
    return outbox


def ensure_role(principal: Principal, roles: frozenset[Role], what: str) -> None:
    if principal.role not in roles:
        raise Forbidden(f"your role may not {what}", code="role-forbidden")


def own_municipality(principal: Principal) -> str | None:
    """The one municipality a municipal methodologist is limited to; None for region-wide callers."""
    if principal.is_regional:
        return None
    if principal.role == Role.municipal_methodologist:
        return principal.municipality or "-"
    raise Forbidden("your role may not see municipal analytics", code="role-forbidden")


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


def upstream_reason(service: str, exc: BaseException) -> str:
    """Why an upstream call failed, without any personal data."""
    if isinstance(exc, UpstreamShapeError):
        return f"the {service} service answered in an unexpected shape"
    if isinstance(exc, UpstreamError):
        if exc.status == 404:
            return f"the {service} service does not offer this data (404)"
        if exc.status in (502, 503, 504):
            return f"the {service} service is unavailable"
        return f"the {service} service answered {exc.status}"
    return f"the {service} service is unavailable"


async def unknown_municipalities(request: Request, region: str, codes: list[str]) -> set[str]:
    """The codes that are not municipalities of the region in assessment's directory; 503 when the
    directory cannot be read (a write is refused rather than stored unchecked)."""
    directory: MunicipalityDirectory = request.app.state.municipalities
    try:
        return await directory.unknown(region, codes)
    except (UpstreamError, UpstreamShapeError) as e:
        raise UpstreamUnavailable(
            f"municipality codes cannot be checked: {upstream_reason('assessment', e)}", code="upstream-unavailable"
        ) from e
