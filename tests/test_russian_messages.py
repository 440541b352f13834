"""Every problem text a person reads is Russian (issue 13, point 1).

The `code` of a problem is a stable machine code for programs (Latin, kebab-case); its `title`, `detail`
and each error's `message` are for people. This test reads the source of `kit/`, `gateway/` and
`services/` (their AST, nothing runs) and collects every text written for people:

- the detail (first argument or `detail=`) of a `kit.errors` class and of its subclasses;
- `message=`, `title=`, `detail=` of any call (FieldError, problem helpers), and `action=` of
  `require_roles` (it completes "Ваша роль «...» не позволяет ...");
- the text of a refusal table (`Answer(status, code, detail)`, `_body(...)`), and every
  `code, message` pair: a kebab-case code literal followed by a text, in a call or a tuple;
- the text arguments of a module's own message helpers (a function with a parameter named
  message, detail or msg), and module constants named `*_MESSAGE(S)`/`*_DETAIL`.

A text fails when it has a word in Latin script that is not an established acronym or a header
or format name a technician reads (ALLOWED). Names inside «» and {placeholders} are skipped.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kit", "gateway", "services")

ERROR_CLASSES = {
    "AppError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "PreconditionFailed",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "ValidationFailed",
    "PreconditionRequired",
    "UpstreamUnavailable",
    "UpstreamTimeout",
    "HTTPException",
}
TEXT_KEYWORDS = {"message", "title", "detail"}
HELPER_PARAMS = {"message", "detail", "msg"}
# Calls whose positional argument at the index is a text for people: refusal tables, the audit's completion
# requirement, kit.versioning's stale-version detail, the transition refusal of the routes workflow.
POSITIONAL_TEXTS = {"Answer": 2, "_body": 2, "Requirement": 3, "ensure_current": 2, "TransitionRefused": 1}
# Calls whose (name, text) arguments are not for people: metric names and help, column aliases.
NOT_MESSAGES = {"Counter", "Histogram", "Gauge", "_alias"}
# Titles of the API documents (OpenAPI, Swagger UI), not of problems.
DOCUMENT_CALLS = {"create_service_app", "merge_specs", "get_swagger_ui_html"}
CONSTANT_NAME = re.compile(r"(_MESSAGES?|_DETAIL|_TEXT)$")
CODE = re.compile(r"^[a-z0-9_]+(-[a-z0-9_]+)*$")

# Established acronyms, formats and header names a technician reads.
ALLOWED = {
    "PISA",
    "XLSX",
    "CSV",
    "JSON",
    "UTF-8",
    "HTTP",
    "HTTPS",
    "URL",
    "UUID",
    "If-Match",
    "ETag",
    "Idempotency-Key",
    "API",
    "ID",
    "Authorization",
    "Bearer",
    "ApiKey",
    "X-API-Key",
    "Windows-1251",
    "Excel",
    "LibreOffice",
}
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
SKIPPED = re.compile(r"«[^»]*»|\{[^}]*\}")


def _texts(node: ast.AST) -> Iterator[str]:
    """The literal text of an expression (f-strings with their fields as {})."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        yield "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    elif isinstance(node, ast.IfExp):
        yield from _texts(node.body)
        yield from _texts(node.orelse)
    elif isinstance(node, ast.BinOp):
        yield from _texts(node.left)
        yield from _texts(node.right)


def _name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """kit.errors classes and every subclass of them declared anywhere in the code."""
    names = set(ERROR_CLASSES)
    grew = True
    while grew:
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    if any(_name(b) in names for b in node.bases):
                        names.add(node.name)
                        grew = True
    return names


def _helpers(tree: ast.Module) -> dict[str, list[int]]:
    """A module's functions taking a message: their name and the positions of those parameters."""
    out: dict[str, list[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = [a.arg for a in node.args.args]
            if args and args[0] in ("self", "cls"):
                args = args[1:]
            positions = [i for i, a in enumerate(args) if a in HELPER_PARAMS]
            if positions:
                out[node.name] = positions
    return out


def _code_pairs(elts: list[ast.expr]) -> Iterator[str]:
    """Texts following a kebab-case code literal: ("missing-score", "the score is missing")."""
    for code, text in itertools.pairwise(elts):
        if isinstance(code, ast.Constant) and isinstance(code.value, str) and CODE.match(code.value):
            yield from (t for t in _texts(text) if " " in t)


def _constants(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level names bound once to a text, so `raise Forbidden(OUT_OF_SCOPE)` is read too."""
    out: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
    return out


def _people_texts(tree: ast.Module, errors: set[str], validators: bool) -> Iterator[tuple[int, str]]:
    """`validators`: the module holds pydantic models, whose ValueErrors become messages of a 422."""
    helpers = _helpers(tree)
    constants = _constants(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple):
            yield from ((node.lineno, t) for t in _code_pairs(node.elts))
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and CONSTANT_NAME.search(t.id) for t in node.targets
        ):
            yield from ((node.lineno, t) for t in _texts(node.value))
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        found: list[ast.AST] = []
        if name in errors and node.args:
            found.append(node.args[0])
        if name in POSITIONAL_TEXTS and len(node.args) > POSITIONAL_TEXTS[name]:
            found.append(node.args[POSITIONAL_TEXTS[name]])
        if name == "ValueError" and node.args and validators:
            found.append(node.args[0])
        local = isinstance(node.func, ast.Name) or (
            isinstance(node.func, ast.Attribute) and _name(node.func.value) in ("self", "cls")
        )
        if name in helpers and local:
            found += [node.args[i] for i in helpers[name] if i < len(node.args)]
        for kw in node.keywords:
            if (kw.arg in TEXT_KEYWORDS and name not in DOCUMENT_CALLS) or (
                kw.arg == "action" and name == "require_roles"
            ):
                found.append(kw.value)
        for arg in found:
            if isinstance(arg, ast.Name) and arg.id in constants:
                arg = constants[arg.id]
            yield from ((node.lineno, t) for t in _texts(arg))
        if name not in NOT_MESSAGES:
            yield from ((node.lineno, t) for t in _code_pairs(node.args))


def latin_words(text: str) -> list[str]:
    """The Latin-script words of a text that are not allowed (names in «» and {fields} skipped)."""
    return [w for w in LATIN_WORD.findall(SKIPPED.sub(" ", text)) if w not in ALLOWED]


def _sources() -> dict[Path, ast.Module]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                out[path] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def collected() -> list[tuple[str, str]]:
    """(where, text) of every text for people found in the code."""
    trees = _sources()
    errors = _error_classes(trees)
    return [
        (f"{path.relative_to(ROOT)}:{line}", text)
        for path, tree in trees.items()
        for line, text in _people_texts(tree, errors, "schemas" in path.name)
    ]


def test_the_collector_finds_the_texts() -> None:
    """The walk reaches each kind of place (a guard against it silently finding nothing)."""
    where = {w.split(":")[0] for w, _ in collected()}
    for path in (
        "kit/errors.py",
        "kit/uploads.py",
        "kit/auth.py",
        "gateway/proxy.py",
        "services/assessment/intake/checking.py",
        "services/assessment/auth.py",
        "services/resources/uploads.py",
        "services/routes/service/lifecycle.py",
        "services/audit/service/audits.py",
    ):
        assert path in where, path


def test_texts_for_people_have_no_latin_words() -> None:
    bad = [f"{where}: {text!r} ({', '.join(words)})" for where, text in collected() if (words := latin_words(text))]
    assert not bad, "texts people read with Latin-script words:\n" + "\n".join(bad)


def test_texts_for_people_are_written_in_russian() -> None:
    """A text with letters has Cyrillic ones (a bare header name is not a message)."""
    bad = [
        f"{where}: {text!r}"
        for where, text in collected()
        if re.search(r"[A-Za-zА-Яа-яЁё]", SKIPPED.sub("", text)) and not re.search(r"[А-Яа-яЁё]", text)
    ]
    assert not bad, "texts people read that are not Russian:\n" + "\n".join(bad)


def test_allowed_words_pass_and_others_fail() -> None:
    assert latin_words("Передайте заголовок If-Match со значением ETag") == []
    assert latin_words("Загрузите таблицу в формате CSV или XLSX; столбец «external_id»") == []
    assert latin_words("row {n}: the score is missing") == ["row", "the", "score", "is", "missing"]
