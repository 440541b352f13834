"""Settings of the routes service (env prefix ROUTES_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings


class RoutesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTES_", extra="ignore")

    name: str = "routes"
    port: int = 8003
    # The assessment change feed is polled by a background task; routes are generated from it.
    feed_enabled: bool = True
    feed_poll_seconds: float = 5.0
    feed_batch: int = 500
    # Results assessed longer ago than this (history loaded for dynamics) get no route.
    max_result_age_days: int = 365
    # Matching answers are reused this long across feed pages (a new catalogue entry shows up after it).
    match_cache_seconds: float = 60.0
    # Monthly exports are written here (one folder per month) and listed/downloaded via the API.
    export_dir: str = "exports"
    # Monthly export files (and their records) are deleted this long after they were written (152-FZ:
    # they name teachers); `python -m services.routes retention` does it, e.g. daily from a CronJob.
    export_retention_days: int = Field(default=365, ge=1)
    # Stored answers of idempotent requests are deleted by the same command this long after they were made.
    idempotency_retention_days: int = Field(default=30, ge=1)
