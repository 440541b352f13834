"""Merging service specs: shared identical schemas, renamed clashing ones, unique operationIds."""

import pytest

from gateway.openapi import merge_specs

pytestmark = pytest.mark.no_db


def spec(op_id: str, path: str, schema: dict[str, object]) -> dict[str, object]:
    return {
        "paths": {
            path: {
                "get": {
                    "operationId": op_id,
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}
                    },
                }
            },
            "/livez": {"get": {"operationId": "health-livez"}},
        },
        "components": {"schemas": {"Item": schema, "Problem": {"type": "object"}}},
    }


def test_clashing_schema_names_are_prefixed_and_refs_rewritten() -> None:
    merged = merge_specs(
        {
            "assessment": spec("a-get", "/api/v1/a", {"type": "object", "title": "A"}),
            "resources": spec("b-get", "/api/v1/b", {"type": "object", "title": "B"}),
        },
        title="t",
        version="1",
        description="d",
    )
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"Item", "ResourcesItem", "Problem"}
    ref = merged["paths"]["/api/v1/b"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ResourcesItem"
    assert "/livez" not in merged["paths"]


def test_duplicate_operation_ids_get_the_service_prefix() -> None:
    merged = merge_specs(
        {
            "assessment": spec("x-get", "/api/v1/a", {"type": "object"}),
            "routes": spec("x-get", "/api/v1/b", {"type": "object"}),
        },
        title="t",
        version="1",
        description="d",
    )
    assert merged["paths"]["/api/v1/b"]["get"]["operationId"] == "routes-x-get"
