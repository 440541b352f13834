"""The codebase keeps the shape docs/ARCHITECTURE.md describes: thin routers, short modules.

Routers only parse, authorise through typed dependencies and call a service function, so no
function in a service's `api/` package is more complex than 10 (radon's cyclomatic complexity).
A module longer than 600 lines says why in its docstring ("Longer than 600 lines: ...").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from radon.complexity import cc_visit

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("assessment", "resources", "routes", "audit")
MAX_ROUTER_COMPLEXITY = 10
MAX_MODULE_LINES = 600
LONG_MODULE_NOTE = "Longer than 600 lines:"


def _python_files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("service", SERVICES)
def test_router_functions_stay_simple(service: str) -> None:
    too_complex = []
    for path in _python_files(ROOT / "services" / service / "api"):
        for block in cc_visit(path.read_text(encoding="utf-8")):
            if block.complexity > MAX_ROUTER_COMPLEXITY:
                too_complex.append(f"{path.relative_to(ROOT)}:{block.lineno} {block.name} ({block.complexity})")
    assert not too_complex, "router functions above complexity 10:\n" + "\n".join(too_complex)


@pytest.mark.parametrize("package", [*(f"services/{s}" for s in SERVICES), "gateway", "kit"])
def test_modules_are_short_or_say_why(package: str) -> None:
    long_modules = []
    for path in _python_files(ROOT / package):
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES and LONG_MODULE_NOTE not in text[:3000]:
            long_modules.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert not long_modules, "modules above 600 lines without a note saying why:\n" + "\n".join(long_modules)


# Who may do what is said once, by the dependencies in each service's auth.py; settings and
# clients reach a handler as dependencies too, never read from the app's state inline.
INLINE_IN_ROUTERS = ("principal.role", "ensure_role(", "raise Forbidden", "request.app.state", ".commit()")


@pytest.mark.parametrize("service", SERVICES)
def test_routers_do_not_check_roles_or_read_app_state_inline(service: str) -> None:
    found = []
    for path in _python_files(ROOT / "services" / service / "api"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            found += [f"{path.relative_to(ROOT)}:{number} {word}" for word in INLINE_IN_ROUTERS if word in line]
    assert not found, "inline role checks or app state in routers:\n" + "\n".join(found)


# The README says the suite proves faults by outcomes and mocks nothing: these keep it true.
DURATION_MARKERS = ("monotonic(", "perf_counter(", "time.time(", "elapsed", "answered_in", "seconds_to", "_in <")
MOCK_MARKERS = ("MockTransport", "unittest.mock", "import mock", "monkeypatch.setattr(")


def test_tests_assert_no_durations_and_mock_nothing() -> None:
    import ast

    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        found += [f"{where}: mocks ({word})" for word in MOCK_MARKERS if word in text]
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Assert):
                source = ast.get_source_segment(text, node) or ""
                found += [f"{where}:{node.lineno} asserts a duration" for w in DURATION_MARKERS if w in source][:1]
    assert not found, "\n".join(found)


RULE_TABLE_HEADING = "## Where each rule lives"


def _rule_rows() -> list[tuple[str, str, list[str]]]:
    import re

    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert RULE_TABLE_HEADING in text, "docs/ARCHITECTURE.md has no table of where each rule lives"
    section = text.split(RULE_TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`"):
            continue
        rows.append((cells[0], cells[1].strip("`"), re.findall(r"`([^`]+)`", cells[2])))
    return rows


def test_every_rule_in_the_table_lives_where_it_says() -> None:
    rows = _rule_rows()
    assert len(rows) >= 10
    missing = []
    for rule, file, names in rows:
        path = ROOT / file
        if not path.is_file():
            missing.append(f"{rule}: {file} does not exist")
            continue
        text = path.read_text(encoding="utf-8")
        for name in names:
            # A function, class or constant of a module, or a key of a data file.
            last = name.split(".")[-1].removesuffix("()")
            if not any(f in text for f in (f"def {last}", f"class {last}", f"{last} =", f"{last}:", f'"{last}"')):
                missing.append(f"{rule}: {file} has no {name}")
    assert not missing, "\n".join(missing)
