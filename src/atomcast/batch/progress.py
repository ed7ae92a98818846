"""Progress of a batch run: a rich bar on a terminal, a log line every few seconds otherwise,
and a summary table at the end. Everything goes to stderr: stdout stays free for scripts.

The bar and the table are in :mod:`atomcast.batch.terminal`, imported when shown: rich
costs 20 ms at every start, and a scheduled job (``--progress none``) never shows them.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Literal, Protocol

from atomcast.batch.summary import duration

ProgressMode = Literal["auto", "bar", "log", "none"]
PROGRESS_MODES: tuple[ProgressMode, ...] = ("auto", "bar", "log", "none")
#: Seconds between two log lines when stderr is not a terminal.
LOG_INTERVAL = 5.0


class BatchProgress(Protocol):
    """What the engines report to while they run."""

    def start(self, total: int, unit: str) -> None:
        """``total`` is in ``unit`` (bytes of the input file, or records for Parquet)."""

    def advance(self, records: int, amount: int) -> None:
        """``records`` more profiles are done, covering ``amount`` of the total."""

    def stop(self) -> None: ...


class NullProgress:
    """Reports nothing (the Python API's default)."""

    def start(self, total: int, unit: str) -> None:
        pass

    def advance(self, records: int, amount: int) -> None:
        pass

    def stop(self) -> None:
        pass


class LogProgress:
    """One line per ``interval`` seconds: profiles, percent, rate and ETA (for logs and CI)."""

    def __init__(self, stream: IO[str] | None = None, interval: float = LOG_INTERVAL) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self.total = 0
        self.done = 0
        self.records = 0
        self.started = 0.0
        self.last = 0.0

    def start(self, total: int, unit: str) -> None:
        self.total = total
        self.started = self.last = time.monotonic()

    def advance(self, records: int, amount: int) -> None:
        self.records += records
        self.done += amount
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        rate = self.records / elapsed
        fraction = self.done / self.total if self.total else 1.0
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else 0.0
        self.stream.write(
            f"batch: {self.records:,} profiles ({fraction:.0%}), {rate:,.0f}/s, "
            f"elapsed {duration(elapsed)}, ETA {duration(eta)}\n"
        )
        self.stream.flush()

    def stop(self) -> None:
        self._line(time.monotonic())


def make_progress(mode: ProgressMode = "auto", stream: IO[str] | None = None) -> BatchProgress:
    """The reporter for ``mode``: ``auto`` is a bar on a terminal, log lines otherwise."""
    stream = stream or sys.stderr
    if mode == "none":
        return NullProgress()
    if mode == "auto":
        mode = "bar" if stream.isatty() else "log"
    if mode == "bar":
        from atomcast.batch.terminal import bar_progress

        return bar_progress(stream)
    return LogProgress(stream)


__all__ = [
    "PROGRESS_MODES",
    "BatchProgress",
    "LogProgress",
    "NullProgress",
    "ProgressMode",
    "make_progress",
]
