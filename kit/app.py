"""Build a service's FastAPI app the same way everywhere: errors, auth, health, metrics, OpenAPI."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kit.auth import TokenCodec
from kit.db import make_engine, make_read_pool, make_sessionmaker, ping, role_url
from kit.errors import Problem, install_error_handlers, problem_response, status_title
from kit.hotread import FastLane, HotRead
from kit.logging import configure_logging
from kit.middleware import Metrics, RequestContextMiddleware, prefix_limits
from kit.settings import CommonSettings, ServiceSettings

log = logging.getLogger("kit.app")

Hook = Callable[[FastAPI], Awaitable[None]]


# CPython collects cycles every 700 container allocations, and each older-generation pass walks every
# object alive: in a server that is the imported modules and, in the routes feed, megabytes of pages in
# flight (about half of its CPU went to the collector). Reference counting frees almost everything here;
# cycles are collected after 200,000 allocations, and what start-up made is frozen out of every pass.
GC_THRESHOLDS = (200_000, 20, 20)


def tune_gc() -> None:
    """Call once start-up is done (a process-wide setting: every service and the gateway use it)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def operation_id(route: APIRoute) -> str:
    """Stable operationId: `<tag>-<function name>`, e.g. `teachers-list_teachers`."""
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag}-{route.name}"


def service_database_url(common: CommonSettings, svc: ServiceSettings) -> str:
    if svc.database_url:
        return svc.database_url
    if not common.database_url:
        raise RuntimeError("DATABASE_URL (or the service's own <NAME>_DATABASE_URL) must be set; `make run` sets it")
    return role_url(common.database_url, svc.db_role, svc.role_password())


def health_router(check: Callable[[Request], Awaitable[dict[str, Any]]]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/livez", summary="Liveness: the process answers (checks nothing external)")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: dependencies answer",
        responses={503: {"description": "Not ready", "content": {"application/problem+json": {}}}},
    )
    async def readyz(request: Request) -> Response:
        try:
            detail = await check(request)
        except Exception as e:  # any failure means not ready
            log.warning("not ready", extra={"reason": type(e).__name__})
            return problem_response(
                503, code="not-ready", detail="Сервис ещё не готов: недоступна база данных или другой сервис"
            )
        return JSONResponse({"status": "ok", **detail})

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        m: Metrics = request.app.state.metrics
        return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    common: CommonSettings | None = None,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    body_limits: dict[str, int] | None = None,
    version: str = "1.0.0",
    hot_reads: Sequence[HotRead] = (),
) -> Any:
    """Return the service as an ASGI app (middleware-wrapped); the FastAPI app is `.app` (`.app.app`
    behind the fast lane).

    `hot_reads` (kit.hotread) are answered by a `FastLane` inside the request context (request id,
    metrics, access log) on a plain asyncpg pool, `app.state.read_pool` (opened before `on_startup`);
    whatever the lane does not answer goes to the documented FastAPI endpoint."""
    common = common or CommonSettings()
    configure_logging(settings.name, common.log_level, common.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            service_database_url(common, settings),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            application_name=settings.name,
        )
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        if hot_reads:
            app.state.read_pool = await make_read_pool(
                service_database_url(common, settings), size=settings.db_pool_size, application_name=settings.name
            )
        for hook in on_startup:
            await hook(app)
        tune_gc()
        try:
            yield
        finally:
            for hook in on_shutdown:
                await hook(app)
            if hot_reads:
                await app.state.read_pool.close()
            await engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        separate_input_output_schemas=False,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.common = common
    app.state.token_codec = TokenCodec(common)
    app.state.metrics = Metrics()
    install_error_handlers(app)

    async def db_ready(request: Request) -> dict[str, Any]:
        engine: AsyncEngine = request.app.state.engine
        await ping(engine)
        return {"database": "ok"}

    app.include_router(health_router(db_ready))
    for r in routers:
        app.include_router(r)
    add_problem_schema(app)
    return RequestContextMiddleware(
        FastLane(app, hot_reads) if hot_reads else app,
        metrics=app.state.metrics,
        limit_for=prefix_limits(settings.max_body_bytes or common.max_body_bytes, body_limits),
    )


def add_problem_schema(app: FastAPI) -> None:
    """Make the Problem schema and bearer security part of the app's OpenAPI document."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = original()
        comps = spec.setdefault("components", {})
        schemas = comps.setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in problem.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas["Problem"] = problem
        # FastAPI's default 422 refers to HTTPValidationError; ours is problem+json.
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        for path_item in spec.get("paths", {}).values():
            for op in path_item.values():
                if not isinstance(op, dict):
                    continue
                responses = op.setdefault("responses", {})
                if "health" not in op.get("tags", []):
                    op.setdefault("security", [{"bearerAuth": []}])
                    for code in ("401", "403"):
                        responses.setdefault(code, {"description": status_title(int(code))})
                # Statuses any such operation can answer, declared once here rather than per route:
                # an id out of scope or unknown is 404; a body that is not valid JSON at all is 400.
                if any(p.get("in") == "path" for p in op.get("parameters", [])):
                    responses.setdefault("404", {"description": status_title(404)})
                if "requestBody" in op:
                    responses.setdefault("400", {"description": status_title(400)})
                if "422" in responses:
                    responses["422"] = {
                        "description": status_title(422),
                        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                    }
                for code, resp in responses.items():
                    if code.startswith(("4", "5")) and not resp.get("content"):
                        resp["content"] = {
                            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                        }
                    elif code.startswith(("4", "5")):
                        for media in resp["content"].values():
                            media.setdefault("schema", {"$ref": "#/components/schemas/Problem"})
        comps.setdefault("securitySchemes", {})["bearerAuth"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
        }
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
