"""Settings: common ones (no env prefix) and per-service ones (the service's own prefix)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
DEV_INTERNAL_JWT_SECRET = "dev-only-internal-secret-change-me-0123456789"
MIN_SECRET_LENGTH = 32
# Secrets that ship in this repository (defaults, compose fallbacks, examples): never good outside development.
KNOWN_SECRETS = frozenset(
    {
        DEV_JWT_SECRET,
        DEV_INTERNAL_JWT_SECRET,
        "compose-dev-jwt-secret-change-me-0123456789abcdef",
        "test-secret-0123456789abcdef0123456789abcdef",
        "test-internal-secret-0123456789abcdef0123456789",
    }
)
# Words of a value someone meant to replace.
PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "placeholder", "replace", "example", "dev-only", "todo")


def secret_problem(value: str | None, *, min_length: int = MIN_SECRET_LENGTH) -> str | None:
    """Why a secret is unfit for a deployment (known, placeholder, short, repetitive), or None."""
    if not value:
        return "is not set"
    low = value.lower()
    if value in KNOWN_SECRETS:
        return "is a value published with the code"
    if any(word in low for word in PLACEHOLDER_WORDS) or low.endswith("_dev"):
        return "is a placeholder"
    if len(value) < min_length:
        return f"is shorter than {min_length} characters"
    if len(set(value)) < 8:
        return "repeats too few characters"
    return None


class CommonSettings(BaseSettings):
    """Settings every process reads from the environment without a prefix."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    # The server every schema lives in; each service logs in with its own role (see kit.db).
    database_url: str | None = None

    # People's tokens (and those the gateway mints for API keys): held by whoever issues them.
    jwt_secret: str = DEV_JWT_SECRET
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    jwt_issuer: str = "iom-platform"
    jwt_audience: str = "iom-api"
    # The services' own identity (role `service`): only the services and the gateway hold this key,
    # and only tokens signed with it for this audience may carry that role.
    internal_jwt_secret: str = DEV_INTERNAL_JWT_SECRET
    internal_jwt_audience: str = "iom-internal"
    # Tokens the gateway mints for API-key callers and services mint for each other live this long.
    internal_token_ttl_seconds: int = 300

    gateway_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 1_048_576

    @model_validator(mode="after")
    def _secrets_outside_development(self) -> CommonSettings:
        if any(a.lower() == "none" for a in self.jwt_algorithms):
            raise ValueError("JWT_ALGORITHMS must not contain 'none'")
        if self.internal_jwt_audience == self.jwt_audience:
            raise ValueError("INTERNAL_JWT_AUDIENCE must differ from JWT_AUDIENCE")
        if self.environment != "production":
            return self
        for name, value in (("JWT_SECRET", self.jwt_secret), ("INTERNAL_JWT_SECRET", self.internal_jwt_secret)):
            problem = secret_problem(value)
            if problem:
                raise ValueError(f"{name} {problem}: set a strong random value ({MIN_SECRET_LENGTH}+ chars)")
        if self.internal_jwt_secret == self.jwt_secret:
            raise ValueError("INTERNAL_JWT_SECRET must differ from JWT_SECRET in production")
        return self


class ServiceSettings(BaseSettings):
    """Settings of one service; subclasses set env_prefix (ASSESSMENT_, RESOURCES_, ...)."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    # Read without the service's prefix (ENVIRONMENT), like CommonSettings: the password rule needs it.
    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=AliasChoices("environment")
    )
    name: str = "service"
    host: str = "127.0.0.1"
    port: int = 8001
    # Full URL for this service's role; when absent it is derived from DATABASE_URL.
    database_url: str | None = None
    db_password: str | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10
    max_body_bytes: int | None = None

    @property
    def db_schema(self) -> str:
        return self.name

    @property
    def db_role(self) -> str:
        return f"iom_{self.name}"

    def role_password(self) -> str:
        return self.db_password or f"{self.db_role}_dev"

    @model_validator(mode="after")
    def _password_outside_development(self) -> ServiceSettings:
        if self.environment != "production":
            return self
        env = f"{self.name.upper()}_DB_PASSWORD"
        if self.database_url:
            env = f"{self.name.upper()}_DATABASE_URL's password"
            password = urlsplit(self.database_url).password
        else:
            password = self.db_password
        problem = secret_problem(password, min_length=16)
        if problem:
            raise ValueError(f"{env} {problem}: set the role's own strong password in production")
        return self
