"""Settings of the audit service (env prefix AUDIT_)."""

from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")

    name: str = "audit"
    port: int = 8004
