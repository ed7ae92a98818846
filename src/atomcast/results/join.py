"""The join: each decision with its events in the metric windows, summed per arm and atom.

Everything is SQL over DuckDB tables: the decision log (read straight from Parquet, only the
campaign's rows), the ``events`` table of :mod:`atomcast.results.events`, a per-profile
table of metric values, then one ``GROUP BY`` per breakdown. What comes back to Python is
a handful of rows per arm, atom and segment: ``n``, the sum and the sum of squares of each
metric, which is all the statistics need.

An event counts for a profile when it falls in ``[decision at, decision at + window)``:
before the decision it cannot be an effect of it, and the window bounds how long an effect
is credited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atomcast.errors import ResultsError
from atomcast.results.events import ValueField
from atomcast.results.metrics import Metric

LOG_FILE = "decisions.parquet"


@dataclass(frozen=True, slots=True)
class Sums:
    """One group's profiles and, per metric (in the run's metric order), sum and sum of
    squares of the per-profile values."""

    n: int
    sums: tuple[float, ...]
    squares: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class JoinResult:
    profiles: int
    counted: int
    unmatched: int
    ignored: int
    arms: dict[tuple[str, str], Sums]
    atoms: dict[tuple[str, str], Sums]
    segments: dict[tuple[str, str, str], Sums]


def log_path(decisions: Path) -> Path:
    """``OUT/decisions.parquet`` for a batch output folder, or the file itself."""
    path = decisions / LOG_FILE if decisions.is_dir() else decisions
    if not path.is_file():
        raise ResultsError(
            f"{path}: no decision log (run `atomcast batch` first; it writes {LOG_FILE})"
        )
    return path


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DecisionJoin:
    """Runs the join for one campaign's decision log on a DuckDB connection that already
    holds the ``events`` table."""

    def __init__(
        self, connection: Any, metrics: Sequence[Metric], fields: Sequence[ValueField]
    ) -> None:
        self.connection = connection
        self.metrics = tuple(metrics)
        self.fields = {f.name: f for f in fields}

    def load_log(self, path: Path, campaign: str) -> int:
        """Load the campaign's rows of the log; the number of profiles.

        :raises ResultsError: when the file is not a decision log or has no such campaign.
        """
        import duckdb

        reader = f"read_parquet({_literal(str(path))})"
        try:
            self.connection.execute(
                "CREATE OR REPLACE TABLE decisions AS SELECT "
                "(row_number() OVER ()) AS rid, profile_id, "
                '"at" AS decided_at, experiments, decisions, segments '
                f"FROM {reader} WHERE campaign = ?",
                [campaign],
            )
            (count,) = self.connection.execute("SELECT count(*) FROM decisions").fetchone()
            if count == 0:
                campaigns = [
                    str(row[0])
                    for row in self.connection.execute(
                        f"SELECT DISTINCT campaign FROM {reader} ORDER BY 1 LIMIT 20"
                    ).fetchall()
                ]
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
            raise ResultsError(f"{path}: not a decision log ({first})") from None
        if count == 0:
            shown = ", ".join(campaigns) if campaigns else "none: the log is empty"
            raise ResultsError(
                f"{path}: no decision for campaign '{campaign}' (campaigns in the log: {shown})"
            )
        return int(count)

    def _in_window(self, metric: Metric) -> str:
        return (
            f'(e.event = {_literal(metric.event)} AND e."at" >= d.decided_at AND '
            f'e."at" < d.decided_at + to_seconds({int(metric.window_seconds)}))'
        )

    def run(self, *, by_segment: bool) -> JoinResult:
        connection = self.connection
        values: list[str] = []
        for index, metric in enumerate(self.metrics):
            condition = self._in_window(metric)
            if metric.value is None:
                values.append(f"max(CASE WHEN {condition} THEN 1.0 ELSE 0.0 END) AS m{index}")
            else:
                column = self.fields[metric.value].column
                values.append(
                    f"sum(CASE WHEN {condition} THEN e.{column} ELSE 0.0 END) AS m{index}"
                )
        any_window = " OR ".join(self._in_window(m) for m in self.metrics) or "false"
        events = ", ".join(sorted({_literal(m.event) for m in self.metrics})) or "NULL"
        connection.execute(
            "CREATE OR REPLACE TABLE outcomes AS SELECT d.rid, "
            + "".join(f"{v}, " for v in values)
            + f"sum(CASE WHEN {any_window} THEN 1 ELSE 0 END) AS counted "
            "FROM decisions d JOIN events e ON e.profile_id = d.profile_id "
            f"WHERE e.reason IS NULL AND e.event IN ({events}) GROUP BY d.rid"
        )
        (counted,) = connection.execute("SELECT coalesce(sum(counted), 0) FROM outcomes").fetchone()
        (valid,) = connection.execute("SELECT count(*) FROM events WHERE reason IS NULL").fetchone()
        (unmatched,) = connection.execute(
            "SELECT count(*) FROM events e WHERE e.reason IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM decisions d WHERE d.profile_id = e.profile_id)"
        ).fetchone()
        metric_columns = [f"m{i}" for i in range(len(self.metrics))]
        coalesced = "".join(f", coalesce(o.{c}, 0.0) AS {c}" for c in metric_columns)
        connection.execute(
            "CREATE OR REPLACE TABLE profile_values AS SELECT d.experiments, d.decisions, "
            f"d.segments{coalesced} FROM decisions d LEFT JOIN outcomes o ON o.rid = d.rid"
        )
        (profiles,) = connection.execute("SELECT count(*) FROM profile_values").fetchone()
        carried = "".join(f", {c}" for c in metric_columns)
        arms = self._grouped(
            "SELECT unnest(map_keys(experiments)) AS k1, unnest(map_values(experiments)) AS k2"
            f"{carried} FROM profile_values",
            2,
        )
        atoms = self._grouped(
            "SELECT * FROM (SELECT unnest(map_keys(decisions)) AS k1, "
            f"unnest(map_values(decisions)) AS k2{carried} FROM profile_values) "
            "WHERE k2 IS NOT NULL",
            2,
        )
        segments: dict[tuple[str, ...], Sums] = {}
        if by_segment:
            segments = self._grouped(
                f"SELECT k1, unnest(segments) AS k2, k3{carried} FROM (SELECT "
                "unnest(map_keys(experiments)) AS k1, unnest(map_values(experiments)) AS k3, "
                f"segments{carried} FROM profile_values)",
                3,
            )
        counted_n, valid_n, unmatched_n = int(counted), int(valid), int(unmatched)
        return JoinResult(
            profiles=int(profiles),
            counted=counted_n,
            unmatched=unmatched_n,
            ignored=max(valid_n - unmatched_n - counted_n, 0),
            arms={(k[0], k[1]): v for k, v in arms.items()},
            atoms={(k[0], k[1]): v for k, v in atoms.items()},
            segments={(k[0], k[1], k[2]): v for k, v in segments.items()},
        )

    def _grouped(self, source: str, keys: int) -> dict[tuple[str, ...], Sums]:
        names = [f"k{i + 1}" for i in range(keys)]
        aggregates = "".join(f", sum(m{i}), sum(m{i} * m{i})" for i in range(len(self.metrics)))
        rows = self.connection.execute(
            f"SELECT {', '.join(names)}, count(*){aggregates} FROM ({source}) "
            f"GROUP BY {', '.join(names)} ORDER BY {', '.join(names)}"
        ).fetchall()
        found: dict[tuple[str, ...], Sums] = {}
        count = len(self.metrics)
        for row in rows:
            key = tuple(str(part) for part in row[:keys])
            rest = row[keys:]
            sums = tuple(float(rest[1 + 2 * i] or 0.0) for i in range(count))
            squares = tuple(float(rest[2 + 2 * i] or 0.0) for i in range(count))
            found[key] = Sums(int(rest[0]), sums, squares)
        return found


__all__ = ["LOG_FILE", "DecisionJoin", "JoinResult", "Sums", "log_path"]
