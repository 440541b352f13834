"""GET /routes/{id}, the school portal's hottest read, as one statement on a plain asyncpg pool.

The ORM path cost ~2 ms of CPU per read: a session, BEGIN and COMMIT around one SELECT, decoding
the 30 kB content JSONB into Python objects and encoding it again. Here the JSONB columns come
back as their UTF-8 bytes and go into the response as is (orjson.Fragment), and the self-check, the
only thing computed from the content, is kept per row version: PostgreSQL gives every stored version
of a row a new `xmin`, so (id, xmin) names exactly the content and manual scores it was computed
from. The answer is the document the ORM path produced, key for key (JSONB's text keeps its own
spacing). `RouteRead` answers the successes on kit's fast lane, without FastAPI's routing and dependency
layers.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

import asyncpg
import orjson
from sqlalchemy.dialects.postgresql import JSONB
from starlette.datastructures import State

from kit.auth import Principal
from kit.hotread import Answer, HotRead
from kit.jsonutil import dumps
from kit.versioning import etag, not_modified
from services.routes.content import HIDDEN_COLUMNS
from services.routes.models import routes
from services.routes.repository import FULL_COLUMNS
from services.routes.selfcheck import evaluate
from services.routes.tutors import is_tutor
from services.routes.workflow import Status, allowed_actions

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


class RouteRead(HotRead):
    """GET /api/v1/routes/{id} on the fast lane (kit.hotread): the very reader the documented endpoint uses,
    with its self-check cache and 304 on If-None-Match."""

    async def read(
        self, state: State, principal: Principal, object_id: uuid.UUID, if_none_match: str | None
    ) -> Answer | None:
        reader: RouteReader = state.route_reader
        return await reader.read(principal, object_id, if_none_match)
