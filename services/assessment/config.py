"""Settings of the assessment service (env prefix ASSESSMENT_)."""

from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings


class AssessmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSESSMENT_", extra="ignore")

    name: str = "assessment"
    port: int = 8001
    # Bulk uploads (results, registry) may be larger than ordinary JSON bodies.
    max_upload_bytes: int = 200 * 1024 * 1024
    bulk_max_rows: int = 5000
    # Results intake: JSON batches are parsed whole, so they get a tighter ceiling than CSV/XLSX.
    results_json_max_bytes: int = 16 * 1024 * 1024
    results_json_max_rows: int = 50_000
    # Bad rows reported in one answer (the count of all rejected rows is always given).
    results_max_reported_errors: int = 10_000
    # XLSX zip-bomb guards, checked on the archive's directory before anything is unpacked.
    xlsx_max_uncompressed_bytes: int = 1024 * 1024 * 1024
    xlsx_max_ratio: float = 200.0
    # Reading and checking an XLSX's rows (in a worker thread) stops after this long: 413 too-slow-to-read.
    upload_read_seconds: float = 600.0
    # Where uploads are spooled (None: the system's temporary directory).
    upload_dir: str | None = None
