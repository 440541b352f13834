"""Failures the fuzzer may report that we accept, each with its reason. Reviewed; keep it small.

An entry matches a failure by operation (a regular expression on "METHOD /path"), the failure's
schemathesis code (`st explain <code>`) and, when given, the response status. Everything else the
fuzzer reports fails the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Accepted:
    operation: str  # regular expression, matched in full against "METHOD /api/v1/..."
    code: str  # e.g. ST103 (undocumented status code)
    status: int | None
    reason: str

    def matches(self, operation: str, code: str, status: int | None) -> bool:
        return (
            self.code == code
            and (self.status is None or self.status == status)
            and re.fullmatch(self.operation, operation) is not None
        )


ACCEPTED: tuple[Accepted, ...] = (
    Accepted(
        operation=r"[A-Z]+ /api/v1/.*\{[a-z_]+\}.*",
        code="ST103",
        status=307,
        reason="A path parameter that decodes to something ending in '/' (e.g. 'x%2F') makes the path end "
        "with a slash; Starlette redirects to the path without it (the gateway makes the Location relative). "
        "A generic HTTP behaviour of every route, not worth declaring on each operation.",
    ),
)


def accepted(operation: str, code: str, status: int | None) -> Accepted | None:
    return next((a for a in ACCEPTED if a.matches(operation, code, status)), None)
