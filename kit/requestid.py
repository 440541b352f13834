"""The request id: taken from X-Request-ID or made, carried in a context variable."""

from __future__ import annotations

import random
import re
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


_random = random.Random()


def new_request_id() -> str:
    # 64 random bits to tie log lines together, not a secret: no system call per request.
    return f"{_random.getrandbits(64):016x}"


def accept_or_make(value: str | None) -> str:
    """Keep a caller's id when it is safe to log, otherwise make one."""
    if value and _VALID.match(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> object:
    return _request_id.set(value)


def reset_request_id(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]
