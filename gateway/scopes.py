"""API-key scopes: the one table (data/scopes.json) of what each operation needs, and finding a request's operation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SCOPES_FILE = Path(__file__).parent / "data" / "scopes.json"


@dataclass(frozen=True)
class Operation:
    """One operation of the merged API: `METHOD /api/v1/path/{param}` and the scope an API key needs for it."""

    key: str
    method: str
    segments: tuple[str | None, ...]  # None where the template has a path parameter
    scope: str

    @property
    def literals(self) -> int:
        return sum(s is not None for s in self.segments)


def _segments(template: str) -> tuple[str | None, ...]:
    return tuple(None if s.startswith("{") and s.endswith("}") else s for s in template.strip("/").split("/"))


class ScopeTable:
    """Operation -> scope, read from data; a request's operation is the template it fits with most literal segments."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.scopes: dict[str, str] = dict(doc["scopes"])
        self.operations: dict[str, str] = dict(doc["operations"])
        unknown = set(self.operations.values()) - set(self.scopes)
        if unknown:
            raise ValueError(f"operations need scopes that are not described: {sorted(unknown)}")
        self._by_shape: dict[tuple[str, int], list[Operation]] = {}
        for key, scope in self.operations.items():
            method, _, template = key.partition(" ")
            op = Operation(key, method, _segments(template), scope)
            self._by_shape.setdefault((method, len(op.segments)), []).append(op)
        for ops in self._by_shape.values():
            ops.sort(key=lambda o: (-o.literals, [s is None for s in o.segments]))

    def find(self, method: str, path: str) -> Operation | None:
        """The operation a request calls, or None when no operation has this method and path."""
        parts = path.strip("/").split("/")
        for op in self._by_shape.get((method.upper(), len(parts)), ()):
            if all(s is None or s == p for s, p in zip(op.segments, parts, strict=True)) and all(parts):
                return op
        return None

    def scope_of(self, method: str, template: str) -> str | None:
        return self.operations.get(f"{method.upper()} {template}")


@cache
def scope_table() -> ScopeTable:
    return ScopeTable(json.loads(SCOPES_FILE.read_text(encoding="utf-8")))


def known_scopes() -> list[str]:
    return list(scope_table().scopes)
