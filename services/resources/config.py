"""Settings of the resources service (env prefix RESOURCES_)."""

from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings


class ResourcesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESOURCES_", extra="ignore")

    name: str = "resources"
    port: int = 8002
