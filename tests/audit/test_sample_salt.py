"""The audit sample salt is a secret outside development (issue 12, point 6).

Whoever knows the salt can tell which routes of groups 3 and 4 are sampled out and closed on the
teacher's own self-check; the public default would let anyone compute it. Outside development the
audit process refuses to start with it; in development the default stays."""

from __future__ import annotations

import subprocess
from typing import Literal

import pytest
from pydantic import ValidationError

from deploy import stack
from services.audit.config import AuditSettings
from services.audit.procedure import DEFAULT_GROUP_RULES
from tests.harness import Stack, free_port

AUDIT = next(p for p in stack.ALL if p.name == "audit")
ROLE_PASSWORD = "Zq8-long-role-password-x7"  # production also asks for the role's own password


def audit_env(live: Stack, **changes: str | None) -> dict[str, str]:
    """The stack's environment for one more audit process on its own port, with `changes` (None removes)."""
    env = {**live.env, f"{AUDIT.env_prefix}PORT": str(free_port())}
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


class TestTheProcessRefusesThePublicSalt:
    def test_outside_development_the_audit_does_not_start_with_the_public_salt(
        self, live: Stack, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        logs = tmp_path_factory.mktemp("salt-refused")
        proc = stack.spawn(AUDIT, audit_env(live, ENVIRONMENT="test", AUDIT_SAMPLE_SALT=None), logs)
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            stack.terminate([proc])
            raise AssertionError("the audit process started with the public sample salt") from None
        assert code != 0
        assert "AUDIT_SAMPLE_SALT" in (logs / "audit.log").read_text(errors="replace")

    def test_in_development_the_default_salt_still_starts(
        self, live: Stack, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        env = audit_env(live, ENVIRONMENT="development", AUDIT_SAMPLE_SALT=None)
        proc = stack.spawn(AUDIT, env, tmp_path_factory.mktemp("salt-dev"))
        try:
            stack.wait_ready(f"http://127.0.0.1:{env[f'{AUDIT.env_prefix}PORT']}", procs=[proc])
        finally:
            stack.terminate([proc])


@pytest.mark.no_db
class TestSaltSetting:
    @pytest.mark.parametrize("environment", ["test", "production"])
    def test_public_default_is_refused_outside_development(self, environment: Literal["test", "production"]) -> None:
        with pytest.raises(ValidationError, match="AUDIT_SAMPLE_SALT"):
            AuditSettings(environment=environment, db_password=ROLE_PASSWORD)

    def test_a_short_salt_is_refused_outside_development(self) -> None:
        with pytest.raises(ValidationError, match="AUDIT_SAMPLE_SALT"):
            AuditSettings(environment="production", sample_salt="short", db_password=ROLE_PASSWORD)

    def test_a_secret_salt_is_used_by_the_group_rule(self) -> None:
        salt = "k3J9-region-audit-salt-from-secret"
        s = AuditSettings(environment="test", sample_salt=salt)
        assert s.group_rules().sample_salt == salt

    def test_development_keeps_the_default(self) -> None:
        assert AuditSettings(environment="development").sample_salt == DEFAULT_GROUP_RULES.sample_salt
