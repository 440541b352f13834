"""Settings: common ones (no env prefix) and per-service ones (the service's own prefix)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"


class CommonSettings(BaseSettings):
    """Settings every process reads from the environment without a prefix."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    # The server every schema lives in; each service logs in with its own role (see kit.db).
    database_url: str | None = None

    jwt_secret: str = DEV_JWT_SECRET
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    jwt_issuer: str = "iom-platform"
    jwt_audience: str = "iom-api"
    # Tokens the gateway mints for API-key callers and services mint for each other live this long.
    internal_token_ttl_seconds: int = 300

    gateway_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 1_048_576

    @model_validator(mode="after")
    def _secrets_outside_development(self) -> CommonSettings:
        if self.environment == "production" and (self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32):
            raise ValueError("JWT_SECRET must be set to a strong value (32+ chars) in production")
        if any(a.lower() == "none" for a in self.jwt_algorithms):
            raise ValueError("JWT_ALGORITHMS must not contain 'none'")
        return self


class ServiceSettings(BaseSettings):
    """Settings of one service; subclasses set env_prefix (ASSESSMENT_, RESOURCES_, ...)."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

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
