"""Progress of a batch run: a rich bar on a terminal, a log line every few seconds otherwise,
and a summary table at the end. Everything goes to stderr: stdout stays free for scripts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import IO, Any, Literal, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

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


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


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
            f"elapsed {_duration(elapsed)}, ETA {_duration(eta)}\n"
        )
        self.stream.flush()

    def stop(self) -> None:
        self._line(time.monotonic())


class _ProfilesColumn(ProgressColumn):
    """Profiles done and profiles per second (the bar itself runs on bytes or records)."""

    def render(self, task: Task) -> Text:
        records = int(task.fields.get("records", 0))
        elapsed = task.elapsed or 0.0
        rate = records / elapsed if elapsed > 0 else 0.0
        return Text(f"{records:,} profiles  {rate:,.0f}/s", style="progress.data.speed")


class BarProgress:
    """A rich progress bar with rate and ETA, on stderr."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]rendering"),
            BarColumn(),
            TaskProgressColumn(),
            _ProfilesColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.task: Any = None
        self.records = 0

    def start(self, total: int, unit: str) -> None:
        self.progress.start()
        self.task = self.progress.add_task("batch", total=max(total, 1), records=0)

    def advance(self, records: int, amount: int) -> None:
        self.records += records
        self.progress.update(self.task, advance=amount, records=self.records)

    def stop(self) -> None:
        if self.task is not None:
            task = self.progress.tasks[0]
            self.progress.update(self.task, completed=task.total)
        self.progress.stop()


def make_progress(mode: ProgressMode = "auto", stream: IO[str] | None = None) -> BatchProgress:
    """The reporter for ``mode``: ``auto`` is a bar on a terminal, log lines otherwise."""
    stream = stream or sys.stderr
    if mode == "none":
        return NullProgress()
    if mode == "auto":
        mode = "bar" if stream.isatty() else "log"
    if mode == "bar":
        return BarProgress(Console(file=stream, force_terminal=True))
    return LogProgress(stream)


def summary_table(manifest: Mapping[str, Any]) -> Table:
    """The end-of-run table: totals, per-channel statuses, top reasons, rate."""
    table = Table(title=f"atomcast batch: {manifest.get('campaign')}", show_lines=False)
    table.add_column("", style="bold")
    for status in ("rendered", "skipped", "error"):
        table.add_column(status, justify="right")
    table.add_column("top reason")
    channels: Mapping[str, Mapping[str, Any]] = manifest.get("channels", {})
    for name, counts in channels.items():
        reasons = counts.get("reasons") or {}
        top = next(iter(reasons.items()), None)
        table.add_row(
            name,
            f"{counts.get('rendered', 0):,}",
            f"{counts.get('skipped', 0):,}",
            f"{counts.get('error', 0):,}",
            f"{top[0]} ({top[1]:,})" if top else "",
        )
    durations = manifest.get("durations", {})
    total = float(durations.get("total_s", 0.0)) or 1e-9
    profiles = int(manifest.get("profiles_in", 0))
    rejects = manifest.get("reject_reasons") or {}
    top_reject = next(iter(rejects.items()), None)
    table.caption = (
        f"{profiles:,} profiles in, {manifest.get('rendered', 0):,} rendered, "
        f"{manifest.get('rejected', 0):,} rejected"
        + (f" (most: {top_reject[0]}, {top_reject[1]:,})" if top_reject else "")
        + f"; {_duration(total)} ({profiles / total:,.0f} profiles/s, "
        f"{manifest.get('workers')} {manifest.get('engine')} worker(s))"
    )
    return table


#: Error reasons shown per channel under the summary table (all are in the manifest).
ERROR_REASONS_SHOWN = 3


def channel_errors(manifest: Mapping[str, Any]) -> dict[str, int]:
    """Profiles whose channel ended in ``status: error``, per channel (zeros left out)."""
    channels: Mapping[str, Mapping[str, Any]] = manifest.get("channels", {})
    return {name: int(c.get("error", 0)) for name, c in channels.items() if c.get("error")}


def error_lines(manifest: Mapping[str, Any]) -> list[str]:
    """Per channel with errors: the count and the most frequent error reasons."""
    lines: list[str] = []
    channels: Mapping[str, Mapping[str, Any]] = manifest.get("channels", {})
    for name, count in channel_errors(manifest).items():
        lines.append(f"{name}: {count:,} profile(s) with status error")
        reasons: Mapping[str, int] = channels[name].get("error_reasons") or {}
        for reason, times in list(reasons.items())[:ERROR_REASONS_SHOWN]:
            lines.append(f"  {times:,} x {reason}")
        if len(reasons) > ERROR_REASONS_SHOWN:
            lines.append(f"  ... {len(reasons) - ERROR_REASONS_SHOWN} more in manifest.json")
    return lines


def print_summary(manifest: Mapping[str, Any], stream: IO[str] | None = None) -> None:
    target = stream or sys.stderr
    console = Console(file=target, highlight=False, soft_wrap=False)
    console.print(summary_table(manifest))
    errors = error_lines(manifest)
    if errors:
        # Plain lines, never wrapped: a reason is often a file name and a message to grep.
        target.write("\n".join(["channel errors:", *errors]) + "\n")
        target.flush()


__all__ = [
    "PROGRESS_MODES",
    "BarProgress",
    "BatchProgress",
    "LogProgress",
    "NullProgress",
    "ProgressMode",
    "channel_errors",
    "error_lines",
    "make_progress",
    "print_summary",
    "summary_table",
]
