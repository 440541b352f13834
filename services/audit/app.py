"""The audit service: route audit, monitoring of municipalities, KPIs and effectiveness of measures."""

from typing import Any

from fastapi import FastAPI

from kit.app import create_service_app
from kit.client import GatewayClient
from services.audit.api import audits, checklists, effectiveness, kpi, monitoring
from services.audit.clients import MunicipalityDirectory, Upstream
from services.audit.config import AuditSettings
from services.audit.hot_reads import hot_reads
from services.audit.outbox import RouteOutbox


async def start_delivery(app: FastAPI) -> None:
    """Make the gateway client and start the worker that tells the routes service about audits."""
    settings: AuditSettings = app.state.settings
    client = GatewayClient(app.state.common, caller="audit", timeout=settings.upstream_timeout_seconds)
    app.state.upstream = Upstream(client)
    app.state.municipalities = MunicipalityDirectory(app.state.upstream)
    app.state.outbox = RouteOutbox(app.state.sessionmaker, app.state.upstream, settings)
    app.state.outbox.start()


async def stop_delivery(app: FastAPI) -> None:
    await app.state.outbox.stop()
    await app.state.upstream.aclose()


def create_app(settings: AuditSettings | None = None) -> Any:
    settings = settings or AuditSettings()
    return create_service_app(
        settings=settings,
        title="IOM audit service",
        description="Route audit, monitoring of municipalities, checklists of municipal documents, KPIs and "
        "effectiveness of measures.",
        hot_reads=hot_reads(),
        routers=[audits.router, monitoring.router, checklists.router, kpi.router, effectiveness.router],
        on_startup=[start_delivery],
        on_shutdown=[stop_delivery],
        # Score uploads (CSV/XLSX/JSON) may exceed the ordinary JSON ceiling.
        body_limits={"/api/v1/monitoring/campaigns/": settings.max_upload_bytes},
    )
