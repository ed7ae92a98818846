"""Outcome events in: JSONL, CSV or Parquet files read by DuckDB into one typed table.

Every record becomes a row of the temporary table ``events`` with ``profile_id``,
``event``, ``at`` (UTC) and one ``DOUBLE`` per metric value field, or with a ``reason`` it
is rejected. Nothing here loops over events in Python: each file is one SQL statement, so a
file of millions of records costs what DuckDB's readers cost. A bad record (not JSON, no
profile id, an unreadable time, a non-numeric amount) is counted under its reason, never
fatal; a file that cannot be read at all (missing, not the format its name says, no
``profile_id`` column) is a :class:`~atomcast.errors.ResultsError` naming the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from atomcast.errors import ResultsError
from atomcast.results.metrics import Metric

EventFormat = Literal["jsonl", "csv", "parquet"]
_SUFFIXES: dict[str, EventFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}
REQUIRED = ("profile_id", "event", "at")

R_NOT_JSON = "not valid JSON"
R_NOT_OBJECT = "not a JSON object"
R_CSV = "malformed CSV row (or a line over 2 MB)"
R_PROFILE = "missing profile_id (a string or an integer)"
R_EVENT = "missing event (a string)"
R_AT = "missing or unreadable at (ISO 8601)"


def event_format(path: Path) -> EventFormat:
    """The format of an events file from its name (``.gz`` allowed for JSONL and CSV)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    found = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if found is None:
        raise ResultsError(
            f"{path}: unknown events format (expected .jsonl, .csv or .parquet, optionally "
            ".gz for JSONL and CSV)"
        )
    if found == "parquet" and path.suffix.lower() == ".gz":
        raise ResultsError(f"{path}: Parquet files are compressed inside; drop the .gz")
    return found


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(slots=True)
class EventLoad:
    """What reading the events files found (before the join)."""

    read: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ValueField:
    """A numeric event field some metric sums, as column ``v{index}`` of ``events``."""

    index: int
    name: str
    events: tuple[str, ...]

    @property
    def column(self) -> str:
        return f"v{self.index}"


def value_fields(metrics: Sequence[Metric]) -> tuple[ValueField, ...]:
    """One column per distinct value field, with the events it is required on."""
    by_name: dict[str, list[str]] = {}
    for metric in metrics:
        if metric.value is not None:
            by_name.setdefault(metric.value, [])
            if metric.event not in by_name[metric.value]:
                by_name[metric.value].append(metric.event)
    return tuple(
        ValueField(index, name, tuple(events))
        for index, (name, events) in enumerate(by_name.items())
    )


class EventReader:
    """Loads events files into the temporary table ``events`` of a DuckDB connection."""

    def __init__(self, connection: Any, metrics: Sequence[Metric]) -> None:
        self.connection = connection
        self.metrics = tuple(metrics)
        self.fields = value_fields(metrics)
        self._scans = 0

    def load(self, paths: Sequence[Path]) -> EventLoad:
        """Read every file into ``events`` (valid and rejected rows alike) and count."""
        columns = ", ".join(
            ["profile_id VARCHAR", "event VARCHAR", '"at" TIMESTAMPTZ']
            + [f"{f.column} DOUBLE" for f in self.fields]
            + ["reason VARCHAR"]
        )
        self.connection.execute(f"CREATE OR REPLACE TABLE events ({columns})")
        load = EventLoad()
        for path in paths:
            if not path.is_file():
                raise ResultsError(f"{path}: no such events file")
            load.files.append(str(path))
            malformed = self._load_file(path, event_format(path))
            if malformed:
                load.reasons[R_CSV] = load.reasons.get(R_CSV, 0) + malformed
        for reason, count in self.connection.execute(
            "SELECT reason, count(*) FROM events WHERE reason IS NOT NULL GROUP BY reason "
            "ORDER BY count(*) DESC, reason"
        ).fetchall():
            load.reasons[str(reason)] = load.reasons.get(str(reason), 0) + int(count)
        (rows,) = self.connection.execute("SELECT count(*) FROM events").fetchone()
        load.rejected = sum(load.reasons.values())
        load.read = int(rows) + load.reasons.get(R_CSV, 0)
        return load

    # -- one file ----------------------------------------------------------------------

    def _load_file(self, path: Path, fmt: EventFormat) -> int:
        """Insert the file's rows; the number of rows the CSV reader itself rejected."""
        import duckdb

        self._scans += 1
        try:
            if fmt == "jsonl":
                source = self._jsonl_source(path)
            elif fmt == "csv":
                source = self._table_source(path, self._csv_reader(path), csv=True)
            else:
                source = self._table_source(path, f"read_parquet({_literal(str(path))})", csv=False)
            self.connection.execute(f"INSERT INTO events {self._validated(source)}")
            if fmt != "parquet":
                (count,) = self.connection.execute(
                    f"SELECT count(DISTINCT line) FROM {self._rejects_table}"
                ).fetchone()
                return int(count)
        except duckdb.Error as exc:
            raise ResultsError(f"{path}: cannot read the events ({_first_line(exc)})") from None
        return 0

    @property
    def _rejects_table(self) -> str:
        return f"atomcast_csv_rejects_{self._scans}"

    def _csv_reader(self, path: Path) -> str:
        return (
            f"read_csv({_literal(str(path))}, header=true, all_varchar=true, "
            "store_rejects=true, "
            f"rejects_table={_literal(self._rejects_table)}, "
            f"rejects_scan={_literal(self._rejects_table + '_scan')})"
        )

    def _jsonl_source(self, path: Path) -> str:
        # Each line as one text column (a delimiter that valid JSON never holds unescaped),
        # then parsed by DuckDB's JSON functions only where it is valid JSON.
        lines = (
            f"read_csv({_literal(str(path))}, columns={{'line': 'VARCHAR'}}, "
            "delim=chr(1)::VARCHAR, quote='', escape='', header=false, auto_detect=false, "
            f"store_rejects=true, rejects_table={_literal(self._rejects_table)}, "
            f"rejects_scan={_literal(self._rejects_table + '_scan')})"
        )
        values = []
        for value in self.fields:
            path_literal = _literal('$."' + value.name.replace('"', '\\"') + '"')
            values.append(
                f"CASE WHEN json_type(j, {path_literal}) IN ('DOUBLE', 'UBIGINT', 'BIGINT') "
                f"THEN (j ->> {path_literal})::DOUBLE END AS {value.column}"
            )
        extra = "".join(f", {v}" for v in values)
        return (
            "SELECT CASE WHEN j IS NULL THEN " + _literal(R_NOT_JSON) + " WHEN json_type(j) "
            "<> 'OBJECT' THEN " + _literal(R_NOT_OBJECT) + " END AS shape, "
            "CASE WHEN json_type(j, '$.profile_id') IN ('VARCHAR', 'UBIGINT', 'BIGINT') "
            "THEN j ->> 'profile_id' END AS profile_id, "
            "CASE WHEN json_type(j, '$.event') = 'VARCHAR' THEN j ->> 'event' END AS event, "
            "CASE WHEN json_type(j, '$.at') = 'VARCHAR' THEN TRY_CAST(j ->> 'at' AS "
            'TIMESTAMPTZ) END AS "at"' + extra + " FROM (SELECT CASE WHEN json_valid(line) "
            f"THEN line END AS j FROM {lines} WHERE trim(line) <> '')"
        )

    def _table_source(self, path: Path, reader: str, *, csv: bool) -> str:
        described = self.connection.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
        types = {str(row[0]): str(row[1]).upper() for row in described}
        missing = [name for name in REQUIRED if name not in types]
        if missing:
            raise ResultsError(
                f"{path}: no {', '.join(missing)} column (columns: {', '.join(types) or 'none'})"
            )
        id_type = types["profile_id"]
        if csv or id_type == "VARCHAR":
            profile = "NULLIF(trim(profile_id), '')"
        elif any(id_type.startswith(t) for t in ("BIGINT", "INTEGER", "UBIGINT", "UINTEGER")):
            profile = "CAST(profile_id AS VARCHAR)"
        else:
            profile = "NULL"
        event = "NULLIF(trim(event), '')" if types["event"] == "VARCHAR" else "NULL"
        values = [
            f"TRY_CAST({_ident(v.name)} AS DOUBLE) AS {v.column}"
            if v.name in types
            else f"NULL::DOUBLE AS {v.column}"
            for v in self.fields
        ]
        extra = "".join(f", {v}" for v in values)
        return (
            f"SELECT NULL::VARCHAR AS shape, {profile} AS profile_id, {event} AS event, "
            f'TRY_CAST("at" AS TIMESTAMPTZ) AS "at"{extra} FROM {reader}'
        )

    def _validated(self, source: str) -> str:
        checks = [
            "WHEN shape IS NOT NULL THEN shape",
            f"WHEN profile_id IS NULL OR profile_id = '' THEN {_literal(R_PROFILE)}",
            f"WHEN event IS NULL OR event = '' THEN {_literal(R_EVENT)}",
            f'WHEN "at" IS NULL THEN {_literal(R_AT)}',
        ]
        for value in self.fields:
            events = ", ".join(_literal(e) for e in value.events)
            reason = _literal(f"no numeric '{value.name}'")
            checks.append(f"WHEN event IN ({events}) AND {value.column} IS NULL THEN {reason}")
        columns = ", ".join(f.column for f in self.fields)
        value_columns = f", {columns}" if columns else ""
        return (
            f'SELECT profile_id, event, "at"{value_columns}, CASE {" ".join(checks)} END '
            f"AS reason FROM ({source})"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


__all__ = ["EventFormat", "EventLoad", "EventReader", "ValueField", "event_format", "value_fields"]
