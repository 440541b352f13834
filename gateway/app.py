"""The gateway: one entry for the whole API (auth, routing, merged OpenAPI, health)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from gateway.apikeys import ApiKeyResolver
from gateway.config import GatewaySettings
from gateway.openapi import merge_specs
from gateway.proxy import API_PREFIX, Proxy
from gateway.ratelimits import RateLimits
from gateway.scopes import scope_table
from kit.app import service_database_url, tune_gc
from kit.auth import TokenCodec
from kit.db import make_engine, ping
from kit.errors import install_error_handlers, problem_response
from kit.logging import configure_logging
from kit.middleware import Metrics, RequestContextMiddleware, route_template
from kit.settings import CommonSettings

log = logging.getLogger("gateway")

API_DESCRIPTION = """\
The whole API of the IOM platform (individual educational routes for teachers), served by one
gateway in front of four services: assessment, resources, routes and audit.

Authenticate with `Authorization: Bearer <JWT>` (people; `python -m gateway token`) or
`X-API-Key: <key>` (machine clients; `python -m gateway apikey issue --scope ...`). An API key
calls only the operations whose scope it holds (each operation's `apiKeyAuth` requirement names
it; 403 `insufficient-scope` otherwise). Requests are rate limited per client IP, per person or
key, and per expensive operation (429 with `Retry-After`). Every error is
`application/problem+json` (RFC 9457) with a `request_id`.
"""


class Gateway:
    """ASGI app: /api/v1/* is proxied; docs, OpenAPI and health are served here."""

    def __init__(self, settings: GatewaySettings, common: CommonSettings) -> None:
        self.settings = settings
        self.common = common
        self.codec = TokenCodec(common)
        self.engine: Any = None
        self.proxy = Proxy(
            routes=settings.routes,
            upstreams=settings.upstreams(),
            codec=self.codec,
            resolver=None,
            connect_timeout=settings.connect_timeout_seconds,
            read_timeout=settings.upstream_timeout_seconds,
            connections=settings.upstream_connections,
            upload_read_timeout=settings.upload_timeout_seconds,
            is_upload=settings.is_upload,
            scopes=scope_table(),
            trusted_proxies=settings.trusted_proxies,
        )
        self._openapi: tuple[float, dict[str, Any]] | None = None
        self._service_specs: dict[str, dict[str, Any]] = {}
        self.local = self._local_app()

    async def startup(self) -> None:
        db_url = service_database_url(self.common, self.settings)
        self.engine = make_engine(
            db_url,
            pool_size=self.settings.db_pool_size,
            max_overflow=self.settings.db_max_overflow,
            application_name="gateway",
        )
        self.proxy.resolver = ApiKeyResolver(self.engine, self.settings.api_key_cache_seconds)
        s = self.settings
        self.proxy.limits = RateLimits(
            storage=s.rate_limit_storage,
            per_ip=s.rate_limit_per_ip,
            per_principal=s.rate_limit_per_principal,
            failed_auth_per_ip=s.rate_limit_failed_auth_per_ip,
            operations=s.rate_limit_operations,
            uploads=s.rate_limit_uploads,
        )
        await self.proxy.start()
        tune_gc()

    async def shutdown(self) -> None:
        await self.proxy.stop()
        if self.engine is not None:
            await self.engine.dispose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await self.proxy(scope, receive, send)
        else:
            await self.local(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as e:
                    log.exception("gateway start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def service_specs(self) -> dict[str, dict[str, Any]]:
        """Fetch each service's OpenAPI; keep the last good copy when one is down."""
        assert self.proxy.session is not None

        async def fetch(name: str, base: str) -> tuple[str, dict[str, Any] | None]:
            try:
                async with self.proxy.session.get(  # type: ignore[union-attr]
                    base + "/openapi.json", timeout=aiohttp.ClientTimeout(total=5)
                ) as r:
                    if r.status == 200:
                        return name, await r.json()
            except (aiohttp.ClientError, TimeoutError):
                pass
            return name, None

        results = await asyncio.gather(*(fetch(n, b) for n, b in self.settings.upstreams().items()))
        for name, spec in results:
            if spec is not None:
                self._service_specs[name] = spec
        return {n: self._service_specs[n] for n in self.settings.upstreams() if n in self._service_specs}

    async def openapi(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._openapi and self._openapi[0] > now:
            return self._openapi[1]
        specs = await self.service_specs()
        merged = merge_specs(
            specs, title="IOM platform API", version="1.0.0", description=API_DESCRIPTION, scopes=scope_table()
        )
        missing = [n for n in self.settings.upstreams() if n not in specs]
        if missing:
            merged["info"]["x-unavailable-services"] = missing
        else:
            self._openapi = (now + self.settings.openapi_cache_seconds, merged)
        return merged

    def _local_app(self) -> FastAPI:
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        install_error_handlers(app)
        gw = self

        @app.get("/openapi.json", include_in_schema=False)
        async def openapi() -> JSONResponse:
            return JSONResponse(await gw.openapi())

        @app.get("/docs", include_in_schema=False)
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="IOM platform API")

        @app.get("/livez", include_in_schema=False)
        async def livez() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/readyz", include_in_schema=False)
        async def readyz() -> Response:
            return await gw.readiness()

        @app.get("/metrics", include_in_schema=False)
        async def metrics(request: Request) -> Response:
            return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)

        return app

    async def readiness(self) -> Response:
        assert self.proxy.session is not None

        async def check(name: str, base: str) -> tuple[str, str]:
            try:
                async with self.proxy.session.get(  # type: ignore[union-attr]
                    base + "/readyz", timeout=aiohttp.ClientTimeout(total=2)
                ) as r:
                    return name, "ok" if r.status == 200 else f"not ready ({r.status})"
            except (aiohttp.ClientError, TimeoutError):
                return name, "unreachable"

        async def db() -> tuple[str, str]:
            try:
                await asyncio.wait_for(ping(self.engine), 2)
                return "database", "ok"
            except Exception:
                return "database", "unreachable"

        results = dict(await asyncio.gather(db(), *(check(n, b) for n, b in self.settings.upstreams().items())))
        if all(v == "ok" for v in results.values()):
            return JSONResponse({"status": "ok", "checks": results})
        return problem_response(
            503, code="not-ready", detail="Часть служб ещё не готова к работе", extra={"checks": results}
        )

    metrics: Metrics


def _label(scope: Scope) -> str:
    label = scope.get("iom.route_label")
    return label if isinstance(label, str) else route_template(scope)


def create_app(settings: GatewaySettings | None = None, common: CommonSettings | None = None) -> Any:
    settings = settings or GatewaySettings()
    common = common or CommonSettings()
    configure_logging("gateway", common.log_level, common.log_format)
    gw = Gateway(settings, common)
    gw.metrics = Metrics()
    default_limit = settings.max_body_bytes or common.max_body_bytes

    def limit_for(path: str) -> int:
        # Uploads stream through to the service, which applies its own tighter limit.
        return settings.upload_max_body_bytes if settings.is_upload(path) else default_limit

    return RequestContextMiddleware(gw, metrics=gw.metrics, limit_for=limit_for, template_of=_label)
