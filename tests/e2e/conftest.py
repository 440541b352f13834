"""End-to-end fixtures: a Python client generated from what the running gateway serves."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.cycle import Generated
from tests.harness import Stack

CLIENT_CONFIG = Path(__file__).with_name("client_config.yaml")
PACKAGE = "iom_generated_client"


@dataclass
class GeneratedClient:
    gen: Generated
    path: Path
    output: str  # what the generator printed


def generate_client(spec: dict[str, object], out: Path) -> tuple[Path, str]:
    """Run openapi-python-client on `spec`; return the package folder and the generator's output."""
    spec_file = out / "openapi.json"
    spec_file.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    target = out / PACKAGE
    generator = Path(sys.executable).with_name("openapi-python-client")
    proc = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(spec_file),
            "--meta",
            "none",
            "--output-path",
            str(target),
            "--config",
            str(CLIENT_CONFIG),
        ],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, output
    return target, output


@pytest.fixture(scope="session")
def generated_client(live: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedClient]:
    spec = httpx.get(live.gateway + "/openapi.json", timeout=30).json()
    assert "x-unavailable-services" not in spec["info"], spec["info"]
    out = tmp_path_factory.mktemp("generated-client")
    target, output = generate_client(spec, out)
    sys.path.insert(0, str(out))
    try:
        yield GeneratedClient(Generated(PACKAGE), target, output)
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]
