"""One pure-ASGI middleware: request id, body size limit, metrics and access log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.errors import problem_body
from kit.jsonutil import dumps
from kit.logging import route_template as route_template  # where the gateway imports it from
from kit.requestid import REQUEST_ID_HEADER, accept_or_make, reset_request_id, set_request_id
from kit.russian import size

access_log = logging.getLogger("access")
DRAIN_CAP = 32 * 1024 * 1024


class Metrics:
    """Prometheus metrics of one process, labelled by route template (never raw paths)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        # The labelled children of each (method, route, status) seen: `labels()` takes a lock and builds a
        # key on every call; a request's metrics are then one dict look-up (bounded: cleared past MAX_SERIES).
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.fast_reads = Counter(
            "http_fast_reads_total", "Reads answered by the fast lane (kit.hotread)", ["route"], registry=self.registry
        )


MAX_SERIES = 10_000


def _record(metrics: Metrics, method: str, template: str, status: int, elapsed: float) -> None:
    key = (method, template, status)
    series = metrics._series.get(key)
    if series is None:
        if len(metrics._series) > MAX_SERIES:
            metrics._series.clear()
        series = metrics.requests.labels(method, template, str(status)), metrics.latency.labels(method, template)
        metrics._series[key] = series
    series[0].inc()
    series[1].observe(elapsed)


def prefix_limits(default: int, by_prefix: dict[str, int] | None = None) -> Callable[[str], int]:
    """Body limit by path: the longest matching prefix wins, else `default`."""
    ordered = sorted((by_prefix or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(path: str) -> int:
        for prefix, limit in ordered:
            if path.startswith(prefix):
                return limit
        return default

    return limit_for


class _TooLarge(StarletteHTTPException):
    """Raised from receive(); an HTTPException so FastAPI's body parsing re-raises it as is."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Запрос больше допустимого размера ({size(limit)})")


class RequestContextMiddleware:
    """Sets the request id, limits body size (413), records metrics and one access-log line."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        limit_for: Callable[[str], int],
        template_of: Callable[[Scope], str] = route_template,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.limit_for = limit_for
        self.template_of = template_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                rid = v.decode("latin-1")
                break
        rid = accept_or_make(rid)
        token = set_request_id(rid)
        start = time.perf_counter()
        status_holder = [500]
        started = [False]
        limit = self.limit_for(scope["path"])
        rid_header = (REQUEST_ID_HEADER.encode(), rid.encode())

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                started[0] = True
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        async def drain(already: int) -> None:
            # Read (and drop) the rest of a moderately oversized body, so that closing the connection
            # does not reset it before the client reads the 413 (no lingering close in uvicorn).
            seen = already
            while seen <= DRAIN_CAP:
                message = await receive()
                if message["type"] != "http.request":
                    return
                seen += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return

        async def too_large() -> None:
            status_holder[0] = 413
            body = dumps(
                problem_body(
                    413,
                    detail=f"Запрос больше допустимого размера ({size(limit)})",
                    instance=scope["path"],
                    request_id=rid,
                )
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                        rid_header,
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

        try:
            declared = None
            for k, v in scope["headers"]:
                if k == b"content-length":
                    try:
                        declared = int(v)
                    except ValueError:
                        declared = None
                    break
            if declared is not None and declared > limit:
                if declared <= DRAIN_CAP:
                    await drain(0)
                await too_large()
                return
            received = [0]

            async def receive_wrapper() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    received[0] += len(message.get("body", b""))
                    if received[0] > limit:
                        await drain(received[0])
                        raise _TooLarge(limit)
                return message

            try:
                await self.app(scope, receive_wrapper, send_wrapper)
            except _TooLarge:
                if not started[0]:
                    await too_large()
            except Exception:
                # The app's handler already logged it and answered 500 problem+json; keep uvicorn quiet.
                if not started[0]:
                    raise
        finally:
            elapsed = time.perf_counter() - start
            template = self.template_of(scope)
            method = scope["method"]
            _record(self.metrics, method, template, status_holder[0], elapsed)
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "route": template,
                    "status": status_holder[0],
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            reset_request_id(token)
