"""Schemathesis against the gateway: every operation, every phase (examples, coverage, fuzzing, stateful).

Checks: no 5xx, documented status codes, content types, headers and bodies as the spec says, every
error RFC 9457 problem+json (tests/fuzz/hooks.py), and that operations refuse missing or bad
credentials. The test region holds a real object of every kind (tests/e2e/world.py); half of the
generated ids are those, so requests reach past the 404s. Stateful links are inferred by
schemathesis from the spec (Location headers, ids in responses).

Bounded in time: FUZZ_SECONDS per credential (default 60 for the regional specialist, a third of it
for the service token); FUZZ_SEED fixes the seed (default fixed, so CI runs repeat).
    FUZZ_SECONDS=600 .venv/bin/pytest tests/fuzz -q -s     # a longer local run
FUZZ_ARGS adds schemathesis options, e.g. to repeat one operation's phase:
    FUZZ_ARGS="--include-path /api/v1/mentors/import --phases coverage" .venv/bin/pytest tests/fuzz -q -s
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.world import World, build_world
from tests.fuzz.accepted import ACCEPTED
from tests.harness import Stack
from tests.region import as_regional, service_headers

ROOT = Path(__file__).resolve().parents[2]
SECONDS = int(os.environ.get("FUZZ_SECONDS", "60"))
SEED = int(os.environ.get("FUZZ_SEED", "20261125"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "ignored_auth",
    "problem_details",
)
# Path parameter -> which ids of the world it takes (both kinds of campaign share `campaign_id`).
ID_PARAMETERS = {
    "teacher_id": ["teacher_id", "mentor_teacher_id"],
    "external_id": ["external_id"],
    "code": ["code"],
    "version": ["version"],
    "campaign_id": ["campaign_id", "monitoring_campaign_id"],
    "result_id": ["result_id"],
    "route_id": ["route_id"],
    "task_id": ["task_id"],
    "audit_id": ["audit_id"],
    "municipality": ["municipality"],
    "export_id": ["export_id"],
    "resource_id": ["resource_id"],
    "mentor_id": ["mentor_id"],
    "reservation_id": ["reservation_id"],
}


@dataclass
class Found:
    operation: str
    code: str
    title: str
    message: str
    request: str
    status: int | None

    def __str__(self) -> str:
        return f"{self.operation}: {self.code} {self.title} [{self.status}] {self.message}  <- {self.request}"


@dataclass
class Report:
    summary: dict[str, Any]
    found: list[Found] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)

    def figures(self) -> str:
        s = self.summary
        tc = s.get("test_cases", {})
        ops = s.get("operations", {})
        phases = ", ".join(f"{k}: {v.get('status')}" for k, v in s.get("phases", {}).items())
        return (
            f"operations tested {ops.get('tested')}/{ops.get('total')}, test cases {tc.get('generated')}, "
            f"with failures {tc.get('with_failures')}, accepted {len(self.accepted)}, "
            f"{s.get('running_time', 0):.0f}s, seed {s.get('seed')}; phases {phases}"
        )


def _toml(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON strings, numbers and arrays are TOML too


def write_config(path: Path, gateway: str, headers: dict[str, str], world: World, seconds: int) -> None:
    lines = [
        f"base-url = {_toml(gateway)}",
        f"seed = {SEED}",
        f"max-time = {seconds}",
        "workers = 2",
        "request-timeout = 30",
        "",
        "[headers]",
        *(f"{_toml(k)} = {_toml(v)}" for k, v in headers.items()),
        "",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        'database = "none"',
        "",
    ]
    for name, keys in ID_PARAMETERS.items():
        values: list[Any] = [world.ids[k] for k in keys if world.ids.get(k)]
        values = [int(v) if v.isdigit() else v for v in values]  # e.g. a framework version is an integer
        if values:
            lines += [f"[dictionaries.{name}]", f"values = {_toml(values)}", ""]
    lines.append("[parameters]")
    for name in ID_PARAMETERS:
        if any(world.ids.get(k) for k in ID_PARAMETERS[name]):
            lines.append(f'"path.{name}" = {{ dictionary = {_toml(name)}, probability = 0.5 }}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_events(path: Path) -> tuple[list[Found], list[str]]:
    found: list[Found] = []
    errors: list[str] = []
    if not path.exists():
        return found, ["no event stream was written"]
    for line in path.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        kind, data = next(iter(event.items()))
        if kind == "NonFatalError":  # the ndjson report keeps the exception as `value` (type, message)
            value = data.get("value") or {}
            message = str(value.get("message"))[:600]
            errors.append(f"{data.get('label')} ({data.get('phase')}): {value.get('type')}: {message}")
        if kind != "ScenarioFinished":
            continue
        recorder = data.get("recorder", {})
        interactions = recorder.get("interactions", {})
        for case_id, checks in recorder.get("checks", {}).items():
            for chk in checks:
                if chk.get("status") != "failure":
                    continue
                failure = chk.get("failure_info", {}).get("failure", {})
                inter = interactions.get(case_id) or {}
                req = inter.get("request") or {}
                resp = inter.get("response") or {}
                found.append(
                    Found(
                        operation=str(failure.get("operation") or recorder.get("label")),
                        code=str(failure.get("code")),
                        title=str(failure.get("title")),
                        message=str(failure.get("message"))[:300],
                        request=f"{req.get('method')} {req.get('uri')}",
                        status=resp.get("status_code"),
                    )
                )
    return found, errors


def run_schemathesis(live: Stack, world: World, headers: dict[str, str], out: Path, seconds: int) -> Report:
    out.mkdir(parents=True, exist_ok=True)
    config = out / "schemathesis.toml"
    write_config(config, live.gateway, headers, world, seconds)
    accepted_log = out / "accepted.ndjson"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        "FUZZ_ACCEPTED_LOG": str(accepted_log),
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    cmd = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        live.gateway + "/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(out / "report.json"),
        "--report-ndjson-path",
        str(out / "events.ndjson"),
        *shlex.split(os.environ.get("FUZZ_ARGS", "")),  # e.g. "--include-path /api/v1/mentors/import --phases coverage"
    ]
    proc = subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True, timeout=seconds + 180)
    (out / "stdout.txt").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    report_file = out / "report.json"
    if not report_file.exists():
        raise AssertionError(
            f"schemathesis wrote no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    summary = json.loads(report_file.read_text(encoding="utf-8"))
    found, errors = read_events(out / "events.ndjson")
    hits = [json.loads(x) for x in accepted_log.read_text().splitlines()] if accepted_log.exists() else []
    return Report(summary, found, errors, hits)


def verdict(report: Report, who: str) -> None:
    print(f"\nschemathesis as {who}: {report.figures()}")
    used = {(h["operation"], h["check"], h["status"]) for h in report.accepted}
    for op, check, status in sorted(used, key=str):
        print(f"  accepted: {op} {check} {status}")
    unique = {(f.operation, f.code, f.status, f.message): f for f in report.found}
    problems = [str(f) for f in unique.values()] + report.errors
    assert not problems, f"schemathesis as {who} found {len(problems)} problem(s):\n" + "\n".join(problems[:40])
    if not os.environ.get("FUZZ_ARGS"):  # a narrowed run (FUZZ_ARGS) tests only what it names
        assert report.summary.get("operations", {}).get("tested") == report.summary.get("operations", {}).get("total")


@pytest.mark.no_db
def test_accepted_list_is_small_and_explained() -> None:
    assert len(ACCEPTED) <= 5
    for a in ACCEPTED:
        assert len(a.reason) > 40, a


class TestFuzzTheGateway:
    async def test_as_regional_specialist(self, api: httpx.AsyncClient, live: Stack, tmp_path: Path) -> None:
        world = await build_world(api, live, tmp_path / "exports")
        report = await asyncio.to_thread(run_schemathesis, live, world, as_regional(), tmp_path / "st", SECONDS)
        verdict(report, "regional specialist")

    async def test_as_service(self, api: httpx.AsyncClient, live: Stack, tmp_path: Path) -> None:
        world = await build_world(api, live, tmp_path / "exports")
        seconds = max(10, SECONDS // 3)
        report = await asyncio.to_thread(run_schemathesis, live, world, service_headers(), tmp_path / "st", seconds)
        verdict(report, "service")
