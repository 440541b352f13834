"""GET /routes/{id}, the school portal's hottest read, as one statement on a plain asyncpg pool.

The ORM path cost ~2 ms of CPU per read: a session, BEGIN and COMMIT around one SELECT, decoding
the 30 kB content JSONB into Python objects and encoding it again. Here the JSONB columns come
back as their UTF-8 bytes and go into the response as is (orjson.Fragment), and the self-check, the
only thing computed from the content, is kept per row version: PostgreSQL gives every stored version
of a row a new `xmin`, so (id, xmin) names exactly the content and manual scores it was computed
from. The answer is the document the ORM path produced, key for key (JSONB's text keeps its own
spacing). `ReadLane` answers the successes without FastAPI's routing and dependency layers.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI
from sqlalchemy.dialects.postgresql import JSONB
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from kit.auth import Principal
from kit.jsonutil import dumps
from kit.versioning import etag, not_modified
from services.routes.content import HIDDEN_COLUMNS
from services.routes.models import routes
from services.routes.repository import FULL_COLUMNS
from services.routes.selfcheck import evaluate
from services.routes.tutors import is_tutor
from services.routes.workflow import Status, allowed_actions

# The answer to a read: status, headers, body (what both the lane and the FastAPI endpoint send).
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
JSON_COLUMNS = frozenset(c.name for c in routes.c if isinstance(c.type, JSONB))


def _select_list() -> tuple[str, tuple[str, ...]]:
    """The columns of the ORM's full read (a label like grp AS "group" kept), and those the caller sees."""
    exprs = []
    for col in FULL_COLUMNS:
        source = getattr(col, "element", col).name
        exprs.append(f'"{source}" AS "{col.name}"' if source != col.name else f'"{source}"')
    return ", ".join(exprs), tuple(c.name for c in FULL_COLUMNS if c.name not in HIDDEN_COLUMNS)


_COLUMNS, VIEW_KEYS = _select_list()
READ_SQL = f'SELECT {_COLUMNS}, xmin::text AS "row_version" FROM "{routes.schema}"."{routes.name}" WHERE id = $1'


class SelfCheckCache:
    """The self-check of the last `size` row versions read, encoded (a bounded LRU)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[uuid.UUID, str], bytes] = OrderedDict()

    def get(self, key: tuple[uuid.UUID, str], content: bytes, manual: bytes) -> bytes:
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
            return hit
        scores = {int(k): v for k, v in orjson.loads(manual).items()}
        encoded = dumps(evaluate(orjson.loads(content), scores))
        self._items[key] = encoded
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return encoded


class RouteReader:
    def __init__(self, pool: asyncpg.Pool, *, cache_size: int = 10_000) -> None:
        self.pool = pool
        self.self_checks = SelfCheckCache(cache_size)

    async def read(self, principal: Principal, route_id: uuid.UUID, if_none_match: str | None = None) -> Answer | None:
        """The answer to GET /routes/{id}: 200 with the route as JSON, or 304 without a body when the
        caller's If-None-Match names the current version; None when the route is absent or out of scope."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(READ_SQL, route_id)
        if row is None:
            return None
        own = principal.sees(
            region=row["region"],
            municipality=row["municipality"],
            organisation=row["organisation"],
            teacher_id=str(row["teacher_id"]),
        )
        if not own and not is_tutor(principal, row["region"], row["tutor"]):
            return None
        version = int(row["version"])
        headers = [(b"etag", etag(version).encode()), (b"cache-control", b"private, no-cache")]
        if not_modified(if_none_match, version):
            return 304, headers, b""
        view: dict[str, Any] = {}
        for key in VIEW_KEYS:
            value = row[key]
            view[key] = orjson.Fragment(value) if key in JSON_COLUMNS and value is not None else value
        frozen = row["self_check_at_completion"]  # completed: the self-check as it stood then, stored
        view["self_check"] = orjson.Fragment(
            frozen
            if frozen is not None
            else self.self_checks.get((row["id"], row["row_version"]), row["content"], row["self_check_manual"])
        )
        view["allowed_actions"] = allowed_actions(Status(row["status"]), principal) if own else []
        body = dumps(view)
        return (
            200,
            [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
            body,
        )


class ReadLane:
    """GET /api/v1/routes/{id} answered without FastAPI's routing, dependency and response layers.

    It answers only what succeeds (200, or 304 on If-None-Match) for a Bearer token and a well-formed
    id, with the very reader the documented endpoint uses. Everything else — another path, no or a bad
    token, a read-only key on a write, a malformed id, a route absent or out of scope, a database error —
    goes to the FastAPI app, which answers it (and its errors) as documented. Request id, metrics and
    the access log stay around it (kit.app)."""

    PREFIX = "/api/v1/routes/"

    def __init__(self, app: FastAPI, route: BaseRoute) -> None:
        self.app = app
        self.route = route  # the documented operation, named in metrics and the access log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and scope["method"] == "GET" and path.startswith(self.PREFIX):
            answer = await self._answer(scope, path[len(self.PREFIX) :])
            if answer is not None:
                status, headers, body = answer
                scope["route"] = self.route
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, rest: str) -> Answer | None:
        if len(rest) != 36:
            return None
        try:
            route_id = uuid.UUID(rest)
        except ValueError:
            return None
        auth = if_none_match = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                auth = v
            elif k == b"if-none-match":
                if_none_match = v.decode("latin-1")
        if auth is None or auth[:7].lower() != b"bearer ":
            return None
        state = self.app.state
        try:
            principal = state.token_codec.decode(auth[7:].decode("latin-1").strip())
            answer: Answer | None = await state.route_reader.read(principal, route_id, if_none_match)
        except Exception:  # the documented endpoint answers it (401, 503, ...) and logs what it must
            return None
        return answer
