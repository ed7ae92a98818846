"""``batch --store URL``: every rendered profile's decision into the decision store, per chunk.

A chunk is stored, in one transaction, when the parent takes its commit (its stats file is
in place), from the chunk's decision log part: the same rows ``decisions.parquet`` gets.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from atomcast.batch.decisionlog import DecisionColumns, decisions_part
from atomcast.batch.parts import (
    RESUME_HINT,
    Journal,
    OutputFormat,
    io_failure,
    part_paths,
    write_atomic,
)
from atomcast.batch.stats import ChunkStats
from atomcast.errors import BatchError, StoreError
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


class StoringJournal(Journal):
    """The batch journal, storing each committed chunk's decisions when ``url`` is given.

    Without a URL it only refuses to resume, without ``--store``, a run that stored: the
    store would silently miss the chunks rendered after the interruption.
    """

    def __init__(self, out: Path, url: str | None = None) -> None:
        super().__init__(out)
        self.url = url
        self.identity = redacted(url) if url is not None else None
        self.store: DecisionStore | None = None
        self._stored: set[int] = set()
        self._at: dt.datetime | None = None
        self._content = ""

    # -- the journal's protocol ----------------------------------------------------------

    def open(self, output_format: OutputFormat) -> None:
        super().open(output_format)
        store_file = self.parts / STORE_FILE
        if self.url is None:
            if store_file.exists():
                self.close()
                raise BatchError(
                    f"the interrupted run in {self.out} stored its decisions "
                    f"({_recorded_store(store_file)}): rerun --resume with the same --store"
                )
            return
        try:
            header = self.read_header()
            self._at = dt.datetime.fromisoformat(header.at.replace("Z", "+00:00"))
            self._content = header.content_fingerprint
            self.store = open_store(self.url)
            write_atomic(store_file, json.dumps({"store": self.identity}).encode())
            # Chunks a previous process finished: stored unless their marker says so.
            self._store_finished(range(self.last_finished() + 1))
        except BaseException:
            self.close()
            raise

    def record(self, stats: ChunkStats) -> None:
        if self.store is not None:
            # Before the journal assembles: from here on a chunk's parts may be folded into
            # the final files, and every finished chunk it may fold is stored first.
            if stats.index not in self._stored:
                self._store_chunk(stats.index)
            following = self.assembly.chunks
            while part_paths(self.parts, following).stats.exists():
                if following not in self._stored:
                    self._store_chunk(following)
                following += 1
        super().record(stats)

    def finish(self, chunks: int, channels: Sequence[str]) -> None:
        if self.store is not None:
            self._store_finished(range(chunks))
        super().finish(chunks, channels)

    def close(self) -> None:
        try:
            super().close()
        finally:
            store, self.store = self.store, None
            if store is not None:
                store.close()

    # -- storing ---------------------------------------------------------------------------

    def _store_finished(self, indexes: range) -> None:
        for index in indexes:
            if index in self._stored or not part_paths(self.parts, index).stats.exists():
                continue
            if self._marked(index):
                self._stored.add(index)
            else:
                self._store_chunk(index)

    def _marked(self, index: int) -> bool:
        try:
            return marker_path(self.parts, index).read_text("utf-8") == self.identity
        except (OSError, UnicodeDecodeError):
            return False

    def _store_chunk(self, index: int) -> None:
        store, at = self.store, self._at
        if store is None or at is None:
            return
        path = decisions_part(self.parts, index)
        try:
            columns = DecisionColumns.from_bytes(path.read_bytes())
        except FileNotFoundError:
            raise BatchError(
                f"chunk {index} has no decision log part ({path.name}) to store; remove "
                f"{self.parts} and run again"
            ) from None
        except (OSError, ValueError) as exc:
            raise BatchError(
                f"{path}: unreadable decision log part ({exc}); remove {self.parts} and run again"
            ) from None
        try:
            store.put_many(chunk_records(columns, at, self._content))
        except StoreError as exc:
            raise BatchError(
                f"chunk {index}: cannot store its decisions: {exc}; {RESUME_HINT}"
            ) from None
        # Not synced: a marker lost to a power cut only makes a resume store the chunk
        # again, and a torn one does not match the store's name.
        try:
            marker_path(self.parts, index).write_text(self.identity or "", "utf-8")
        except OSError as exc:
            raise io_failure(exc, self.parts) from None
        self._stored.add(index)


def _recorded_store(path: Path) -> str:
    try:
        return str(json.loads(path.read_bytes())["store"])
    except (OSError, ValueError, KeyError, TypeError):
        return "a store"


__all__ = ["STORE_FILE", "StoringJournal", "check_store_url", "chunk_records", "marker_path"]
