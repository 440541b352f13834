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
    # The feed is read in this many partitions (a teacher's changes all in one), each with its own cursor,
    # leased by one replica at a time (services.routes.feed, table feed_partitions); 1: one consumer of the
    # whole feed under the generation lock, as before.
    feed_partitions: int = Field(default=1, ge=1, le=1024)
    # How many partitions one replica works on at once. Two keep its one core busy (one builds a page while
    # the other waits for the feed, the resource map or PostgreSQL); more only hold more pages in memory and
    # contend for the same core (benchmarks/country.py, 50,000 teachers: 4 gave 1,432 routes/s at a 617-653 MB
    # peak, 2 gave 1,548/s at 424 MB).
    feed_partition_workers: int = Field(default=2, ge=1, le=64)
    # A partition's lease lasts this long unless renewed (a third of it): a killed replica's partitions are
    # taken over by another once it runs out.
    feed_lease_seconds: float = Field(default=30.0, gt=0)
    # Who holds a lease (empty: host name, process id and a random part).
    feed_replica: str = ""
    # Results assessed longer ago than this (history loaded for dynamics) get no route.
    max_result_age_days: int = 365
    # GET /routes/{id} keeps the last version read of each route (its content as JSON text and its self-check)
    # within this many megabytes per process (services.routes.reader.ReadCache); 0 keeps none.
    read_cache_mb: int = Field(default=64, ge=0, le=16384)
    # Matching answers are reused this long across feed pages (a new catalogue entry shows up after it).
    match_cache_seconds: float = 60.0
    # Monthly exports are written here (one folder per month) and listed/downloaded via the API.
    export_dir: str = "exports"
    # Monthly export files (and their records) are deleted this long after they were written (152-FZ:
    # they name teachers); `python -m services.routes retention` does it (daily: deploy/k8s/retention-cronjob.yaml).
    export_retention_days: int = Field(default=365, ge=1)
    # Stored answers of idempotent requests are deleted by the same command this long after they were made.
    idempotency_retention_days: int = Field(default=30, ge=1)
    # Signed webhooks (services.routes.webhooks): a worker fans events out and delivers them.
    webhooks_enabled: bool = True
    # Deliveries to loopback, private, link-local, multicast or reserved addresses are refused unless this is
    # true (only for a receiver on the same machine or network, e.g. in tests).
    webhooks_allow_private: bool = False
    webhooks_poll_seconds: float = Field(default=1.0, gt=0)
    webhooks_timeout_seconds: float = Field(default=10.0, gt=0)
    webhooks_batch: int = Field(default=50, ge=1, le=1000)
    webhooks_concurrency: int = Field(default=8, ge=1, le=100)
    # Retries: exponential backoff from the base, capped, with jitter; a delivery fails after max attempts.
    webhooks_backoff_base_seconds: float = Field(default=5.0, gt=0)
    webhooks_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    webhooks_max_attempts: int = Field(default=15, ge=1)
    # A subscription is disabled after this many failed attempts in a row (any success resets the run).
    webhooks_disable_after_failures: int = Field(default=50, ge=1)
    # `route.control_point_due` is sent this many days before a running route's next control point.
    webhooks_control_point_days: int = Field(default=3, ge=0)
    webhooks_control_check_seconds: float = Field(default=600.0, gt=0)
