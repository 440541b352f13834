"""Settings of the resources service (env prefix RESOURCES_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings


class ResourcesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESOURCES_", extra="ignore")

    name: str = "resources"
    port: int = 8002
    # Catalogue imports (CSV / XLSX / JSON): body ceiling, rows, and the XLSX zip-bomb guard.
    import_max_bytes: int = 20 * 1024 * 1024
    import_max_rows: int = 20_000
    import_max_unpacked_bytes: int = 100 * 1024 * 1024
    import_max_zip_ratio: float = 100.0
    # Reading an upload's table (in a worker thread) stops after this long: 413 too-slow-to-read.
    upload_read_seconds: float = 30.0
    # Bodies of matching batches and region-wide assignments.
    batch_max_bytes: int = 16 * 1024 * 1024
    # Active reservations (seats and mentor slots) one teacher may hold at once; reaching it answers 409.
    max_active_reservations_per_teacher: int = Field(default=20, ge=1)
    # Coverage asks the assessment service for demand; this long at most.
    upstream_timeout_seconds: float = 10.0
