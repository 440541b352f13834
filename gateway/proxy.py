"""The proxy path of the gateway: authenticate, then stream the request to its service and back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import aiohttp
from starlette.types import Receive, Scope, Send
from yarl import URL

from gateway.apikeys import ApiKeyResolver
from kit.auth import Principal, TokenCodec
from kit.errors import AppError, Unauthorized, problem_body
from kit.jsonutil import dumps
from kit.requestid import current_request_id

log = logging.getLogger("gateway.proxy")

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"x-api-key",
        b"x-request-id",
        b"authorization",
        b"content-length",
    }
)
RESPONSE_DROP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"x-request-id", b"server", b"date"}
)
API_PREFIX = "/api/v1/"
# Idle upstream connections are dropped well before the services close them (kit.cli.KEEP_ALIVE_SECONDS):
# a request sent on a connection the server is closing fails, and the client would get a 503.
IDLE_UPSTREAM_SECONDS = 15
SMALL_BODY = 256 * 1024


def _public_location(value: bytes, upstream: str) -> bytes:
    """A Location pointing at the upstream itself, made relative: clients never see internal addresses."""
    base = upstream.encode("latin-1")
    if value.startswith(base) and value[len(base) : len(base) + 1] in (b"/", b"?", b""):
        return value[len(base) :] or b"/"
    return value


async def send_problem(
    send: Send, status: int, scope: Scope, headers: list[tuple[bytes, bytes]] | None = None, **kw: Any
) -> None:
    body = dumps(problem_body(status, instance=scope["path"], **kw))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Proxy:
    """Streams /api/v1/... to the owning service with a verified principal."""

    def __init__(
        self,
        *,
        routes: dict[str, str],
        upstreams: dict[str, str],
        codec: TokenCodec,
        resolver: ApiKeyResolver | None,
        connect_timeout: float,
        read_timeout: float,
        connections: int,
        upload_read_timeout: float | None = None,
        is_upload: Callable[[str], bool] | None = None,
    ) -> None:
        self.routes = routes
        self.upstreams = upstreams
        self.codec = codec
        self.resolver = resolver
        self.timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self.read_timeout = read_timeout
        self.is_upload = is_upload or (lambda path: False)
        self.upload_timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_read=upload_read_timeout or read_timeout
        )
        self.upload_read_timeout = upload_read_timeout or read_timeout
        self.connections = connections
        self.session: aiohttp.ClientSession | None = None
        self._minted: dict[str, tuple[float, str]] = {}

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.connections, keepalive_timeout=IDLE_UPSTREAM_SECONDS, ttl_dns_cache=300
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=self.timeout,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()

    def service_for(self, path: str) -> str | None:
        rest = path[len(API_PREFIX) :]
        segment = rest.split("/", 1)[0]
        return self.routes.get(segment)

    async def authenticate(self, headers: dict[bytes, bytes]) -> str:
        """Return the bearer token to forward: the caller's own JWT, or one minted for an API key."""
        auth = headers.get(b"authorization")
        api_key = headers.get(b"x-api-key")
        if auth is not None:
            scheme, _, token = auth.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token:
                self.codec.decode(token)
                return token
            if scheme.lower() == "apikey" and token:
                api_key = token.encode()
            else:
                raise Unauthorized("authorization must be a Bearer token or an API key", code="invalid-token")
        if api_key is not None:
            return await self._token_for_key(api_key.decode("latin-1").strip())
        raise Unauthorized(
            "missing credentials: send a Bearer token or X-API-Key",
            code="missing-token",
            headers={"WWW-Authenticate": 'Bearer realm="iom"'},
        )

    async def _token_for_key(self, key: str) -> str:
        loop = asyncio.get_running_loop()
        now = loop.time()
        principal: Principal | None = await self.resolver.resolve(key) if self.resolver else None
        if principal is None:
            raise Unauthorized("unknown or revoked API key", code="invalid-api-key")
        cached = self._minted.get(principal.sub)
        if cached is not None and cached[0] > now:
            return cached[1]
        ttl = self.codec.internal_ttl
        token = self.codec.encode(principal, ttl_seconds=ttl)
        if len(self._minted) > 10_000:
            self._minted.clear()
        # Re-mint well before expiry; the resolver's short cache keeps revocation prompt.
        self._minted[principal.sub] = (now + min(ttl / 2, 60.0), token)
        return token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        service = self.service_for(path)
        scope["iom.route_label"] = f"{API_PREFIX}{path[len(API_PREFIX) :].split('/', 1)[0]}/*"
        if service is None:
            await send_problem(send, 404, scope, detail="no such API path")
            return
        headers: dict[bytes, bytes] = {}
        for k, v in scope["headers"]:
            headers[k] = v
        try:
            token = await self.authenticate(headers)
        except AppError as e:
            hdrs = [(k.lower().encode(), v.encode()) for k, v in e.headers.items()]
            await send_problem(send, e.status, scope, headers=hdrs, code=e.code, detail=e.detail)
            return
        except Exception:
            log.exception("credential check failed")
            await send_problem(send, 503, scope, code="auth-unavailable", detail="credential store unavailable")
            return

        out_headers: list[tuple[str, str]] = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k not in HOP_BY_HOP
        ]
        out_headers.append(("Authorization", f"Bearer {token}"))
        out_headers.append(("X-Request-ID", current_request_id() or ""))
        client = scope.get("client")
        if client:
            out_headers.append(("X-Forwarded-For", client[0]))
        length = headers.get(b"content-length")
        has_body = scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE") or (length not in (None, b"0"))
        data: Any = None
        if has_body:
            if length is not None:
                out_headers.append(("Content-Length", length.decode()))
            data = self._body(receive)
        # The path as the client sent it (still percent-encoded): the decoded one would turn an
        # encoded '#', '?' or '/' inside an id into a fragment, a query or another path upstream.
        raw_path = scope.get("raw_path")
        upstream = self.upstreams[service]
        url = upstream + (raw_path.decode("latin-1") if isinstance(raw_path, bytes) and raw_path else quote(path))
        qs = scope.get("query_string", b"")
        if qs:
            url += "?" + qs.decode("latin-1")
        assert self.session is not None
        started = False
        upload = self.is_upload(path)
        try:
            async with self.session.request(
                scope["method"],
                URL(url, encoded=True),
                headers=out_headers,
                data=data,
                allow_redirects=False,
                timeout=self.upload_timeout if upload else self.timeout,
            ) as resp:
                resp_headers = [
                    (k.lower(), _public_location(v, upstream) if k.lower() == b"location" else v)
                    for k, v in resp.raw_headers
                    if k.lower() not in RESPONSE_DROP
                ]
                clen = resp.content_length
                if clen is not None and clen <= SMALL_BODY:
                    body = await resp.read()
                    resp_headers.append((b"content-length", str(len(body)).encode()))
                    started = True
                    await send({"type": "http.response.start", "status": resp.status, "headers": resp_headers})
                    await send({"type": "http.response.body", "body": body})
                    return
                if clen is not None:
                    resp_headers.append((b"content-length", str(clen).encode()))
                started = True
                await send({"type": "http.response.start", "status": resp.status, "headers": resp_headers})
                async for chunk in resp.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        except (TimeoutError, aiohttp.ServerTimeoutError):
            if started:
                raise
            log.warning("upstream timed out", extra={"upstream": service})
            await send_problem(
                send,
                504,
                scope,
                code="upstream-timeout",
                detail=f"the {service} service did not answer within "
                f"{self.upload_read_timeout if upload else self.read_timeout:g}s",
            )
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError):
            if started:
                raise
            log.warning("upstream unavailable", extra={"upstream": service})
            await send_problem(
                send,
                503,
                scope,
                code="upstream-unavailable",
                detail=f"the {service} service is unavailable",
                headers=[(b"retry-after", b"5")],
            )

    @staticmethod
    async def _body(receive: Receive) -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
