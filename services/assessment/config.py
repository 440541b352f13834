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
