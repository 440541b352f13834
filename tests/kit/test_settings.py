"""Settings refuse unsafe production configuration."""

import pytest
from pydantic import ValidationError

from kit.settings import DEV_JWT_SECRET, CommonSettings

pytestmark = pytest.mark.no_db


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError):
        CommonSettings(environment="production", jwt_secret=DEV_JWT_SECRET)


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError):
        CommonSettings(environment="production", jwt_secret="short")


def test_alg_none_can_never_be_configured() -> None:
    with pytest.raises(ValidationError):
        CommonSettings(jwt_algorithms=["HS256", "none"])


def test_production_accepts_a_strong_secret() -> None:
    s = CommonSettings(environment="production", jwt_secret="x" * 48)
    assert s.environment == "production"
