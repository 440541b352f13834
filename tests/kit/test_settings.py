"""Settings refuse unsafe production configuration: known, placeholder or short secrets, `_dev` passwords."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config import GatewaySettings
from kit.settings import DEV_INTERNAL_JWT_SECRET, DEV_JWT_SECRET, CommonSettings, secret_problem

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
STRONG = "Qm7vT2kX9pLw4ZsB8nRc1YhD6fJa3UeG"
STRONG_INTERNAL = "Zr5cN8wQ2mTy7KpV4bXh9LdS1gFj6AuE"
STRONG_DB = "d8Kq2Vn5Rw9Tz3Lm"


def production(*, jwt_secret: str = STRONG, internal_jwt_secret: str = STRONG_INTERNAL) -> CommonSettings:
    return CommonSettings(environment="production", jwt_secret=jwt_secret, internal_jwt_secret=internal_jwt_secret)


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        production(jwt_secret=DEV_JWT_SECRET)


def test_production_refuses_the_development_internal_secret() -> None:
    with pytest.raises(ValidationError, match="INTERNAL_JWT_SECRET"):
        production(internal_jwt_secret=DEV_INTERNAL_JWT_SECRET)


def test_production_refuses_the_internal_secret_left_at_its_default() -> None:
    with pytest.raises(ValidationError, match="INTERNAL_JWT_SECRET"):
        CommonSettings(environment="production", jwt_secret=STRONG)


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("short", id="short"),
        pytest.param("x" * 48, id="repetitive"),
        pytest.param("please-change-me-0123456789abcdefghijklmnop", id="placeholder"),
        pytest.param("compose-dev-jwt-secret-change-me-0123456789abcdef", id="compose-default"),
        pytest.param("REPLACE_WITH_A_RANDOM_VALUE_0123456789abcdef", id="replace-me"),
    ],
)
def test_production_refuses_a_weak_secret(secret: str) -> None:
    with pytest.raises(ValidationError):
        production(jwt_secret=secret)


def test_production_refuses_one_secret_for_people_and_services() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        production(internal_jwt_secret=STRONG)


def test_alg_none_can_never_be_configured() -> None:
    with pytest.raises(ValidationError):
        CommonSettings(jwt_algorithms=["HS256", "none"])


def test_production_accepts_strong_secrets() -> None:
    assert production().environment == "production"


def test_development_keeps_its_defaults() -> None:
    s = CommonSettings(environment="development")
    assert s.jwt_secret == DEV_JWT_SECRET and s.internal_jwt_secret == DEV_INTERNAL_JWT_SECRET


@pytest.mark.parametrize("password", [None, "iom_gateway_dev", "short", "change-me-please-0123"])
def test_production_refuses_a_missing_or_dev_role_password(password: str | None) -> None:
    with pytest.raises(ValidationError, match="GATEWAY_DB_PASSWORD"):
        GatewaySettings(environment="production", db_password=password)


def test_production_refuses_a_dev_password_inside_the_role_url() -> None:
    with pytest.raises(ValidationError, match="GATEWAY_DATABASE_URL"):
        GatewaySettings(environment="production", database_url="postgresql://iom_gateway:iom_gateway_dev@db/iom")


def test_production_accepts_a_strong_role_password() -> None:
    assert GatewaySettings(environment="production", db_password=STRONG_DB).role_password() == STRONG_DB


def test_a_known_secret_is_named_as_such() -> None:
    assert secret_problem(DEV_JWT_SECRET) == "is a value published with the code"
    assert secret_problem(STRONG) is None


@pytest.mark.parametrize("module", ["gateway", "services.assessment"])
def test_a_process_refuses_to_start_in_production_with_shipped_secrets(module: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("JWT_SECRET", "DB_PASSWORD"))}
    env.update({"ENVIRONMENT": "production", "PYTHONPATH": str(ROOT), "DATABASE_URL": "postgresql://u@127.0.0.1:1/x"})
    out = subprocess.run(
        [sys.executable, "-m", module, "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    assert "DB_PASSWORD is not set" in out.stderr
    env.update({"GATEWAY_DB_PASSWORD": STRONG_DB, "ASSESSMENT_DB_PASSWORD": STRONG_DB})
    out = subprocess.run(
        [sys.executable, "-m", module, "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    assert "JWT_SECRET is a value published with the code" in out.stderr
