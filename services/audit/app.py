"""The audit service: route audit, monitoring of municipalities, KPIs and effectiveness of measures."""

from typing import Any

from kit.app import create_service_app
from services.audit.config import AuditSettings


def create_app(settings: AuditSettings | None = None) -> Any:
    settings = settings or AuditSettings()
    return create_service_app(
        settings=settings,
        title="IOM audit service",
        description="Route audit, monitoring of municipalities, KPIs and effectiveness of measures.",
        routers=[],
    )
