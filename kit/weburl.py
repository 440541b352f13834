"""Links people follow: http and https only, never `javascript:`, `data:` or `file:`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, StringConstraints

WEB_SCHEMES = frozenset({"http", "https"})


def web_url(value: str) -> str:
    """The link as given, when it is an absolute http(s) address with a host; a ValueError otherwise."""
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError("not a link") from None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        raise ValueError("only http and https links with a host are accepted")
    return value


# A link shown to people (a catalogue entry, evidence of a result): stored as sent, checked on the way in.
WebUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(web_url)]
