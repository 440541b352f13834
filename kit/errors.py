"""Errors that carry their HTTP status, rendered once as RFC 9457 problem+json."""

from __future__ import annotations

import json
import logging
import os
import re
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from kit.jsonutil import dumps
from kit.logging import route_template
from kit.requestid import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://iom.example/problems/"
log = logging.getLogger("kit.errors")


class FieldError(BaseModel):
    """One rejected field or row; never echoes the rejected value."""

    model_config = ConfigDict(extra="forbid")
    loc: list[str | int] = Field(description="Where the error is: body field path, or row and column")
    code: str = Field(description="Machine-readable reason", examples=["missing"])
    message: str = Field(description="Human-readable reason, without the rejected value")
    row: int | None = Field(default=None, description="1-based data row number for uploads")
    column: str | None = Field(default=None, description="Column name for uploads")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_BASE + "not-found",
                    "title": "Не найдено",
                    "status": 404,
                    "detail": "Педагог не найден",
                    "request_id": "0b7c9f3e6a2d4f1e",
                }
            ]
        }
    )
    type: str = Field(default="about:blank")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    code: str | None = Field(default=None, description="Stable machine-readable error code")
    errors: list[FieldError] | None = None


class AppError(Exception):
    """Base error: subclass per status; message must not contain personal data."""

    status = 500
    code = "internal-error"
    title = "Внутренняя ошибка сервера"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}
        if code:
            self.code = code


class BadRequest(AppError):
    status, code, title = 400, "bad-request", "Некорректный запрос"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Требуется вход"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Доступ запрещён"


class NotFound(AppError):
    status, code, title = 404, "not-found", "Не найдено"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Конфликт с текущим состоянием"


class PreconditionFailed(AppError):
    status, code, title = 412, "precondition-failed", "Данные уже изменились"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload-too-large", "Слишком большой объём данных"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported-media-type", "Неподдерживаемый формат данных"


class ValidationFailed(AppError):
    status, code, title = 422, "validation-failed", "Данные не прошли проверку"


class PreconditionRequired(AppError):
    status, code, title = 428, "precondition-required", "Не указана версия"


class UpstreamUnavailable(AppError):
    status, code, title = 503, "upstream-unavailable", "Сервис временно недоступен"


class UpstreamTimeout(AppError):
    status, code, title = 504, "upstream-timeout", "Сервис не ответил вовремя"


# Status -> (stable machine code, Russian title for people). The code is for programs and never changes.
_STATUSES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Некорректный запрос"),
    401: ("unauthorized", "Требуется вход"),
    403: ("forbidden", "Доступ запрещён"),
    404: ("not-found", "Не найдено"),
    405: ("method-not-allowed", "Метод не поддерживается"),
    406: ("not-acceptable", "Формат ответа не поддерживается"),
    409: ("conflict", "Конфликт с текущим состоянием"),
    411: ("length-required", "Не указана длина запроса"),
    412: ("precondition-failed", "Данные уже изменились"),
    413: ("payload-too-large", "Слишком большой объём данных"),
    415: ("unsupported-media-type", "Неподдерживаемый формат данных"),
    422: ("validation-failed", "Данные не прошли проверку"),
    428: ("precondition-required", "Не указана версия"),
    429: ("too-many-requests", "Слишком много запросов"),
    500: ("internal-server-error", "Внутренняя ошибка сервера"),
    502: ("bad-gateway", "Ошибка связи между сервисами"),
    503: ("service-unavailable", "Сервис временно недоступен"),
    504: ("gateway-timeout", "Сервис не ответил вовремя"),
}
_TITLES = {status: title for status, (_, title) in _STATUSES.items()}
GENERIC_TITLE = "Ошибка"


def status_title(status: int) -> str:
    """The Russian title of a status (a generic one for a status not listed)."""
    return _TITLES.get(status, GENERIC_TITLE)


def problem_body(
    status: int,
    *,
    code: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    instance: str | None = None,
    request_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    code = code or _STATUSES.get(status, ("error", ""))[0]
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title or status_title(status),
        "status": status,
        "code": code,
        "request_id": request_id if request_id is not None else current_request_id(),
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = [e.model_dump(exclude_none=True) for e in errors]
    if extra:
        body.update(extra)
    return body


def problem_response(status: int, headers: dict[str, str] | None = None, **kw: Any) -> Response:
    return Response(
        content=dumps(problem_body(status, **kw)),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


_VALIDATION = json.loads((Path(__file__).parent / "data" / "validation_messages.json").read_text(encoding="utf-8"))
VALIDATION_MESSAGES: dict[str, str] = _VALIDATION["messages"]
VALIDATION_DEFAULT: str = _VALIDATION["default"]
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_OWN_PREFIXES = ("Value error, ", "Assertion failed, ")


def field_message(error: Mapping[str, Any]) -> str:
    """The Russian message of one pydantic error, by its `type` (kit/data/validation_messages.json), filled
    with the limits of its context; a validator's own message is kept when it is written in Russian."""
    kind = str(error.get("type", ""))
    if kind in ("value_error", "assertion_error"):
        own = str(error.get("msg", ""))
        for prefix in _OWN_PREFIXES:
            own = own.removeprefix(prefix)
        if _CYRILLIC.search(own):
            return own
    template = VALIDATION_MESSAGES.get(kind, VALIDATION_DEFAULT)
    ctx = error.get("ctx") or {}
    try:
        return template.format_map({k: str(v) for k, v in ctx.items()})
    except (KeyError, IndexError, ValueError):
        return VALIDATION_DEFAULT


def validation_errors(exc: RequestValidationError) -> list[FieldError]:
    """Translate pydantic errors to FieldErrors in Russian, without the rejected input."""
    out: list[FieldError] = []
    for e in exc.errors():
        loc = [p if isinstance(p, int | str) else str(p) for p in e.get("loc", ())]
        out.append(FieldError(loc=loc, code=str(e.get("type", "invalid")), message=field_message(e)))
    return out


def _sqlstate(exc: DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return state if isinstance(state, str) else None


def refused_value(exc: DBAPIError) -> bool:
    """Whether the database refused a value rather than failed: SQLSTATE class 22 (data exception),
    or asyncpg could not even encode the parameter (e.g. an integer beyond int4)."""
    state = _sqlstate(exc)
    if state is not None:
        return state.startswith("22")
    cause = exc.orig.__cause__ if exc.orig is not None else None
    return isinstance(cause, asyncpg.exceptions.DataError)


UNIQUE_VIOLATION = "23505"


def duplicate_key(exc: BaseException) -> str | None:
    """The unique constraint a write ran into (its name, never the key's values), or None when it is not a
    duplicate key: SQLSTATE 23505 from SQLAlchemy or from raw asyncpg."""
    if isinstance(exc, DBAPIError):
        if _sqlstate(exc) != UNIQUE_VIOLATION:
            return None
        cause = exc.orig.__cause__ if exc.orig is not None else None
        name = getattr(cause, "constraint_name", None) or getattr(exc.orig, "constraint_name", None)
    elif isinstance(exc, asyncpg.UniqueViolationError):
        name = exc.constraint_name
    else:
        return None
    return name if isinstance(name, str) else "unknown"


def _duplicate_response(request: Request, constraint: str) -> Response:
    # Two writes of one key at once (both checked, one stored first): the later is a conflict, as if it
    # had seen the first. The key's values (a person's external id, a code) stay out of logs and answer.
    log.warning(
        "duplicate key refused", extra={"constraint": constraint, "path_template": route_template(request.scope)}
    )
    return problem_response(
        409,
        code="duplicate-key",
        detail="Запись с таким ключом уже есть",
        instance=request.url.path,
    )


def connecting_to_database(exc: BaseException) -> bool:
    """Whether an error was raised while the database driver (asyncpg) opened a connection."""
    frames = traceback.extract_tb(exc.__traceback__)
    return any(f"{os.sep}asyncpg{os.sep}connect_utils" in frame.filename for frame in frames)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error of the app as problem+json."""

    async def app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        return problem_response(
            exc.status,
            headers=exc.headers,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
            instance=request.url.path,
            extra=exc.extra,
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        # Starlette's own details are English status phrases ("Not Found", "Method Not Allowed"): the Russian
        # title says the same, so only a detail written for people in Russian is kept.
        detail = exc.detail if isinstance(exc.detail, str) and _CYRILLIC.search(exc.detail) else None
        return problem_response(
            exc.status_code, headers=getattr(exc, "headers", None), detail=detail, instance=request.url.path
        )

    async def request_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            422,
            code="validation-failed",
            detail="Запрос заполнен неверно: исправьте отмеченные поля",
            errors=validation_errors(exc),
            instance=request.url.path,
        )

    async def database_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DBAPIError)
        constraint = duplicate_key(exc)
        if constraint is not None:
            return _duplicate_response(request, constraint)
        if refused_value(exc):
            # A value the request carried that PostgreSQL cannot take (a number beyond its column type,
            # a NUL character in text): the client's error, not ours. The value is not echoed.
            log.warning("database refused a value", extra={"sqlstate": _sqlstate(exc) or "client-side"})
            return problem_response(
                422,
                code="value-not-storable",
                detail="Значение в запросе выходит за допустимые пределы или содержит недопустимые символы",
                instance=request.url.path,
            )
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            log.warning("database unavailable", extra={"error": type(exc.orig).__name__})
            return problem_response(
                503,
                headers={"Retry-After": "5"},
                code="database-unavailable",
                detail="База данных временно недоступна: повторите запрос чуть позже",
                instance=request.url.path,
            )
        return await unhandled(request, exc)

    async def connection_refused(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable", extra={"error": type(exc).__name__})
        return problem_response(
            503,
            headers={"Retry-After": "5"},
            code="database-unavailable",
            detail="База данных временно недоступна: повторите запрос чуть позже",
            instance=request.url.path,
        )

    async def os_error(request: Request, exc: Exception) -> Response:
        # With PostgreSQL stopped its Unix socket is gone: connecting raises FileNotFoundError (or
        # another OSError) from asyncpg, not ConnectionRefusedError. Any other OSError is ours: 500.
        if connecting_to_database(exc):
            return await connection_refused(request, exc)
        return await unhandled(request, exc)

    async def driver_error(request: Request, exc: Exception) -> Response:
        # Raw asyncpg (the hot read pools of kit.db.make_read_pool): a lost or refused connection is
        # the database being unavailable, like OperationalError above; anything else is ours.
        if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.exceptions.OperatorInterventionError) or (
            isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)
        ):
            return await connection_refused(request, exc)
        constraint = duplicate_key(exc)
        if constraint is not None:
            return _duplicate_response(request, constraint)
        return await unhandled(request, exc)

    async def unhandled(request: Request, exc: Exception) -> Response:
        template = route_template(request.scope)
        if isinstance(exc, DBAPIError | asyncpg.PostgresError):
            # A database error's text carries the statement's parameters and the row's values (DETAIL: Key
            # (...)=(...)): log where it happened and the stack, not the message.
            log.error(
                "unhandled database error",
                extra={
                    "path_template": template,
                    "error": type(exc).__name__,
                    "sqlstate": (_sqlstate(exc) if isinstance(exc, DBAPIError) else exc.sqlstate) or "unknown",
                    "stack": "".join(traceback.format_tb(exc.__traceback__)),
                },
            )
        else:
            log.exception("unhandled error", extra={"path_template": template})
        return problem_response(
            500, detail="Произошла непредвиденная ошибка. Повторите попытку позже", instance=request.url.path
        )

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, request_validation)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(ConnectionRefusedError, connection_refused)
    app.add_exception_handler(OSError, os_error)
    app.add_exception_handler(asyncpg.PostgresError, driver_error)
    app.add_exception_handler(asyncpg.InterfaceError, driver_error)
    app.add_exception_handler(Exception, unhandled)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries typing the given statuses as problem+json."""
    out: dict[int | str, dict[str, Any]] = {}
    for s in statuses:
        out[s] = {
            "description": status_title(s),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out
