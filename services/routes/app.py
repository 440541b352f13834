"""The routes service: individual educational routes: generation, lifecycle, monthly exports."""

from typing import Any

from kit.app import create_service_app
from services.routes.config import RoutesSettings


def create_app(settings: RoutesSettings | None = None) -> Any:
    settings = settings or RoutesSettings()
    return create_service_app(
        settings=settings,
        title="IOM routes service",
        description="Individual educational routes: generation, lifecycle, monthly exports.",
        routers=[],
    )
