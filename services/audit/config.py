"""Settings of the audit service (env prefix AUDIT_)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings
from services.audit.procedure import DEFAULT_GROUP_RULES, GROUPS, GroupRules

MIN_SALT_LENGTH = 16


class AuditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")

    name: str = "audit"
    port: int = 8004
    # The deployment (ENVIRONMENT, without the prefix, as kit.settings.CommonSettings reads it).
    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=AliasChoices("environment", "ENVIRONMENT")
    )

    # Group rule of the route audit. Groups listed here need two auditors (or one auditor and a
    # named second check, when allowed); groups in `sample_shares` get a full review only for that
    # share of routes (chosen by a hash of the route id), the rest are closed on the self-check.
    # The defaults are the regulation's (procedure.DEFAULT_GROUP_RULES).
    double_review_groups: list[int] = Field(default_factory=lambda: sorted(DEFAULT_GROUP_RULES.double_review_groups))
    allow_named_second_check: bool = DEFAULT_GROUP_RULES.allow_named_second_check
    sample_shares: dict[int, float] = Field(default_factory=lambda: dict(DEFAULT_GROUP_RULES.sample_shares))
    # Who knows the salt can tell which routes are sampled out (closed on the teacher's self-check): outside
    # development it comes from a secret (AUDIT_SAMPLE_SALT); the public default is refused there.
    sample_salt: str = DEFAULT_GROUP_RULES.sample_salt

    # Delivery of "route audited" to the routes service (transactional outbox).
    outbox_poll_seconds: float = 2.0
    outbox_backoff_base_seconds: float = 1.0
    outbox_backoff_max_seconds: float = 60.0
    outbox_batch: int = 50
    outbox_lease_seconds: float = 30.0

    # Monitoring uploads (JSON, CSV, XLSX); the gateway lets large bodies through to /scores.
    max_upload_bytes: int = 10 * 1024 * 1024
    max_xlsx_uncompressed_bytes: int = 100 * 1024 * 1024
    monitoring_max_rows: int = 10_000
    # Reading an upload's table (in a worker thread) stops after this long: 413 too-slow-to-read.
    upload_read_seconds: float = 30.0

    # Analytics.
    kpi_basic_target_percent: float = 60.0
    effectiveness_min_group: int = 10
    upstream_timeout_seconds: float = 30.0

    @field_validator("double_review_groups")
    @classmethod
    def _groups(cls, v: list[int]) -> list[int]:
        if any(g not in GROUPS for g in v):
            raise ValueError("groups are 1..4")
        return v

    @field_validator("sample_shares")
    @classmethod
    def _shares(cls, v: dict[int, float]) -> dict[int, float]:
        for g, share in v.items():
            if g not in GROUPS or not 0.0 <= share <= 1.0:
                raise ValueError("sample shares map a group 1..4 to a share 0..1")
        return v

    @model_validator(mode="after")
    def _secret_salt_outside_development(self) -> AuditSettings:
        if self.environment != "development" and (
            self.sample_salt == DEFAULT_GROUP_RULES.sample_salt or len(self.sample_salt) < MIN_SALT_LENGTH
        ):
            raise ValueError(
                f"AUDIT_SAMPLE_SALT must be set to a secret value ({MIN_SALT_LENGTH}+ chars) outside development"
            )
        return self

    def group_rules(self) -> GroupRules:
        """The group rule of the route audit as configured."""
        return GroupRules(
            double_review_groups=frozenset(self.double_review_groups),
            allow_named_second_check=self.allow_named_second_check,
            sample_shares=dict(self.sample_shares),
            sample_salt=self.sample_salt,
        )
