"""A results upload spools its body to a file; what a process killed mid-upload left is swept at start."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from services.assessment.intake import spool_body, sweep_spools
from services.assessment.intake.reading import STALE_SPOOL_SECONDS

pytestmark = pytest.mark.no_db


def a_spool(folder: Path) -> Path:
    """A body spooled as an upload spools it."""

    async def body() -> Any:
        yield b"external_id;M1\n"

    return asyncio.run(spool_body(body(), 1000, str(folder))).path


def test_spools_left_by_a_killed_upload_are_swept_and_running_ones_kept(tmp_path: Path) -> None:
    left = a_spool(tmp_path)
    staged = Path(str(left) + ".stage.csv")
    staged.write_text("external_id;M1\n")
    an_hour_ago = time.time() - STALE_SPOOL_SECONDS - 60
    for path in (left, staged):
        os.utime(path, (an_hour_ago, an_hour_ago))
    running = a_spool(tmp_path)
    other = tmp_path / "someone-elses.csv"
    other.write_text("x")
    os.utime(other, (an_hour_ago, an_hour_ago))

    assert sweep_spools(str(tmp_path)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([running.name, other.name])
