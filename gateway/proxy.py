"""The proxy path of the gateway: authenticate, then stream the request to its service and back."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import aiohttp
from starlette.types import Receive, Scope, Send
from yarl import URL

from gateway.apikeys import ApiKeyResolver, well_formed
from gateway.ratelimits import RateLimits
from gateway.scopes import ScopeTable
from kit.auth import SAFE_METHODS, Principal, Role, TokenCodec
from kit.errors import AppError, Forbidden, NotFound, Unauthorized, problem_body
from kit.jsonutil import dumps
from kit.requestid import current_request_id
from kit.russian import SERVICE_NAMES_RU

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
# Forwarding headers are the gateway's to set: whatever a client sends under these names is dropped.
FORWARDING = (b"x-forwarded-", b"forwarded", b"x-real-ip")
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
        scopes: ScopeTable | None = None,
        limits: RateLimits | None = None,
        trusted_proxies: list[str] | None = None,
    ) -> None:
        self.routes = routes
        self.scopes = scopes
        self.limits = limits
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies or []]
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

    async def authenticate(self, headers: dict[bytes, bytes], ip: str) -> tuple[str, Principal]:
        """Return the bearer token to forward (the caller's own JWT, or one minted for an API key) and its principal."""
        auth = headers.get(b"authorization")
        api_key = headers.get(b"x-api-key")
        if auth is not None:
            scheme, _, token = auth.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token:
                return token, await self._check_failing(ip, self.codec.decode, token)
            if scheme.lower() == "apikey" and token:
                api_key = token.encode()
            else:
                raise Unauthorized(
                    "В заголовке Authorization передайте токен доступа (Bearer) или ключ API (ApiKey)",
                    code="invalid-token",
                )
        if api_key is not None:
            return await self._token_for_key(api_key.decode("latin-1").strip(), ip)
        raise Unauthorized(
            "Войдите в систему: передайте токен доступа (Bearer) или ключ API в заголовке X-API-Key",
            code="missing-token",
            headers={"WWW-Authenticate": 'Bearer realm="iom"'},
        )

    async def _check_failing(self, ip: str, check: Callable[[str], Principal], token: str) -> Principal:
        try:
            return check(token)
        except Unauthorized:
            if self.limits is not None:
                await self.limits.failed(ip)
            raise

    async def _token_for_key(self, key: str, ip: str) -> tuple[str, Principal]:
        if self.limits is not None:
            await self.limits.check_failed_budget(ip)
        # A key not of the issued shape is refused without a look-up; unknown keys are cached as such.
        principal = await self.resolver.resolve(key) if self.resolver and well_formed(key) else None
        if principal is None:
            if self.limits is not None:
                await self.limits.failed(ip)
            raise Unauthorized("Ключ API неизвестен или отозван", code="invalid-api-key")
        now = asyncio.get_running_loop().time()
        cached = self._minted.get(principal.sub)
        if cached is not None and cached[0] > now:
            return cached[1], principal
        ttl = self.codec.internal_ttl
        token = self.codec.encode(principal, ttl_seconds=ttl)
        if len(self._minted) > 10_000:
            self._minted.clear()
        # Re-mint well before expiry; the resolver's short cache keeps revocation prompt.
        self._minted[principal.sub] = (now + min(ttl / 2, 60.0), token)
        return token, principal

    def client_ip(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        """The caller's address: the peer's, or, behind a trusted proxy, the last untrusted X-Forwarded-For hop."""
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        forwarded = headers.get(b"x-forwarded-for")
        if not self.trusted or forwarded is None or not self._is_trusted(peer):
            return peer
        hops = [h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    async def admit(self, scope: Scope, principal: Principal, ip: str) -> None:
        """Check an API key's scope (or a token's, when it carries scopes) and charge the rate limits."""
        if principal.role == Role.service:
            return  # the services' own calls: internal traffic is never limited or scoped here
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if isinstance(raw, bytes) and raw else scope["path"]
        op = self.scopes.find(method, path) if self.scopes is not None else None
        if principal.scopes is not None:
            if op is None:
                raise NotFound("Такого адреса API нет")
            if principal.read_only and method not in SAFE_METHODS:
                raise Forbidden("Эти учётные данные дают доступ только для чтения", code="read-only-credential")
            if op.scope not in principal.scopes:
                raise Forbidden(f"У этого ключа API нет права «{op.scope}»", code="insufficient-scope")
        if self.limits is not None:
            upload = method in ("POST", "PUT") and self.is_upload(scope["path"])
            await self.limits.admit(ip=ip, principal=principal.sub, operation=op.key if op else None, upload=upload)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        service = self.service_for(path)
        scope["iom.route_label"] = f"{API_PREFIX}{path[len(API_PREFIX) :].split('/', 1)[0]}/*"
        if service is None:
            await send_problem(send, 404, scope, detail="Такого адреса API нет")
            return
        headers: dict[bytes, bytes] = {}
        for k, v in scope["headers"]:
            headers[k] = v
        ip = self.client_ip(scope, headers)
        try:
            token, principal = await self.authenticate(headers, ip)
            await self.admit(scope, principal, ip)
        except AppError as e:
            hdrs = [(k.lower().encode(), v.encode()) for k, v in e.headers.items()]
            await send_problem(send, e.status, scope, headers=hdrs, code=e.code, title=e.title, detail=e.detail)
            return
        except Exception:
            log.exception("credential check failed")
            await send_problem(
                send,
                503,
                scope,
                code="auth-unavailable",
                detail="Проверка учётных данных временно недоступна: повторите запрос чуть позже",
            )
            return

        out_headers: list[tuple[str, str]] = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k not in HOP_BY_HOP and not k.startswith(FORWARDING)
        ]
        out_headers.append(("Authorization", f"Bearer {token}"))
        out_headers.append(("X-Request-ID", current_request_id() or ""))
        out_headers.append(("X-Forwarded-For", ip))
        out_headers.append(("X-Forwarded-Proto", str(scope.get("scheme", "http"))))
        host = headers.get(b"host")
        if host:
            out_headers.append(("X-Forwarded-Host", host.decode("latin-1")))
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
                detail=f"{SERVICE_NAMES_RU.get(service, 'Сервис платформы')} не ответил за отведённое время "
                f"({self.upload_read_timeout if upload else self.read_timeout:g} с)",
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
                detail=f"{SERVICE_NAMES_RU.get(service, 'Сервис платформы')} временно недоступен",
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
