"""Bearer JWT verification, the verified principal, role and scope checks."""

from __future__ import annotations

import enum
import time
import uuid
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from kit.errors import Forbidden, Unauthorized
from kit.settings import CommonSettings


class Role(enum.StrEnum):
    teacher = "teacher"
    school_admin = "school_admin"
    municipal_methodologist = "municipal_methodologist"
    regional_specialist = "regional_specialist"
    admin = "admin"
    service = "service"


# The roles as people name them (messages say "Ваша роль «Учитель» не позволяет ...").
ROLE_LABELS: dict[Role, str] = {
    Role.teacher: "Учитель",
    Role.school_admin: "Администратор школы",
    Role.municipal_methodologist: "Методист муниципальной службы",
    Role.regional_specialist: "Специалист регионального центра",
    Role.admin: "Администратор",
    Role.service: "Сервис",
}

REGIONAL_ROLES = frozenset({Role.regional_specialist, Role.admin, Role.service})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Principal(BaseModel):
    """Who is calling and what part of the region they may see."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sub: str
    role: Role
    region: str | None = None
    municipality: str | None = None
    organisation: str | None = None
    teacher_id: str | None = None
    read_only: bool = False
    # An API key's scopes (the gateway checks them before proxying); None for people and services.
    scopes: tuple[str, ...] | None = None
    name: str | None = Field(default=None, description="Display label of the caller (never logged)")

    @property
    def is_regional(self) -> bool:
        return self.role in REGIONAL_ROLES

    def sees(
        self,
        *,
        region: str | None = None,
        municipality: str | None = None,
        organisation: str | None = None,
        teacher_id: str | None = None,
    ) -> bool:
        """Whether an object with these scope attributes is visible to this principal."""
        if self.region and region and self.region != region:
            return False
        if self.is_regional:
            return True
        if self.role == Role.municipal_methodologist:
            return self.municipality is not None and municipality == self.municipality
        if self.role == Role.school_admin:
            return self.organisation is not None and organisation == self.organisation
        if self.role == Role.teacher:
            return self.teacher_id is not None and teacher_id == self.teacher_id
        return False


class TokenCodec:
    """Encode and verify tokens: people's (and API keys') with JWT_SECRET for JWT_AUDIENCE, the
    services' own (role `service`) with INTERNAL_JWT_SECRET for INTERNAL_JWT_AUDIENCE.

    A token may carry the `service` role only when it is an internal one: a person's token, or a
    token the gateway minted for an API key, claiming it is refused (401).
    """

    def __init__(self, settings: CommonSettings) -> None:
        self.secret = settings.jwt_secret
        self.algorithms = list(settings.jwt_algorithms)
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.internal_secret = settings.internal_jwt_secret
        self.internal_audience = settings.internal_jwt_audience
        self.internal_ttl = settings.internal_token_ttl_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}

    def encode(self, principal: Principal, ttl_seconds: int = 3600) -> str:
        """Sign a token; a `service` principal's with the internal key and audience."""
        internal = principal.role == Role.service
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.internal_audience if internal else self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        claims.update(principal.model_dump(mode="json", exclude_none=True))
        return jwt.encode(claims, self.internal_secret if internal else self.secret, algorithm=self.algorithms[0])

    def _verify(self, token: str) -> tuple[dict[str, Any], bool]:
        """Verified claims and whether the token is an internal (service) one."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as e:
            raise Unauthorized(
                "Токен доступа недействителен", code="invalid-token", headers=_challenge("invalid_token")
            ) from e
        aud = unverified.get("aud") if isinstance(unverified, dict) else None
        internal = aud == self.internal_audience or (isinstance(aud, list) and self.internal_audience in aud)
        try:
            claims = jwt.decode(
                token,
                self.internal_secret if internal else self.secret,
                algorithms=self.algorithms,
                issuer=self.issuer,
                audience=self.internal_audience if internal else self.audience,
                options={"require": ["exp", "iss", "aud", "sub"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as e:
            raise Unauthorized(
                "Срок действия токена доступа истёк: войдите снова",
                code="token-expired",
                headers=_challenge("invalid_token"),
            ) from e
        except jwt.InvalidTokenError as e:
            raise Unauthorized(
                "Токен доступа недействителен", code="invalid-token", headers=_challenge("invalid_token")
            ) from e
        return claims, internal

    def decode(self, token: str) -> Principal:
        """Verify signature, algorithm, exp, iss and aud; return the principal or raise 401."""
        now = time.time()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        claims, internal = self._verify(token)
        fields = {k: claims[k] for k in Principal.model_fields if k in claims}
        try:
            principal = Principal(**fields)
        except ValueError as e:
            raise Unauthorized("Токен доступа содержит недопустимые сведения", code="invalid-token") from e
        if internal != (principal.role == Role.service):
            # The service role lives only in internal tokens, and internal tokens carry only it.
            raise Unauthorized(
                "Токен доступа содержит недопустимые сведения",
                code="invalid-token",
                headers=_challenge("invalid_token"),
            )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (float(claims["exp"]), principal)
        return principal


def _challenge(error: str | None = None) -> dict[str, str]:
    value = 'Bearer realm="iom"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized(
            "Войдите в систему: в запросе нет токена доступа", code="missing-token", headers=_challenge()
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Передайте токен доступа в заголовке Authorization по схеме Bearer",
            code="invalid-token",
            headers=_challenge(),
        )
    return token.strip()


async def current_principal(request: Request) -> Principal:
    """Verify the caller's token (never trusting network location) and refuse writes by read-only keys."""
    codec: TokenCodec = request.app.state.token_codec
    principal = codec.decode(bearer_token(request))
    if principal.read_only and request.method not in SAFE_METHODS:
        raise Forbidden("Эти учётные данные дают доступ только для чтения", code="read-only-credential")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role, action: str = "выполнять это действие") -> Any:
    """Dependency refusing (403) callers whose role is not listed; `action` (Russian, an infinitive phrase)
    completes "Ваша роль «<role>» не позволяет ...".

    Each service's auth.py names its permissions with it, for mypy as a plain Annotated alias:
    `Auditor = Annotated[Principal, require_roles(Role.regional_specialist, action="проводить аудит маршрутов")]`.
    """
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"Ваша роль «{ROLE_LABELS[principal.role]}» не позволяет {action}", code="role-forbidden")
        return principal

    check.allowed_roles = allowed  # type: ignore[attr-defined]  # read by kit.hotread (the same rule)
    return Depends(check)
