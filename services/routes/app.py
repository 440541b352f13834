"""The routes service: individual educational routes: generation, lifecycle, monthly exports."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import FastAPI

from kit.app import create_service_app
from kit.client import GatewayClient
from kit.hotread import operation_of
from services.routes.api import authoring as authoring_api
from services.routes.api import exports as exports_api
from services.routes.api import routes as routes_api
from services.routes.api import webhooks as webhooks_api
from services.routes.clients import ResourceMapClient
from services.routes.config import RoutesSettings
from services.routes.feed import FeedConsumer
from services.routes.reader import RouteRead, RouteReader
from services.routes.webhooks.worker import DeliveryWorker


def create_app(settings: RoutesSettings | None = None) -> Any:
    settings = settings or RoutesSettings()

    async def start(app: FastAPI) -> None:
        client = GatewayClient(app.state.common, caller="routes", timeout=60)
        app.state.gateway_client = client
        app.state.resource_map = ResourceMapClient(client, ttl=settings.match_cache_seconds)
        app.state.feed = FeedConsumer.of_service(app.state.sessionmaker, client, app.state.resource_map, settings)
        app.state.route_reader = RouteReader(app.state.read_pool, cache_bytes=settings.read_cache_mb * 1024 * 1024)
        app.state.feed_task = asyncio.create_task(app.state.feed.run()) if settings.feed_enabled else None
        app.state.webhooks = DeliveryWorker(app.state.sessionmaker, settings)
        if settings.webhooks_enabled:
            app.state.webhooks.start()

    async def stop(app: FastAPI) -> None:
        task = app.state.feed_task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.state.webhooks.stop()
        await app.state.gateway_client.aclose()

    return create_service_app(
        settings=settings,
        title="IOM routes service",
        description="Individual educational routes: generation from assessment results, lifecycle, monthly exports.",
        routers=[authoring_api.router, routes_api.router, exports_api.router, webhooks_api.router],
        on_startup=[start],
        on_shutdown=[stop],
        hot_reads=[RouteRead(operation_of(routes_api.router, routes_api.get_route))],
    )
