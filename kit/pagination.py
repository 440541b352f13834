"""Keyset pagination: opaque cursors over a whitelisted sort key plus the id."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from kit.errors import FieldError, ValidationFailed
from kit.jsonutil import dumps, loads

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` to get the next page")


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(dumps(values)).decode().rstrip("=")


# The kinds of a key in a cursor: each takes the decoded JSON value and gives it in the form the query
# binds, or raises ValueError/TypeError for a value of another kind.
def key_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def key_id(value: Any) -> str:
    return str(uuid.UUID(key_text(value)))


def key_date(value: Any) -> str:
    return date.fromisoformat(key_text(value)).isoformat()


def key_time(value: Any) -> str:
    return datetime.fromisoformat(key_text(value)).isoformat()


def key_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(value)
    return value


def key_number(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(value)
    return float(value)


def key_any(value: Any) -> Any:
    return value


def decode_cursor(cursor: str | None, kinds: Sequence[Callable[[Any], Any]], param: str = "cursor") -> list[Any] | None:
    """Decode an opaque cursor into its key values, one of each of `kinds` (key_time, key_id for a page by
    creation time, say), or 422 when it was not made by us: a value of the wrong kind is the same 422
    rather than an error of the database."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        return [kind(value) for kind, value in zip(kinds, values, strict=True)]
    except (ValueError, TypeError) as e:
        raise invalid_cursor(param) from e


def cursor_key(kind: Callable[[Any], Any], value: Any) -> Any:
    """One key of a decoded cursor whose kind depends on another key (the sort order it was made for)."""
    try:
        return kind(value)
    except (ValueError, TypeError) as e:
        raise invalid_cursor() from e


def invalid_cursor(param: str = "cursor", detail: str = "Курсор страницы записан неверно") -> ValidationFailed:
    """The 422 for a cursor query parameter `param` that was not made by us (or names another page's keys);
    `detail` says what is wrong when more is known (a cursor of another sort order, say)."""
    return ValidationFailed(
        detail,
        code="invalid-cursor",
        errors=[
            FieldError(
                loc=["query", param],
                code="invalid-cursor",
                message="Передайте курсор из ответа на предыдущую страницу",
            )
        ],
    )
