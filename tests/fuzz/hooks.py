"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.fuzz.hooks): our own check, and the accepted list.

FUZZ_ACCEPTED_LOG names a file where each accepted failure is written as one line, so the test can
tell which accepted entries were used.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import threading
from typing import Any

import schemathesis

from tests.fuzz.accepted import accepted

PROBLEM = "application/problem+json"

# CPython before 3.12 keeps the AST constructor's recursion depth in shared state: two threads in
# `ast.parse` at once can fail with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905). Schemathesis' two workers both reach it through Hypothesis describing
# filter lambdas, and CI saw it as a coverage-phase error on an import operation; one at a time here.
if sys.version_info < (3, 12):
    _parse, _parse_lock = ast.parse, threading.Lock()

    def _serialised_parse(*args: Any, **kwargs: Any) -> Any:
        with _parse_lock:
            return _parse(*args, **kwargs)

    ast.parse = _serialised_parse


@schemathesis.check
def problem_details(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error (4xx, 5xx) is RFC 9457 problem+json with type, title and the same status."""
    if response.status_code < 400:
        return None
    ctype = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    if ctype != PROBLEM:
        raise AssertionError(f"error {response.status_code} is {ctype or 'without a content type'}, not {PROBLEM}")
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"error {response.status_code} has a body that is not JSON") from None
    missing = [k for k in ("type", "title", "status") if k not in body]
    if missing:
        raise AssertionError(f"problem without {', '.join(missing)}")
    if body["status"] != response.status_code:
        raise AssertionError(f"problem status {body['status']} differs from the response's {response.status_code}")
    return None


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Drop failures on the reviewed accepted list (tests/fuzz/accepted.py), and note each one."""
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    status = getattr(response, "status_code", None)
    code = str(getattr(failure, "code", ""))
    hit = accepted(operation, code, status)
    if hit is None:
        return True
    log = os.environ.get("FUZZ_ACCEPTED_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(
                json.dumps({"operation": operation, "check": code, "status": status, "reason": hit.reason[:60]}) + "\n"
            )
    return False
