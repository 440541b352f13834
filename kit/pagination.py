"""Keyset pagination: opaque cursors over a whitelisted sort key plus the id."""

from __future__ import annotations

import base64
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


def decode_cursor(cursor: str | None, size: int) -> list[Any] | None:
    """Decode an opaque cursor into `size` key values, or 422 when it was not made by us."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != size:
            raise ValueError
        return values
    except ValueError as e:
        raise invalid_cursor() from e


def invalid_cursor(param: str = "cursor") -> ValidationFailed:
    """The 422 for a cursor query parameter `param` that was not made by us (or names another page's keys)."""
    return ValidationFailed(
        "Курсор страницы записан неверно",
        errors=[
            FieldError(
                loc=["query", param],
                code="invalid-cursor",
                message="Передайте курсор из ответа на предыдущую страницу",
            )
        ],
    )
