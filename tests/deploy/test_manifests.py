"""Deployment files agree with each other and with the processes' contract (no Docker, no network)."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit.settings import CommonSettings, ServiceSettings

# Files only: no database, no network, no Docker engine.
pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
INIT_SQL = ROOT / "deploy" / "postgres" / "init.sql"

# process -> (python module, port); the contract every deployment file follows.
PROCESSES: dict[str, tuple[str, int]] = {
    "gateway": ("gateway", 8000),
    "assessment": ("services.assessment", 8001),
    "resources": ("services.resources", 8002),
    "routes": ("services.routes", 8003),
    "audit": ("services.audit", 8004),
}
SERVICES = [p for p in PROCESSES if p != "gateway"]
MIGRATE = ["python", "-m", "deploy.stack", "migrate"]
EXPORT = ["python", "-m", "services.routes", "export", "--month", "previous"]
COMMON_ENV = {
    "DATABASE_URL", "ENVIRONMENT", "LOG_LEVEL", "LOG_FORMAT", "JWT_SECRET", "JWT_ALGORITHMS",
    "JWT_ISSUER", "JWT_AUDIENCE", "MAX_BODY_BYTES", "GATEWAY_URL",
}  # fmt: skip
GATEWAY_ENV = {f"GATEWAY_{s.upper()}_URL" for s in SERVICES} | {"GATEWAY_UPSTREAM_TIMEOUT_SECONDS"}
DOCKERFILES = {
    "deploy/Dockerfile": "gateway",
    "gateway/Dockerfile": "gateway",
    **{f"services/{s}/Dockerfile": s for s in SERVICES},
}


def serve(process: str) -> list[str]:
    return ["python", "-m", PROCESSES[process][0], "serve"]


def settings_class(process: str) -> type[ServiceSettings]:
    """The process's own settings class (the ServiceSettings subclass in <module>.config)."""
    module = importlib.import_module(f"{PROCESSES[process][0]}.config")
    (cls,) = [
        c for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, ServiceSettings) and c is not ServiceSettings
    ]  # fmt: skip
    return cls


def known_env_name(name: str) -> bool:
    """True when a process reads `name`: a common setting or one of a process's <NAME>_ settings."""
    if name == "PORT":  # read by the image's HEALTHCHECK only
        return True
    if name.lower() in CommonSettings.model_fields:
        return True
    prefix, _, field = name.partition("_")
    return prefix.lower() in PROCESSES and field.lower() in settings_class(prefix.lower()).model_fields


@pytest.mark.parametrize("process", list(PROCESSES))
def test_settings_match_the_contract(process: str) -> None:
    cls = settings_class(process)
    assert cls.model_config["env_prefix"] == f"{process.upper()}_"
    assert cls.model_fields["name"].default == process
    assert cls.model_fields["port"].default == PROCESSES[process][1]
    assert set(GATEWAY_ENV) <= {f"GATEWAY_{f.upper()}" for f in settings_class("gateway").model_fields}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def k8s_docs() -> dict[str, list[dict[str, Any]]]:
    docs: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        docs[path.name] = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


@pytest.fixture(scope="module")
def objects(k8s_docs: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for name, docs in k8s_docs.items():
        if name == "kustomization.yaml":
            continue
        for d in docs:
            key = (d["kind"], d["metadata"]["name"])
            assert key not in out, f"{key} defined twice"
            out[key] = d
    return out


def of_kind(objects: dict[tuple[str, str], dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {name: obj for (k, name), obj in objects.items() if k == kind}


def config_data(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str]:
    return objects[("ConfigMap", "iom-config")]["data"]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


class TestCompose:
    def test_has_postgres_migrate_and_every_process(self, compose: dict[str, Any]) -> None:
        assert set(compose["services"]) == {"postgres", "migrate", *PROCESSES}

    def test_postgres_creates_the_database_and_reports_health(self, compose: dict[str, Any]) -> None:
        pg = compose["services"]["postgres"]
        assert pg["image"].startswith("postgres:")
        assert int(pg["image"].split(":")[1].split("-")[0]) >= 16
        assert pg["environment"]["POSTGRES_DB"] == "iom"
        assert "pg_isready" in " ".join(pg["healthcheck"]["test"])

    def test_migrate_runs_once_with_the_superuser_url_and_every_password(self, compose: dict[str, Any]) -> None:
        m = compose["services"]["migrate"]
        assert m["command"] == MIGRATE
        assert m["restart"] == "no"
        assert m["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        assert re.match(r"postgresql://[^:/@]+:[^@]+@postgres:5432/iom$", m["environment"]["DATABASE_URL"])
        for p in PROCESSES:
            assert f"{p.upper()}_DB_PASSWORD" in m["environment"]

    @pytest.mark.parametrize("process", list(PROCESSES))
    def test_process_command_ports_and_env(self, compose: dict[str, Any], process: str) -> None:
        svc = compose["services"][process]
        port = PROCESSES[process][1]
        env, prefix = svc["environment"], process.upper()
        assert svc["command"] == serve(process)
        assert COMMON_ENV <= set(env)
        assert env[f"{prefix}_HOST"] == "0.0.0.0"
        assert int(env[f"{prefix}_PORT"]) == port == int(env["PORT"])
        assert f"{prefix}_DB_PASSWORD" in env
        # A process gets its own password only, never the superuser's URL.
        assert not [k for k in env if k.endswith("_DB_PASSWORD") and k != f"{prefix}_DB_PASSWORD"]
        assert "@" not in env["DATABASE_URL"]
        assert all(known_env_name(k) for k in env), [k for k in env if not known_env_name(k)]
        assert svc["depends_on"]["postgres"] == {"condition": "service_healthy"}
        assert svc["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}

    def test_every_process_uses_the_one_image(self, compose: dict[str, Any]) -> None:
        for name in ["migrate", *PROCESSES]:
            svc = compose["services"][name]
            assert svc["image"] == "iom-platform:latest"
            assert svc["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}

    def test_common_env_is_shared_and_sane(self, compose: dict[str, Any]) -> None:
        envs = [compose["services"][p]["environment"] for p in PROCESSES]
        for key in COMMON_ENV - {"DATABASE_URL"}:
            assert len({e[key] for e in envs}) == 1, key
        env = envs[0]
        algorithms = json.loads(env["JWT_ALGORITHMS"])
        assert isinstance(algorithms, list) and algorithms and "none" not in [a.lower() for a in algorithms]
        assert env["JWT_ISSUER"] == CommonSettings.model_fields["jwt_issuer"].default
        assert env["JWT_AUDIENCE"] == CommonSettings.model_fields["jwt_audience"].default
        assert env["GATEWAY_URL"] == "http://gateway:8000"
        default = re.fullmatch(r"\$\{JWT_SECRET:-(.+)\}", env["JWT_SECRET"])
        assert default and len(default.group(1)) >= 40

    def test_gateway_is_published_and_reaches_every_service(self, compose: dict[str, Any]) -> None:
        gw = compose["services"]["gateway"]
        assert any(str(p).endswith(":8000") for p in gw["ports"])
        for s in SERVICES:
            assert gw["environment"][f"GATEWAY_{s.upper()}_URL"] == f"http://{s}:{PROCESSES[s][1]}"
            assert gw["depends_on"][s] == {"condition": "service_healthy"}
        assert GATEWAY_ENV <= set(gw["environment"])
        for s in SERVICES:
            assert "ports" not in compose["services"][s]


class TestDockerfiles:
    @pytest.mark.parametrize("path", list(DOCKERFILES))
    def test_builds_the_platform_as_a_non_root_user(self, path: str) -> None:
        text = (ROOT / path).read_text()
        assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
        assert "pip install --no-cache-dir -r requirements.lock" in text
        for src in ["kit/", "services/", "gateway/", "deploy/", "pyproject.toml"]:
            assert re.search(rf"^COPY {re.escape(src)}", text, re.M), src
        assert re.search(r"PYTHONPATH=/app\b", text)
        user = re.findall(r"^USER (\S+)", text, re.M)
        assert user and user[-1].split(":")[0] not in {"root", "0"}
        assert re.search(r"^HEALTHCHECK .*\n?.*urllib.*/livez", text, re.M)

    @pytest.mark.parametrize("path", list(DOCKERFILES))
    def test_cmd_serves_an_existing_module(self, path: str) -> None:
        text = (ROOT / path).read_text()
        process = DOCKERFILES[path]
        cmd = json.loads(re.findall(r"^CMD (\[.*\])$", text, re.M)[-1])
        assert cmd == serve(process)
        assert (ROOT / cmd[2].replace(".", "/") / "__main__.py").is_file()

    def test_the_shared_image_exposes_every_port(self) -> None:
        text = (ROOT / "deploy/Dockerfile").read_text()
        assert re.search(r"^EXPOSE 8000-8004$", text, re.M)
        for p in PROCESSES:
            assert f"{p.upper()}_HOST=0.0.0.0" in text

    @pytest.mark.parametrize("path", [p for p in DOCKERFILES if p != "deploy/Dockerfile"])
    def test_process_image_listens_on_its_port(self, path: str) -> None:
        text = (ROOT / path).read_text()
        process = DOCKERFILES[path]
        port = PROCESSES[process][1]
        assert re.search(rf"^EXPOSE {port}$", text, re.M)
        assert f"PORT={port}" in text and f"{process.upper()}_PORT={port}" in text
        assert f"{process.upper()}_HOST=0.0.0.0" in text

    def test_dockerignore_keeps_local_state_and_tests_out(self) -> None:
        lines = set((ROOT / ".dockerignore").read_text().split())
        assert {".venv", ".git", ".pgdata", ".run", "exports", "tests", "**/__pycache__"} <= lines


class TestKubernetes:
    def test_kustomization_lists_every_manifest(self, k8s_docs: dict[str, list[dict[str, Any]]]) -> None:
        (kustomization,) = k8s_docs["kustomization.yaml"]
        assert sorted(kustomization["resources"]) == sorted(set(k8s_docs) - {"kustomization.yaml"})
        assert [i["name"] for i in kustomization["images"]] == ["iom-platform"]

    def test_configmap_ports_hosts_and_upstreams(self, objects: dict[tuple[str, str], Any]) -> None:
        data = config_data(objects)
        assert COMMON_ENV - {"JWT_SECRET"} <= set(data)
        assert "@" not in data["DATABASE_URL"]
        for p, (_, port) in PROCESSES.items():
            assert int(data[f"{p.upper()}_PORT"]) == port
            assert data[f"{p.upper()}_HOST"] == "0.0.0.0"
        for s in SERVICES:
            assert data[f"GATEWAY_{s.upper()}_URL"] == f"http://{s}:{PROCESSES[s][1]}"
        assert all(known_env_name(k) for k in data), [k for k in data if not known_env_name(k)]
        assert data["ENVIRONMENT"] == "production"

    @pytest.mark.parametrize("process", list(PROCESSES))
    def test_deployment(self, objects: dict[tuple[str, str], Any], process: str) -> None:
        dep = objects[("Deployment", process)]
        port = int(config_data(objects)[f"{process.upper()}_PORT"])
        assert port == PROCESSES[process][1]
        spec = pod_spec(dep)
        assert spec["securityContext"]["runAsNonRoot"] is True
        (c,) = spec["containers"]
        assert c["image"].split(":")[0] == "iom-platform"
        assert c["command"] == serve(process)
        assert [p["containerPort"] for p in c["ports"]] == [port]
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
        assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": port}
        assert {"cpu", "memory"} <= set(c["resources"]["requests"])
        assert {"cpu", "memory"} <= set(c["resources"]["limits"])
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        env = {e["name"] for e in c["env"]}
        assert {"JWT_SECRET", f"{process.upper()}_DB_PASSWORD"} <= env
        assert all(known_env_name(k) for k in env)
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()

    @pytest.mark.parametrize("process", list(PROCESSES))
    def test_service_targets_the_container_port(self, objects: dict[tuple[str, str], Any], process: str) -> None:
        svc = objects[("Service", process)]
        dep = objects[("Deployment", process)]
        (c,) = pod_spec(dep)["containers"]
        (port,) = svc["spec"]["ports"]
        assert port["targetPort"] == c["ports"][0]["containerPort"] == port["port"]
        assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()

    def test_hpa_targets_existing_deployments(self, objects: dict[tuple[str, str], Any]) -> None:
        hpas = of_kind(objects, "HorizontalPodAutoscaler")
        deployments = of_kind(objects, "Deployment")
        assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} == set(PROCESSES)
        for h in hpas.values():
            assert h["apiVersion"] == "autoscaling/v2"
            ref = h["spec"]["scaleTargetRef"]
            assert ref["kind"] == "Deployment" and ref["name"] in deployments
            (metric,) = h["spec"]["metrics"]
            assert metric["resource"]["name"] == "cpu"
            assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}

    def test_ingress_sends_the_api_to_the_gateway(self, objects: dict[tuple[str, str], Any]) -> None:
        services = of_kind(objects, "Service")
        rules = [r for i in of_kind(objects, "Ingress").values() for r in i["spec"]["rules"]]
        paths = [p for r in rules for p in r["http"]["paths"]]
        assert {p["path"] for p in paths} >= {"/api", "/docs", "/openapi.json"}
        for p in paths:
            backend = p["backend"]["service"]
            assert backend["name"] in services
            ports = {sp["port"] for sp in services[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["number"] in ports
            assert backend["name"] == "gateway"

    def test_migration_job(self, objects: dict[tuple[str, str], Any]) -> None:
        (job,) = of_kind(objects, "Job").values()
        (c,) = pod_spec(job)["containers"]
        assert c["command"] == MIGRATE
        # The superuser URL must come last so it wins over the credential-free one.
        assert c["envFrom"][-1] == {"secretRef": {"name": "iom-db-admin"}}

    def test_monthly_export_cronjob(self, objects: dict[tuple[str, str], Any]) -> None:
        (cron,) = of_kind(objects, "CronJob").values()
        assert cron["spec"]["schedule"] == "0 3 1 * *"
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        (c,) = pod_spec(cron)["containers"]
        assert c["command"] == EXPORT
        assert "ROUTES_DB_PASSWORD" in {e["name"] for e in c["env"]}

    def test_references_resolve(self, objects: dict[tuple[str, str], Any]) -> None:
        secrets = {n: set(s["stringData"]) for n, s in of_kind(objects, "Secret").items()}
        configmaps = of_kind(objects, "ConfigMap")
        claims = of_kind(objects, "PersistentVolumeClaim")
        workloads = [*of_kind(objects, "Deployment").values(), *of_kind(objects, "Job").values(),
                     *of_kind(objects, "CronJob").values()]  # fmt: skip
        for w in workloads:
            spec = pod_spec(w)
            assert spec["securityContext"]["runAsNonRoot"] is True
            for c in spec["containers"]:
                for src in c.get("envFrom", []):
                    if "configMapRef" in src:
                        assert src["configMapRef"]["name"] in configmaps
                    else:
                        assert src["secretRef"]["name"] in secrets
                for e in c.get("env", []):
                    ref = e["valueFrom"]["secretKeyRef"]
                    assert ref["key"] in secrets[ref["name"]]
                mounts = {m["name"] for m in c.get("volumeMounts", [])}
                assert mounts <= {v["name"] for v in spec.get("volumes", [])}
            for v in spec.get("volumes", []):
                if "persistentVolumeClaim" in v:
                    assert v["persistentVolumeClaim"]["claimName"] in claims

    def test_secret_example_holds_every_password(self, objects: dict[tuple[str, str], Any]) -> None:
        keys = set(objects[("Secret", "iom-secrets")]["stringData"])
        assert keys == {"JWT_SECRET"} | {f"{p.upper()}_DB_PASSWORD" for p in PROCESSES}
        assert "DATABASE_URL" in objects[("Secret", "iom-db-admin")]["stringData"]

    def test_postgres_init_configmap_embeds_init_sql(self, objects: dict[tuple[str, str], Any]) -> None:
        assert objects[("ConfigMap", "iom-postgres-init")]["data"]["init.sql"] == INIT_SQL.read_text()


class TestInitSql:
    sql = INIT_SQL.read_text()

    @pytest.mark.parametrize("schema", list(PROCESSES))
    def test_role_and_schema(self, schema: str) -> None:
        role = f"iom_{schema}"
        assert f"CREATE ROLE {role} LOGIN PASSWORD '{role}_dev';" in self.sql
        assert f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role};" in self.sql
        assert f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;" in self.sql
        assert f"GRANT USAGE ON SCHEMA extensions TO {role};" in self.sql
        assert f"ALTER ROLE {role} SET search_path = {schema}, extensions;" in self.sql

    def test_database_wide_parts(self) -> None:
        assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC;" in self.sql
        assert "CREATE SCHEMA IF NOT EXISTS extensions;" in self.sql
        assert "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA extensions;" in self.sql


def _tool_answers(*cmd: str) -> bool:
    if shutil.which(cmd[0]) is None:
        return False
    try:
        return subprocess.run(cmd, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_docker_compose_config_accepts_the_file() -> None:
    if not _tool_answers("docker", "compose", "version"):
        pytest.skip("the docker compose plugin is not installed")
    r = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_kustomize_builds_the_manifests() -> None:
    if not _tool_answers("kubectl", "version", "--client"):
        pytest.skip("kubectl is not installed")
    r = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout) if d]
    assert kinds.count("Deployment") == len(PROCESSES)
