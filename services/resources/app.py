"""The resources service: the resource map (courses, projects, events, mentors, communities), matching."""

from typing import Any

from kit.app import create_service_app
from services.resources.config import ResourcesSettings


def create_app(settings: ResourcesSettings | None = None) -> Any:
    settings = settings or ResourcesSettings()
    return create_service_app(
        settings=settings,
        title="IOM resources service",
        description="The resource map: courses, projects, events, mentors, communities; matching and reservations.",
        routers=[],
    )
