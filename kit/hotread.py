"""Hot single-object reads (GET <collection>/{id}) answered before FastAPI, declared once per read.

A plain single-object GET through FastAPI spent most of its time outside the query: routing, solving the
dependencies (the token, the session with its BEGIN and COMMIT, the settings), validating the returned
dict and building the response. `FastLane` is an ASGI layer in front of the service's FastAPI app
(`kit.app.create_service_app(hot_reads=...)`, inside the request id, metrics and access log): for a GET
whose path is a declared read's prefix and a canonical id, with a Bearer token, it runs the read on a
plain asyncpg pool (`kit.db.make_read_pool`: no session, no BEGIN/COMMIT, one statement) and answers
its successes itself. Everything else — another path, no or a bad token, a role the documented endpoint
refuses, a malformed id, an object absent or out of scope, a database error — goes on to the documented
FastAPI endpoint, which answers it (and its problem+json) as before; the OpenAPI is the endpoint's.

`RowRead` declares a read from data: the documented operation (its path gives the prefix, its response
field the JSON shape: the body is made by the very pydantic serialiser FastAPI uses, so it is the
endpoint's byte for byte), the columns (SQLAlchemy Core, compiled once to one SELECT by id), the scope
rule over the row (`scope_rule`, the mirror of `kit.db.scope_condition`), the version column named in
the ETag, and optionally what to add to the row (`present`, on the same connection). A read that needs
more (the routes' self-check cache, 304 on If-None-Match) subclasses `HotRead`.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg
import orjson
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import JSON
from starlette.datastructures import State
from starlette.types import Receive, Scope, Send

from kit.auth import Principal, Role
from kit.versioning import etag

# The answer to a read: status, headers, body (what both the lane and the FastAPI endpoint send).
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
Visible = Callable[[Principal, Mapping[str, Any]], bool]
Present = Callable[[State, asyncpg.Connection, dict[str, Any]], Awaitable[dict[str, Any]]]
ID_LENGTH = 36  # a canonical UUID: the lane answers only these; anything else is FastAPI's to judge


def scope_rule(
    *,
    region: str = "region",
    municipality: str | None = None,
    organisation: str | None = None,
    teacher: str | None = None,
) -> Visible:
    """`kit.db.scope_condition` over a row's columns (named here), in Python: the same answer the SQL gives,
    so the lane never shows what the documented endpoint's query would not find."""

    def visible(principal: Principal, row: Mapping[str, Any]) -> bool:
        if principal.region and row[region] != principal.region:
            return False
        if principal.is_regional:
            return True
        if principal.role == Role.municipal_methodologist:
            return municipality is not None and row[municipality] == (principal.municipality or "")
        if principal.role == Role.school_admin:
            return organisation is not None and row[organisation] == (principal.organisation or "")
        if principal.role == Role.teacher:
            try:
                own = uuid.UUID(principal.teacher_id or "")
            except ValueError:
                return False
            return teacher is not None and row[teacher] == own
        return False

    return visible


def region_rule(region: str = "region") -> Visible:
    """Objects of the caller's region (every role of it); a caller without a region sees every region."""

    def visible(principal: Principal, row: Mapping[str, Any]) -> bool:
        return not principal.region or row[region] == principal.region

    return visible


def operation_of(router: APIRouter, endpoint: Callable[..., Any]) -> APIRoute:
    """The documented operation whose endpoint function is `endpoint`."""
    return next(r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is endpoint)


def allowed_roles(operation: APIRoute) -> frozenset[Role] | None:
    """The roles the documented endpoint's permission admits (`kit.auth.require_roles`); None: every role."""
    stack = list(operation.dependant.dependencies)
    roles: frozenset[Role] | None = None
    while stack:
        dep = stack.pop()
        found = getattr(dep.call, "allowed_roles", None)
        if found is not None:
            roles = found if roles is None else roles & found
        stack.extend(dep.dependencies)
    return roles


class Statement:
    """A SQLAlchemy Core SELECT compiled once for the raw pool; its rows as dicts, JSON(B) columns decoded
    (the read pool hands them over as UTF-8 bytes), so they equal what the ORM session gives."""

    def __init__(self, stmt: Any) -> None:
        self.sql = str(stmt.compile(dialect=postgresql.asyncpg.dialect()))  # type: ignore[attr-defined]
        self.json_columns = tuple(c.name for c in stmt.selected_columns if isinstance(c.type, JSON))

    def _decode(self, record: asyncpg.Record) -> dict[str, Any]:
        row = dict(record.items())
        for name in self.json_columns:
            if row[name] is not None:
                row[name] = orjson.loads(row[name])
        return row

    async def one(self, conn: asyncpg.Connection, *args: Any) -> dict[str, Any] | None:
        record = await conn.fetchrow(self.sql, *args)
        return None if record is None else self._decode(record)

    async def all(self, conn: asyncpg.Connection, *args: Any) -> list[dict[str, Any]]:
        return [self._decode(r) for r in await conn.fetch(self.sql, *args)]


class HotRead(ABC):
    """One declared read: GET `prefix` + id. `read` answers its successes, or None to let FastAPI answer.

    Subclasses say how: `RowRead` (one SELECT declared as data) or a service's own (the routes' `RouteRead`)."""

    def __init__(self, operation: APIRoute) -> None:
        self.operation = operation  # the documented operation: named in metrics and the access log
        self.prefix = operation.path_format.rsplit("{", 1)[0]
        self.roles = allowed_roles(operation)

    @abstractmethod
    async def read(
        self, state: State, principal: Principal, object_id: uuid.UUID, if_none_match: str | None
    ) -> Answer | None:
        """The answer of a plain success (200, or 304 on the ETag), else None."""


class RowRead(HotRead):
    """A read declared as data: one SELECT of `columns` by `key`, the scope rule, the version, the shape.

    `related` are more labelled expressions selected with the row, in the same statement (a scalar
    subquery aggregating the object's children as JSON, say): one round trip and one snapshot instead
    of a query per child table."""

    def __init__(
        self,
        operation: APIRoute,
        *,
        columns: Sequence[Any],
        key: Any,
        visible: Visible,
        version: str = "version",
        present: Present | None = None,
        related: Sequence[Any] = (),
    ) -> None:
        super().__init__(operation)
        self.statement = Statement(select(*columns, *related).where(key == bindparam("object_id")))
        self.visible = visible
        self.version = version
        self.present = present
        field = operation.response_field
        assert field is not None, f"{operation.path}: a hot read needs the endpoint's response_model"
        self.field = field
        self.dump: dict[str, Any] = {
            "include": operation.response_model_include,
            "exclude": operation.response_model_exclude,
            "by_alias": operation.response_model_by_alias,
            "exclude_unset": operation.response_model_exclude_unset,
            "exclude_defaults": operation.response_model_exclude_defaults,
            "exclude_none": operation.response_model_exclude_none,
        }

    async def read(
        self, state: State, principal: Principal, object_id: uuid.UUID, if_none_match: str | None
    ) -> Answer | None:
        pool: asyncpg.Pool = state.read_pool
        async with pool.acquire() as conn:
            row = await self.statement.one(conn, object_id)
            if row is None or not self.visible(principal, row):
                return None
            if self.present is not None:
                row = await self.present(state, conn, row)
        value, errors = self.field.validate(row, {}, loc=("response",))
        if errors:  # the endpoint answers (and reports) it
            return None
        body: bytes = self.field.serialize_json(value, **self.dump)
        return (
            200,
            [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
                (b"etag", etag(int(row[self.version])).encode()),
            ],
            body,
        )


class FastLane:
    """The declared hot reads answered without FastAPI's routing, dependency and response layers."""

    def __init__(self, app: FastAPI, reads: Sequence[HotRead]) -> None:
        self.app = app
        self.reads = {r.prefix: r for r in reads}
        metrics = getattr(app.state, "metrics", None)  # kit.middleware.Metrics: what the lane answered
        self.answered = {r.prefix: metrics.fast_reads.labels(r.operation.path) for r in reads} if metrics else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            read = self.reads.get(path[:-ID_LENGTH])
            if read is not None:
                answer = await self._answer(read, scope, path[-ID_LENGTH:])
                if answer is not None:
                    status, headers, body = answer
                    scope["route"] = read.operation
                    if self.answered:
                        self.answered[read.prefix].inc()
                    await send({"type": "http.response.start", "status": status, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    async def _answer(self, read: HotRead, scope: Scope, rest: str) -> Answer | None:
        if rest[8] != "-" or rest[13] != "-" or rest[18] != "-" or rest[23] != "-":
            return None
        try:
            object_id = uuid.UUID(rest)
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
            principal: Principal = state.token_codec.decode(auth[7:].decode("latin-1").strip())
            if read.roles is not None and principal.role not in read.roles:
                return None
            return await read.read(state, principal, object_id, if_none_match)
        except Exception:  # the documented endpoint answers it (401, 503, ...) and logs what it must
            return None
