"""A results upload spools its body to a file; what a process killed mid-upload left is swept at start."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.assessment.intake import spool_body, sweep_spools
from services.assessment.intake.reading import STALE_SPOOL_SECONDS
from tests.harness import Stack
from tests.routes.flow import results_for


def a_spool(folder: Path) -> Path:
    """A body spooled as an upload spools it."""

    async def body() -> Any:
        yield b"external_id;M1\n"

    return asyncio.run(spool_body(body(), 1000, str(folder))).path


def back_date(*paths: Path) -> None:
    an_hour_ago = time.time() - STALE_SPOOL_SECONDS - 60
    for path in paths:
        os.utime(path, (an_hour_ago, an_hour_ago))


@pytest.mark.no_db
def test_spools_left_by_a_killed_upload_are_swept_and_running_ones_kept(tmp_path: Path) -> None:
    left = a_spool(tmp_path)
    staged = Path(str(left) + ".stage.csv")
    staged.write_text("external_id;M1\n")
    back_date(left, staged)
    running = a_spool(tmp_path)
    other = tmp_path / "someone-elses.csv"
    other.write_text("x")
    back_date(other)

    assert sweep_spools(str(tmp_path)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([running.name, other.name])


async def test_the_service_sweeps_its_upload_folder_when_it_starts(
    api: httpx.AsyncClient, live: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    left = await asyncio.to_thread(a_spool, tmp_path)
    await asyncio.to_thread(back_date, left)
    live.stop("assessment")
    monkeypatch.setitem(live.env, "ASSESSMENT_UPLOAD_DIR", str(tmp_path))
    try:
        await asyncio.to_thread(live.start, "assessment")
        assert not await asyncio.to_thread(left.exists)
        await results_for(api, {"t-a1-1": {"M2"}})  # an upload spools there and deletes its own files
        assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []
    finally:
        live.stop("assessment")
        monkeypatch.delitem(live.env, "ASSESSMENT_UPLOAD_DIR")
        live.start("assessment")
