"""The resources service: the resource map (courses, projects, events, mentors, communities), matching,
reservations, region-wide mentor assignment and coverage."""

from typing import Any

from fastapi import FastAPI

from kit.app import create_service_app
from kit.client import GatewayClient
from kit.settings import CommonSettings
from services.resources.api import active, assignments, matching, mentors, reservations, resource_map, resources
from services.resources.config import ResourcesSettings
from services.resources.hot_reads import hot_reads


def create_app(settings: ResourcesSettings | None = None) -> Any:
    settings = settings or ResourcesSettings()
    common = CommonSettings()

    async def start_client(app: FastAPI) -> None:
        app.state.gateway = GatewayClient(common, caller="resources", timeout=settings.upstream_timeout_seconds)

    async def stop_client(app: FastAPI) -> None:
        await app.state.gateway.aclose()

    return create_service_app(
        settings=settings,
        common=common,
        title="IOM resources service",
        description="The resource map: courses, projects, events, mentors, communities; matching, reservations, "
        "mentor assignment and coverage.",
        hot_reads=hot_reads(),
        routers=[
            resources.router,
            assignments.router,
            mentors.router,
            matching.router,
            reservations.router,
            resource_map.router,
            active.router,
        ],
        on_startup=[start_client],
        on_shutdown=[stop_client],
        body_limits={
            "/api/v1/resources/import": settings.import_max_bytes,
            "/api/v1/mentors/import": settings.import_max_bytes,
            "/api/v1/active/import": settings.import_max_bytes,
            "/api/v1/mentors/assignments": settings.batch_max_bytes,
            "/api/v1/matching/batch": settings.batch_max_bytes,
        },
    )
