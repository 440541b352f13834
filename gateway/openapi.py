"""Merge the services' OpenAPI documents into one: unique operationIds, no duplicated components."""

from __future__ import annotations

import copy
import json
from typing import Any

from gateway.scopes import ScopeTable, scope_table

API_KEY_DESCRIPTION = (
    "A machine client's key. It calls only operations whose scope it was issued with: each operation's "
    "`apiKeyAuth` requirement names that scope (OpenAPI 3.1 role names). Scopes: "
)


def security_of(method: str, path: str, scopes: ScopeTable) -> list[dict[str, list[str]]]:
    """People's tokens, or an API key holding the operation's scope (none: keys may not call it)."""
    scope = scopes.scope_of(method, path)
    out: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    if scope:
        out.append({"apiKeyAuth": [scope]})
    return out


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/components/schemas/"):
                name = v.rsplit("/", 1)[1]
                out[k] = "#/components/schemas/" + renames.get(name, name)
            else:
                out[k] = _rewrite_refs(v, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def _refs(node: Any) -> set[str]:
    """Names of the component schemas a schema refers to."""
    out: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/components/schemas/"):
                out.add(v.rsplit("/", 1)[1])
            else:
                out |= _refs(v)
    elif isinstance(node, list):
        for v in node:
            out |= _refs(v)
    return out


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def _prefix(service: str) -> str:
    return "".join(p.capitalize() for p in service.split("_"))


def merge_specs(
    specs: dict[str, dict[str, Any]],
    *,
    title: str,
    version: str,
    description: str,
    gateway_paths: dict[str, Any] | None = None,
    scopes: ScopeTable | None = None,
) -> dict[str, Any]:
    """Return one OpenAPI 3.1 document for the whole API (services in the given order)."""
    scopes = scopes or scope_table()
    key_doc = API_KEY_DESCRIPTION + "; ".join(f"`{name}`: {what}" for name, what in scopes.scopes.items())
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": key_doc},
            },
        },
        "tags": [],
    }
    schemas: dict[str, Any] = merged["components"]["schemas"]
    seen_ops: set[str] = set()
    seen_tags: set[str] = set()
    for service, raw in specs.items():
        spec = copy.deepcopy(raw)
        renames: dict[str, str] = {}
        own = spec.get("components", {}).get("schemas", {})
        # Decide names: identical schemas are shared, clashing ones get the service's prefix. A schema
        # that refers to a renamed one means something else even when its text is the same, so
        # renaming spreads to it too, until nothing changes.
        changed = True
        while changed:
            changed = False
            for name, schema in own.items():
                if name in renames or name not in schemas:
                    continue
                if _canon(schemas[name]) != _canon(schema) or _refs(schema) & set(renames):
                    renames[name] = _prefix(service) + name
                    changed = True
        for name, schema in own.items():
            target = renames.get(name, name)
            fixed = _rewrite_refs(schema, renames)
            if target != name and isinstance(fixed, dict) and fixed.get("title") == name:
                # Generators name classes after the title: a kept "Band" title would clash with the
                # other service's Band (openapi-python-client then drops the schema and its users).
                fixed["title"] = target
            if target in schemas and _canon(schemas[target]) != _canon(fixed):
                raise ValueError(f"schema name clash that renaming could not solve: {target}")
            schemas[target] = fixed
        for path, item in spec.get("paths", {}).items():
            if not path.startswith("/api/"):
                continue  # health and docs of each service stay private
            if path in merged["paths"]:
                raise ValueError(f"path {path} is served by two services")
            item = _rewrite_refs(item, renames)
            for method, op in item.items():
                if not isinstance(op, dict) or method == "parameters":
                    continue
                op_id = str(op.get("operationId") or f"{service}-{path}")
                if op_id in seen_ops:
                    op_id = f"{service}-{op_id}"
                    op["operationId"] = op_id
                seen_ops.add(op_id)
                if "security" in op:
                    op["security"] = security_of(method, path, scopes)
                op.setdefault("x-service", service)
                for t in op.get("tags", []):
                    if t not in seen_tags:
                        seen_tags.add(t)
                        merged["tags"].append({"name": t, "x-service": service})
            merged["paths"][path] = item
    for path, item in (gateway_paths or {}).items():
        merged["paths"][path] = item
    return merged
