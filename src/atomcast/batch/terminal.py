"""What a batch run shows on a terminal: the rich progress bar and the summary table at the
end (imported only when shown, see :mod:`atomcast.batch.progress`)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import IO, Any

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

from atomcast.batch.summary import duration, error_lines


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


def bar_progress(stream: IO[str]) -> BarProgress:
    """A bar drawn on ``stream`` as on a terminal."""
    return BarProgress(Console(file=stream, force_terminal=True))


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
        + f"; {duration(total)} ({profiles / total:,.0f} profiles/s, "
        f"{manifest.get('workers')} {manifest.get('engine')} worker(s))"
    )
    return table


def print_summary(manifest: Mapping[str, Any], stream: IO[str] | None = None) -> None:
    target = stream or sys.stderr
    console = Console(file=target, highlight=False, soft_wrap=False)
    console.print(summary_table(manifest))
    errors = error_lines(manifest)
    if errors:
        # Plain lines, never wrapped: a reason is often a file name and a message to grep.
        target.write("\n".join(["channel errors:", *errors]) + "\n")
        target.flush()


__all__ = ["BarProgress", "bar_progress", "print_summary", "summary_table"]
