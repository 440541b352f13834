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


def test_same_text_pointing_at_a_renamed_schema_is_renamed_too() -> None:
    def page_spec(item: dict[str, object], path: str, op_id: str) -> dict[str, object]:
        return {
            "paths": {
                path: {
                    "get": {
                        "operationId": op_id,
                        "responses": {
                            "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}}
                        },
                    }
                }
            },
            "components": {
                "schemas": {
                    "Item": item,
                    "Page": {
                        "type": "object",
                        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}},
                    },
                }
            },
        }

    merged = merge_specs(
        {
            "assessment": page_spec({"type": "object", "title": "A"}, "/api/v1/a", "a"),
            "audit": page_spec({"type": "object", "title": "B"}, "/api/v1/b", "b"),
        },
        title="t",
        version="1",
        description="d",
    )
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"Item", "Page", "AuditItem", "AuditPage"}
    assert schemas["AuditPage"]["properties"]["items"]["items"]["$ref"] == "#/components/schemas/AuditItem"
    ref = merged["paths"]["/api/v1/b"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/AuditPage"
