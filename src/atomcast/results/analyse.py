"""One results run: the decision log and the events files in, a :class:`Report` out."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from atomcast.errors import ResultsError, UnknownCampaignError
from atomcast.project import Project
from atomcast.results.events import EventReader
from atomcast.results.join import DecisionJoin, log_path
from atomcast.results.metrics import resolve_metrics
from atomcast.results.report import Report, build_report

#: DuckDB's memory budget: above it, joins and aggregations spill to a temporary folder.
MEMORY_LIMIT = "400MB"


def connect(folder: Path, threads: int | None = None) -> Any:
    """A private in-memory DuckDB database, UTC, with a bounded memory budget: past
    :data:`MEMORY_LIMIT` its tables and joins spill to ``folder`` (a temporary folder the
    caller removes), so memory stays bounded whatever the size of the export."""
    import duckdb

    connection = duckdb.connect(
        ":memory:",
        config={
            "threads": max(threads or os.cpu_count() or 1, 1),
            "memory_limit": MEMORY_LIMIT,
            "temp_directory": str(folder / "spill"),
            "preserve_insertion_order": False,
        },
    )
    connection.execute("SET TimeZone = 'UTC'")
    # A progress bar on stdout would corrupt --json.
    connection.execute("SET enable_progress_bar = false")
    return connection


def analyse(
    project: Project,
    campaign: str,
    decisions: Path,
    events: Sequence[Path] = (),
    metric_names: Sequence[str] = (),
    *,
    by_segment: bool = False,
    threads: int | None = None,
) -> Report:
    """Join the campaign's decision log with the events and compute the report.

    :param decisions: the batch output folder (or its ``decisions.parquet``).
    :raises ResultsError: no log, an unreadable file, an unknown metric.
    :raises UnknownCampaignError: for a campaign the project does not declare.
    """
    config = project.config.campaigns.get(campaign)
    if config is None:
        known = ", ".join(project.config.campaigns) or "none"
        raise UnknownCampaignError(f"unknown campaign '{campaign}' (campaigns: {known})")
    metrics = resolve_metrics(project, metric_names)
    path = log_path(decisions)
    with tempfile.TemporaryDirectory(prefix="atomcast-results-") as folder:
        connection = connect(Path(folder), threads)
        try:
            reader = EventReader(connection, metrics)
            join = DecisionJoin(connection, metrics, reader.fields)
            join.load_log(path, campaign)
            load = reader.load(list(events))
            joined = join.run(by_segment=by_segment)
        finally:
            connection.close()
    if joined.profiles == 0:
        raise ResultsError(f"{path}: no decision for campaign '{campaign}'")
    return build_report(campaign, config, metrics, load, joined, by_segment=by_segment)


__all__ = ["MEMORY_LIMIT", "analyse", "connect"]
