"""A real local HTTP receiver of webhooks for tests: records every request, answers a chosen status, can
go down and come back on the same port; and the Standard Webhooks verification, written independently."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.harness import free_port


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The spec's check: HMAC-SHA256 over `id.timestamp.body` with the base64 key after `whsec_`; any of the
    space-separated `v1,` signatures may match."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    for sig in headers["webhook-signature"].split(" "):
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def message(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.body)
        return out

    @property
    def type(self) -> str:
        return str(self.message["type"])


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    # Status to answer: a list is consumed one per request (then 200).
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body))
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status, text="ok" if status < 300 else "ошибка")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def of(self, path: str, etype: str | None = None) -> list[Received]:
        return [r for r in self.received if r.path == path and (etype is None or r.type == etype)]

    async def wait_for(self, path: str, etype: str, count: int = 1, within: float = 30.0) -> list[Received]:
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            got = self.of(path, etype)
            if len(got) >= count:
                return got
            await asyncio.sleep(0.1)
        seen = [(r.path, r.type) for r in self.received]
        raise AssertionError(f"expected {count} {etype} at {path}; received {seen}")
