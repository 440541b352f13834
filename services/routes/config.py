"""Settings of the routes service (env prefix ROUTES_)."""

from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings


class RoutesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTES_", extra="ignore")

    name: str = "routes"
    port: int = 8003
