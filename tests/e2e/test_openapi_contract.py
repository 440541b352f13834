"""The committed openapi.json is the code's merged spec and what the running gateway serves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from deploy.openapi import DEFAULT_FILE
from gateway.openapi import merge_specs
from tests.harness import Stack

ROOT = Path(__file__).resolve().parents[2]


def dump(out: Path) -> dict[str, object]:
    """The merged spec of the code, built in a process of its own (building apps configures logging)."""
    subprocess.run(
        [sys.executable, "-m", "deploy.openapi", "dump", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    spec: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return spec


@pytest.mark.no_db
def test_committed_openapi_json_is_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "deploy.openapi", "check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, (
        "openapi.json differs from the API the code describes: run `make openapi` and commit openapi.json\n"
        + proc.stderr
    )


async def test_running_gateway_serves_the_same_document(live: Stack, tmp_path: Path) -> None:
    built = dump(tmp_path / "openapi.json")
    async with httpx.AsyncClient(base_url=live.gateway) as c:
        served = (await c.get("/openapi.json")).json()
    assert served == built
    committed = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    assert committed["paths"].keys() == served["paths"].keys(), "run `make openapi`"


@pytest.mark.no_db
def test_a_renamed_schema_is_titled_by_its_new_name() -> None:
    def spec(values: list[str], path: str) -> dict[str, object]:
        return {
            "paths": {path: {"get": {"operationId": path, "responses": {}}}},
            "components": {"schemas": {"Band": {"title": "Band", "type": "string", "enum": values}}},
        }

    merged = merge_specs(
        {"a": spec(["x"], "/api/v1/a"), "audit": spec(["y"], "/api/v1/b")}, title="t", version="1", description="d"
    )
    schemas = merged["components"]["schemas"]
    assert schemas["Band"]["title"] == "Band" and schemas["AuditBand"]["title"] == "AuditBand"
