"""``batch --store URL``: every rendered profile's decision into the decision store, per chunk.

A chunk is stored, in one transaction, right after the journal commits it (a chunk sink, like
the decision log), from the chunk's decision log part: the same rows ``decisions.parquet`` gets.
Then a marker ``chunk-N.stored`` is written beside the chunk's parts. A resumed run stores
every finished chunk that has no marker for this store (killed between a chunk's commit and
its store, or between the store and the marker); the store's upsert makes that replay
harmless, so the store ends with each profile exactly once.

The instant, campaign and content fingerprint are the run's, from the journal header:
``content`` is the fingerprint the run checks its workers against (config, layouts and every
candidate atom), known before the first chunk.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from atomcast.batch.decisionlog import DecisionColumns, decisions_part
from atomcast.batch.files import RESUME, RESUME_HINT, io_failure, write_atomic
from atomcast.batch.journal import part_paths
from atomcast.batch.sinks import CommittedChunk, FinishedRun
from atomcast.errors import Argument, BatchError, StoreError
from atomcast.store import DecisionStore, StoredDecision, open_store, parse_url, redacted

#: In ``OUT/.parts``: which store the run writes to (its URL without password).
STORE_FILE = "store.json"
#: Suffix of a chunk's "stored" marker.
MARKER_SUFFIX = ".stored"


def check_store_url(url: str | None) -> None:
    """Refuse a malformed ``--store`` URL before anything is rendered.

    :raises StoreError: naming what is wrong.
    """
    if url is not None:
        parse_url(url)


def marker_path(parts_dir: Path, index: int) -> Path:
    stats = part_paths(parts_dir, index).stats
    return stats.with_name(stats.stem + MARKER_SUFFIX)


def chunk_records(columns: DecisionColumns, at: dt.datetime, content: str) -> list[StoredDecision]:
    """A chunk's decision log rows as store records.

    Rows share their interned values: a chunk has few distinct segment lists, arm sets and
    decision sets, and each becomes one tuple or dict here, whatever the number of rows.
    """
    campaigns = [value[0] for value in columns.campaigns.values]
    segments = list(columns.segments.values)
    experiments: list[dict[str, Any]] = [dict(value) for value in columns.experiments.values]
    decisions: list[dict[str, Any]] = [dict(value) for value in columns.decisions.values]
    return [
        StoredDecision(
            campaign=campaigns[c],
            profile_id=profile_id,
            at=at,
            content=content,
            segments=segments[s],
            experiments=experiments[e],
            decisions=decisions[d],
        )
        for profile_id, c, s, e, d in zip(
            columns.profile_ids,
            columns.campaigns.indexes,
            columns.segments.indexes,
            columns.experiments.indexes,
            columns.decisions.indexes,
            strict=True,
        )
    ]


class StoreSink:
    """A chunk sink (:mod:`atomcast.batch.sinks`) storing each committed chunk's decisions.

    It follows the output in order like the decision log: a chunk is stored right after the
    journal commits it, from its decision log part, then marked. A resumed run opens it with
    the chunks an earlier process committed, and it stores those that carry no marker for
    this store (killed between a commit and its store, or between the store and the marker).
    """

    def __init__(self, url: str, at: dt.datetime, content: str) -> None:
        self.url = url
        self.identity = redacted(url)
        self.at = at
        self.content = content
        self.store: DecisionStore | None = None
        self.parts: Path | None = None

    def open(self, parts_dir: Path, committed: int) -> None:
        self.parts = parts_dir
        self.store = open_store(self.url)
        write_atomic(parts_dir / STORE_FILE, json.dumps({"store": self.identity}).encode())
        for index in range(committed):
            if not self._marked(index):
                self._store_chunk(index)

    def chunk_committed(self, chunk: CommittedChunk) -> None:
        self._store_chunk(chunk.index)

    def finish(self, run: FinishedRun) -> None:
        """Every chunk was stored as it was committed: nothing is left for the end."""

    def close(self) -> None:
        store, self.store = self.store, None
        if store is not None:
            store.close()

    def _marked(self, index: int) -> bool:
        if self.parts is None:
            return False
        try:
            return marker_path(self.parts, index).read_text("utf-8") == self.identity
        except (OSError, UnicodeDecodeError):
            return False

    def _store_chunk(self, index: int) -> None:
        store, parts = self.store, self.parts
        if store is None or parts is None:
            return
        path = decisions_part(parts, index)
        try:
            columns = DecisionColumns.from_bytes(path.read_bytes())
        except FileNotFoundError:
            raise BatchError(
                f"chunk {index} has no decision log part ({path.name}) to store; remove "
                f"{parts} and run again"
            ) from None
        except (OSError, ValueError) as exc:
            raise BatchError(
                f"{path}: unreadable decision log part ({exc}); remove {parts} and run again"
            ) from None
        try:
            store.put_many(chunk_records(columns, self.at, self.content))
        except StoreError as exc:
            raise BatchError(
                f"chunk {index}: cannot store its decisions: {exc}; ", *RESUME_HINT
            ) from None
        # Not synced: a marker lost to a power cut only makes a resume store the chunk
        # again, and a torn one does not match the store's name.
        try:
            marker_path(parts, index).write_text(self.identity, "utf-8")
        except OSError as exc:
            raise io_failure(exc, parts) from None


def refuse_resume_without_store(parts_dir: Path, out: Path, url: str | None) -> None:
    """A run that stored its decisions is resumed with a store too: else the store would
    silently miss the chunks rendered after the interruption.

    :raises BatchError: naming the store the interrupted run wrote to.
    """
    store_file = parts_dir / STORE_FILE
    if url is None and store_file.exists():
        raise BatchError(
            f"the interrupted run in {out} stored its decisions "
            f"({_recorded_store(store_file)}): rerun with ",
            RESUME,
            " and the same ",
            Argument("store", "--store"),
        )


def _recorded_store(path: Path) -> str:
    try:
        return str(json.loads(path.read_bytes())["store"])
    except (OSError, ValueError, KeyError, TypeError):
        return "a store"


__all__ = [
    "STORE_FILE",
    "StoreSink",
    "check_store_url",
    "chunk_records",
    "marker_path",
    "refuse_resume_without_store",
]
