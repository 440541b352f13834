"""Fast JSON helpers (orjson)."""

from __future__ import annotations

import decimal
import uuid
from typing import Any

import orjson


def _default(obj: Any) -> Any:
    # asyncpg returns its own UUID type (not a uuid.UUID subclass orjson knows); Decimal from numeric.
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if type(obj).__name__ == "UUID" or isinstance(obj, uuid.UUID):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(obj: Any) -> bytes:
    # UTC as `Z`, the way pydantic writes it: a route read and the same route answered by a write
    # must not differ in how they spell a time.
    return orjson.dumps(obj, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
