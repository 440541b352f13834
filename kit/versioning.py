"""Optimistic concurrency over HTTP: ETag from a version column, If-Match checked against it."""

from __future__ import annotations

from kit.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version an optional If-Match names (None when absent or `*`); 412 when it names none."""
    if value is None or value.strip() == "*":
        return None
    v = value.strip().removeprefix("W/").strip('"')
    try:
        return int(v)
    except ValueError:
        raise PreconditionFailed("If-Match does not match the current version", code="stale-version") from None


def require_if_match(value: str | None) -> int:
    """The version a required If-Match names: 428 when missing (or `*`), 412 when it names none."""
    if value is None:
        raise PreconditionRequired("send If-Match with the ETag you read", code="if-match-required")
    expected = parse_if_match(value)
    if expected is None:
        raise PreconditionRequired("If-Match must name a version, not *", code="if-match-required")
    return expected


def ensure_current(expected: int | None, current: int, what: str = "the object") -> None:
    """412 when the caller read an older version than the current one."""
    if expected is not None and expected != current:
        raise PreconditionFailed(f"{what} changed since you read it", code="stale-version")
