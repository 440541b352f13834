"""Turn CloudNativePG's CustomResourceDefinitions into the JSON schemas kubeconform reads, as kubeconform's
own openapi2jsonschema.py does (strict: every object with properties gets additionalProperties: false;
x-kubernetes-int-or-string becomes string or integer).

    python deploy/k8s/schemas/openapi2jsonschema.py <CRD yaml> ...   # writes <group>/<kind>_<version>.json here

kubeconform -strict -schema-location default \\
    -schema-location 'deploy/k8s/schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json' <manifests>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent


def strict(node: Any) -> Any:
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    open_ended = "additionalProperties" in out or out.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in out and not open_ended:
        out["additionalProperties"] = False
    return out


def convert(crd_path: Path) -> list[Path]:
    written = []
    for crd in yaml.safe_load_all(crd_path.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            schema["$schema"] = "http://json-schema.org/draft-04/schema#"
            target = HERE / group / f"{kind.lower()}_{version['name']}.json"
            target.parent.mkdir(exist_ok=True)
            target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
            written.append(target)
    return written


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        for path in convert(Path(arg)):
            print(path.relative_to(HERE))
