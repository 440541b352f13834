"""GET /routes/{id}, the school portal's hottest read, as one statement on a plain asyncpg pool.

The ORM path cost ~2 ms of CPU per read: a session, BEGIN and COMMIT around one SELECT, decoding
the 30 kB content JSONB into Python objects and encoding it again. Here the JSONB columns come
back as their UTF-8 bytes and go into the response as is (orjson.Fragment).

What is computed from a stored version of the row is kept per version: PostgreSQL gives every stored
version of a row a new `xmin`, so (id, xmin) names exactly the content and the manual scores. The
`ReadCache` keeps, for the routes read last (within a budget of bytes, ROUTES_READ_CACHE_MB), the
version's content as JSON text and its self-check. The statement names the version the cache holds
and PostgreSQL sends the content only when the row is at another version: turning a 5-30 kB JSONB into
text was most of the database's work of a read. The answer is the document the ORM path produced, key
for key (JSONB's text keeps its own spacing). `RouteRead` answers the successes on kit's fast lane,
without FastAPI's routing and dependency layers.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any, NamedTuple

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
        if source == "content":  # $2: the version whose content the reader holds; sent only for another one
            exprs.append('CASE WHEN xmin::text = $2 THEN NULL ELSE "content" END AS "content"')
        else:
            exprs.append(f'"{source}" AS "{col.name}"' if source != col.name else f'"{source}"')
    return ", ".join(exprs), tuple(c.name for c in FULL_COLUMNS if c.name not in HIDDEN_COLUMNS)


_COLUMNS, VIEW_KEYS = _select_list()
READ_SQL = f'SELECT {_COLUMNS}, xmin::text AS "row_version" FROM "{routes.schema}"."{routes.name}" WHERE id = $1'
ENTRY_OVERHEAD = 200  # bytes of an entry beside its two byte strings (the key, the tuple, the dict slot)


class Version(NamedTuple):
    """One stored version of a route: its `xmin`, its content as JSON text, its self-check encoded."""

    row_version: str
    content: bytes
    self_check: bytes

    @property
    def size(self) -> int:
        return len(self.content) + len(self.self_check) + ENTRY_OVERHEAD


class ReadCache:
    """The last version read of each route, least recently read dropped first, within `budget` bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[uuid.UUID, Version] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, route_id: uuid.UUID) -> Version | None:
        hit = self._items.get(route_id)
        if hit is not None:
            self._items.move_to_end(route_id)
        return hit

    def put(self, route_id: uuid.UUID, version: Version) -> None:
        old = self._items.pop(route_id, None)
        if old is not None:
            self.used -= old.size
        if version.size > self.budget:
            return
        self._items[route_id] = version
        self.used += version.size
        while self.used > self.budget:
            _, dropped = self._items.popitem(last=False)
            self.used -= dropped.size


def self_check_json(content: bytes, manual: bytes) -> bytes:
    """The self-check of a route's content and manual scores (both JSON text), encoded."""
    scores = {int(k): v for k, v in orjson.loads(manual).items()}
    return dumps(evaluate(orjson.loads(content), scores))


class RouteReader:
    def __init__(self, pool: asyncpg.Pool, *, cache_bytes: int = 64 * 1024 * 1024) -> None:
        self.pool = pool
        self.cache = ReadCache(cache_bytes)

    def _version(self, row: asyncpg.Record, held: Version | None) -> Version:
        """The row's version: the one held when the database left the content out, else read now."""
        if row["content"] is None:
            assert held is not None and held.row_version == row["row_version"]
            return held
        frozen = row["self_check_at_completion"]  # completed: the self-check as it stood then, stored
        version = Version(
            row["row_version"],
            row["content"],
            frozen if frozen is not None else self_check_json(row["content"], row["self_check_manual"]),
        )
        self.cache.put(row["id"], version)
        return version

    async def read(self, principal: Principal, route_id: uuid.UUID, if_none_match: str | None = None) -> Answer | None:
        """The answer to GET /routes/{id}: 200 with the route as JSON, or 304 without a body when the
        caller's If-None-Match names the current version; None when the route is absent or out of scope."""
        held = self.cache.get(route_id)
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(READ_SQL, route_id, held.row_version if held else None)
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
        stored = self._version(row, held)
        view: dict[str, Any] = {}
        for key in VIEW_KEYS:
            value = stored.content if key == "content" else row[key]
            view[key] = orjson.Fragment(value) if key in JSON_COLUMNS and value is not None else value
        view["self_check"] = orjson.Fragment(stored.self_check)
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
