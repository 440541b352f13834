"""The export job's processes: municipalities handed out largest first to whichever process asks."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import traceback
from queue import Empty
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.routes.exports.plan import Part, Plan, write_part
from services.routes.exports.progress import Progress, QueueProgress


def largest_first(counts: dict[str, int]) -> list[str]:
    return sorted(counts, key=lambda k: (-counts[k], k))


class NextMunicipality:
    """The municipalities still to write, largest first, handed out one at a time to whichever
    process asks: a process slowed down (by its start, by other work on the machine) takes fewer."""

    def __init__(self, order: list[str], taken: Any = None) -> None:
        self.order = order
        self.taken = taken  # a multiprocessing Value shared by the processes; None in one process
        self._next = 0

    def __call__(self) -> str | None:
        if self.taken is None:
            i, self._next = self._next, self._next + 1
        else:
            with self.taken.get_lock():
                i = self.taken.value
                self.taken.value = i + 1
        return self.order[i] if i < len(self.order) else None


def _worker(queue: Any, url: str, plan: Plan, take: NextMunicipality) -> None:
    """A worker process: write municipalities' files as long as there are any; report them (or the failure)."""

    from kit.db import make_engine

    async def run() -> Part:
        engine = make_engine(url, pool_size=1, max_overflow=0, application_name="routes-export")
        try:
            return await write_part(engine, plan, take, QueueProgress(queue))
        finally:
            await engine.dispose()

    try:
        queue.put(("done", asyncio.run(run())))
    except BaseException:
        queue.put(("error", traceback.format_exc()))


async def in_processes(engine: AsyncEngine, plan: Plan, processes: int, bar: Progress | None) -> list[Part]:
    """This process and `processes` - 1 spawned ones write the municipalities, each taking the next one free."""
    url = engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding an event loop and connections
    queue = ctx.Queue()
    take = NextMunicipality(largest_first(plan.counts), ctx.Value("i", 0))
    procs = [ctx.Process(target=_worker, args=(queue, url, plan, take), daemon=True) for _ in range(processes - 1)]
    for p in procs:
        p.start()
    own = asyncio.ensure_future(write_part(engine, plan, take, bar))
    parts: list[Part] = []
    try:
        while len(parts) < len(procs):
            if own.done():
                own.result()  # raises what it failed with
            try:
                message = await asyncio.to_thread(queue.get, True, 0.5)
            except Empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise RuntimeError("an export worker process died") from None
                continue
            if message[0] == "progress":
                if bar is not None:
                    bar.advance(message[1], message[2])
            elif message[0] == "done":
                parts.append(message[1])
            else:
                raise RuntimeError(f"an export worker process failed:\n{message[1]}")
        parts.insert(0, await own)
    finally:
        if not own.done():
            own.cancel()
            with contextlib.suppress(BaseException):
                await own
        for p in procs:
            if p.is_alive() and len(parts) < len(procs):
                p.terminate()
            await asyncio.to_thread(p.join)
    return parts
