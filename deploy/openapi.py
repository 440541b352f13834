"""The merged OpenAPI document of the whole API, built without running any server.

python -m deploy.openapi dump [--out openapi.json]   # what `make openapi` does
python -m deploy.openapi check [--file openapi.json] # exit 1 when the file is out of date

The gateway merges the services' /openapi.json at run time (gateway.openapi.merge_specs); this is
tooling, so it may import each service's create_app() and merge the same documents the same way.
A test compares the result with what a running gateway serves.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "openapi.json"
# The gateway's order (GatewaySettings.upstreams): it decides which clashing schema keeps its name.
SERVICES = ("assessment", "resources", "routes", "audit")


def service_spec(name: str) -> dict[str, Any]:
    """The OpenAPI document a service serves at /openapi.json (its app is built, not started)."""
    module = importlib.import_module(f"services.{name}.app")
    app = module.create_app()
    while not isinstance(app, FastAPI):  # inside the request context middleware (and a fast lane)
        app = app.app
    # Round-trip through JSON: the served document is JSON, so compare like with like.
    spec: dict[str, Any] = json.loads(json.dumps(app.openapi()))
    return spec


def merged_spec() -> dict[str, Any]:
    """The document the gateway serves at /openapi.json when every service is up."""
    import logging

    from gateway.app import API_DESCRIPTION
    from gateway.openapi import merge_specs

    specs = {name: service_spec(name) for name in SERVICES}
    # create_app() configures logging for its service; tooling output stays quiet.
    logging.getLogger().setLevel(logging.WARNING)
    merged = merge_specs(specs, title="IOM platform API", version="1.0.0", description=API_DESCRIPTION)
    out: dict[str, Any] = json.loads(json.dumps(merged))
    return out


def render(spec: dict[str, Any]) -> str:
    """Stable text: sorted keys would reorder paths and responses, so keep order, indent, end with a newline."""
    return json.dumps(spec, ensure_ascii=False, indent=2) + "\n"


def cmd_dump(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.write_text(render(merged_spec()), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    path = Path(args.file)
    current = render(merged_spec())
    if not path.exists() or path.read_text(encoding="utf-8") != current:
        print(f"{path} is out of date with the code: run `make openapi` and commit it", file=sys.stderr)
        return 1
    print(f"{path} is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.openapi")
    sub = parser.add_subparsers(dest="command", required=True)
    p_dump = sub.add_parser("dump", help="write the merged OpenAPI document")
    p_dump.add_argument("--out", default=str(DEFAULT_FILE))
    p_check = sub.add_parser("check", help="fail when the committed document differs from the code")
    p_check.add_argument("--file", default=str(DEFAULT_FILE))
    args = parser.parse_args(argv)
    handler = {"dump": cmd_dump, "check": cmd_check}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
