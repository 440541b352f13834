"""Optimistic concurrency over HTTP: ETag from a version column, If-Match checked against it, and
If-None-Match for conditional reads (304 when the caller's copy is current)."""

from __future__ import annotations

from kit.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def not_modified(if_none_match: str | None, version: int) -> bool:
    """Whether an If-None-Match names this version (or `*`): weak comparison, as RFC 9110 asks for GET."""
    if if_none_match is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag(version) in tags


def parse_if_match(value: str | None) -> int | None:
    """The version an optional If-Match names (None when absent or `*`); 412 when it names none."""
    if value is None or value.strip() == "*":
        return None
    v = value.strip().removeprefix("W/").strip('"')
    try:
        return int(v)
    except ValueError:
        raise PreconditionFailed(
            "Версия в If-Match не совпадает с текущей: прочитайте запись заново", code="stale-version"
        ) from None


def require_if_match(value: str | None) -> int:
    """The version a required If-Match names: 428 when missing (or `*`), 412 when it names none."""
    if value is None:
        raise PreconditionRequired(
            "Передайте заголовок If-Match со значением ETag, полученным при чтении", code="if-match-required"
        )
    expected = parse_if_match(value)
    if expected is None:
        raise PreconditionRequired(
            "В заголовке If-Match укажите версию (значение ETag), а не *", code="if-match-required"
        )
    return expected


def ensure_current(
    expected: int | None,
    current: int,
    detail: str = "Запись изменилась с тех пор, как вы её прочитали: прочитайте её заново и повторите изменение",
) -> None:
    """412 when the caller read an older version than the current one; `detail` says it for people."""
    if expected is not None and expected != current:
        raise PreconditionFailed(detail, code="stale-version")
