"""The export job's progress bar on stderr, and a worker process's progress sent to it."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal, a line per 10% in logs."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.done, self.width = total, 0, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self._last_draw = 0.0
        self._last_decile = -1
        self.t0 = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, n: int, label: str = "") -> None:
        with self._lock:  # this process's rows (a worker thread) and the other processes' (the event loop)
            self._advance(n, label)

    def _advance(self, n: int, label: str) -> None:
        self.done += n
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw >= 0.1 or self.done >= self.total:
                self._draw(label, end="\r")
                self._last_draw = now
        else:
            decile = self.done * 10 // max(self.total, 1)
            if decile != self._last_decile:
                self._last_decile = decile
                self._draw(label, end="\n")

    def _draw(self, label: str, end: str) -> None:
        share = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        line = f"[{bar}] {share:4.0%} {self.done}/{self.total} маршрутов {time.monotonic() - self.t0:5.1f} с {label}"
        self.stream.write(line.ljust(90) + end)
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self._draw("", end="\n")


class QueueProgress:
    """Progress of a worker process, sent to the parent's bar."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def advance(self, n: int, label: str = "") -> None:
        self.queue.put(("progress", n, label))
