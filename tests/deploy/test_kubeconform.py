"""The CloudNativePG manifests validate against the operator's CRD schemas, offline (issue 16, point 3).

kubeconform is a Go binary that no package registry reachable here ships (not on PyPI, npm or Debian), so
this test does what `kubeconform -strict` does with the same schemas: it validates every CloudNativePG
object of deploy/k8s against `deploy/k8s/schemas/<group>/<kind>_<version>.json` (CloudNativePG's CRDs
converted by deploy/k8s/schemas/openapi2jsonschema.py; source and licence in deploy/k8s/schemas/README.md)
with a JSON Schema validator. Where kubeconform is installed, it is run on the same files as well."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
OPERATOR_GROUP = "postgresql.cnpg.io"
SCHEMA_LOCATION = str(SCHEMAS) + "/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"


def manifests() -> list[tuple[str, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [
        (name, doc)
        for name in kustomization["resources"]
        for doc in yaml.safe_load_all((K8S / name).read_text())
        if doc
    ]


def operator_objects() -> list[tuple[str, dict[str, Any]]]:
    return [(n, d) for n, d in manifests() if d["apiVersion"].split("/")[0] == OPERATOR_GROUP]


def schema_of(doc: dict[str, Any]) -> Path:
    group, version = doc["apiVersion"].split("/")
    return SCHEMAS / group / f"{doc['kind'].lower()}_{version}.json"


def errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema_rs.Draft4Validator(json.loads(schema_of(doc).read_text()))
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_the_operator_s_kinds_are_all_there() -> None:
    kinds = {d["kind"] for _, d in operator_objects()}
    assert kinds == {"Cluster", "Pooler", "ScheduledBackup"}
    for _, doc in operator_objects():
        assert schema_of(doc).is_file(), schema_of(doc)


@pytest.mark.parametrize("name, doc", operator_objects(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_validates_against_the_crd_schema(name: str, doc: dict[str, Any]) -> None:
    assert errors(doc) == [], name


def test_the_validator_catches_what_kubeconform_strict_would() -> None:
    """The schemas are strict: an unknown field, a wrong type and a value out of its enum are errors."""
    (cluster,) = [d for _, d in operator_objects() if d["kind"] == "Cluster"]
    for broken in (
        {**cluster, "spec": {**cluster["spec"], "instanses": 2}},
        {**cluster, "spec": {**cluster["spec"], "instances": "two"}},
        {**cluster, "spec": {**cluster["spec"], "primaryUpdateMethod": "reboot"}},
    ):
        assert errors(broken)
    (pooler,) = [d for _, d in operator_objects() if d["kind"] == "Pooler"]
    assert errors({**pooler, "spec": {k: v for k, v in pooler["spec"].items() if k != "cluster"}})


def test_kubeconform_accepts_the_manifests() -> None:
    """Only where kubeconform is installed (it checks the built-in kinds against Kubernetes' schemas too)."""
    binary = shutil.which("kubeconform")
    if binary is None:
        pytest.skip("kubeconform is not installed (no registry reachable here ships it)")
    files = [str(K8S / n) for n in yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]]
    r = subprocess.run(
        [binary, "-strict", "-summary", "-schema-location", "default", "-schema-location", SCHEMA_LOCATION, *files],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
