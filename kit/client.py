"""Calling other services through the gateway with a service token this process mints itself."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from kit.auth import Principal, Role, TokenCodec
from kit.errors import UpstreamUnavailable
from kit.jsonutil import dumps, loads
from kit.requestid import REQUEST_ID_HEADER, current_request_id
from kit.settings import CommonSettings


class UpstreamError(Exception):
    """A non-2xx answer from another service, with its problem body."""

    def __init__(self, status: int, problem: dict[str, Any] | None) -> None:
        super().__init__(f"upstream answered {status}")
        self.status = status
        self.problem = problem or {}


# Methods that may be sent twice without changing more than once (RFC 9110 9.2.2); other requests are
# retried only with an Idempotency-Key, or when the connection failed before anything was sent.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})


def released(resp: httpx.Response) -> httpx.Response:
    """The answer, no longer tied to its spent stream.

    httpx 0.28 binds a response and the stream it was read from into a reference cycle (the stream keeps the
    response to set its `elapsed`: encode/httpx#3733), so an answer and its whole body outlive the call until
    the cyclic collector runs, which in a busy process is rarely: 213 such answers (feed pages of ~4 MB among
    them) were waiting in a routes process mid-generation. The body is read by then (no request here streams),
    so a stream over the same bytes replaces it and reference counting frees the answer when it is dropped."""
    resp.stream = httpx.ByteStream(resp.content)
    return resp


def retryable(method: str, headers: dict[str, str] | None) -> bool:
    """Whether a request may be sent again after an answer was lost or was a 502/503/504."""
    keyed = any(k.lower() == "idempotency-key" for k in headers or {})
    return method.upper() in IDEMPOTENT_METHODS or keyed


class GatewayClient:
    """An HTTP client of the gateway acting as `service` (region-wide unless `region` is given)."""

    def __init__(
        self,
        common: CommonSettings,
        *,
        caller: str,
        region: str | None = None,
        timeout: float = 30.0,
        base_url: str | None = None,
        deadline: float | None = None,
    ) -> None:
        self.codec = TokenCodec(common)
        # All attempts of one request, their waits included, end within this many seconds.
        self.deadline = deadline if deadline is not None else 2 * timeout
        self.timeout = timeout
        self.caller = caller
        self.region = region
        self._tokens: dict[str | None, tuple[float, str]] = {}
        self.http = httpx.AsyncClient(base_url=base_url or common.gateway_url, timeout=timeout)

    def _bearer(self, region: str | None) -> str:
        now = asyncio.get_running_loop().time()
        cached = self._tokens.get(region)
        if cached is None or cached[0] <= now:
            ttl = self.codec.internal_ttl
            principal = Principal(sub=f"service:{self.caller}", role=Role.service, region=region)
            cached = (now + ttl / 2, self.codec.encode(principal, ttl_seconds=ttl))
            self._tokens[region] = cached
        return cached[1]

    def headers(self, extra: dict[str, str] | None = None, *, region: str | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self._bearer(region or self.region)}"}
        rid = current_request_id()
        if rid:
            h[REQUEST_ID_HEADER] = rid
        if extra:
            h.update(extra)
        return h

    async def request(
        self,
        method: str,
        path: str,
        *,
        retries: int = 2,
        headers: dict[str, str] | None = None,
        region: str | None = None,
        deadline: float | None = None,
        **kw: Any,
    ) -> httpx.Response:
        """Send a request (acting in `region` when given). Retry 502/503/504 and lost answers only when the
        request is idempotent or carries an Idempotency-Key (a refused connection always: nothing was sent),
        after a jittered, doubling wait, all within `deadline` seconds. A `json=` body is serialised with
        orjson (httpx would use the standard library's encoder, several times slower on large batches)."""
        if "json" in kw:
            kw["content"] = dumps(kw.pop("json"))
            headers = {"Content-Type": "application/json", **(headers or {})}
        loop = asyncio.get_running_loop()
        ends = loop.time() + (deadline if deadline is not None else self.deadline)
        may_repeat = retryable(method, headers)
        timeout = float(kw.pop("timeout", None) or self.timeout)
        delay = 0.2
        attempt = 0
        while True:
            kw["timeout"] = max(0.1, min(timeout, ends - loop.time()))
            try:
                resp = released(
                    await self.http.request(method, path, headers=self.headers(headers, region=region), **kw)
                )
            except httpx.TransportError as e:
                # Full jitter: replicas retrying the same failure spread out instead of arriving together.
                pause = random.uniform(0, delay)
                again = attempt < retries and loop.time() + pause < ends
                unsent = isinstance(e, httpx.ConnectError | httpx.ConnectTimeout)
                if not (again and (may_repeat or unsent)):
                    raise UpstreamUnavailable(
                        "Другой сервис платформы временно недоступен: повторите запрос чуть позже"
                    ) from e
            else:
                pause = random.uniform(0, delay)
                again = attempt < retries and loop.time() + pause < ends
                if resp.status_code not in RETRY_STATUSES or not (again and may_repeat):
                    return resp
            await asyncio.sleep(pause)
            delay *= 2
            attempt += 1

    async def json(self, method: str, path: str, **kw: Any) -> Any:
        """Send a request and return its JSON; raise UpstreamError for non-2xx answers."""
        resp = await self.request(method, path, **kw)
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = None
            raise UpstreamError(resp.status_code, body if isinstance(body, dict) else None)
        return loads(resp.content) if resp.content else None

    async def aclose(self) -> None:
        await self.http.aclose()
