"""The decision log: ``OUT/decisions.parquet``, one row per rendered profile (SPEC 8).

It is what ``atomcast results`` joins outcome events with: who got which arm, which atom
filled each slot, which channels went out, when, and from which content. A chunk's rows are
gathered while the chunk renders (:class:`DecisionTap` sits in front of the rendered sink)
and written as the chunk's own part file *before* the chunk is marked done (so a resumed run
never trusts a chunk without its decisions). The parent turns each part into a row group of
the log as the chunk is committed, in input order (:class:`DecisionLog` is a chunk sink,
:mod:`atomcast.batch.sinks`), while the workers render the next chunks: at the end the
file is only closed. Nothing in the bytes depends on the engine, the worker count or the
order chunks finish in.

The file is written by :mod:`atomcast.batch.parquet`, not pyarrow: importing pyarrow cost
the parent more CPU than writing a 60,000-row log. Readers (``atomcast results``, tests) use
pyarrow or DuckDB.

The content fingerprint is the same for every row but known only once every chunk is done
(it covers the atoms used). Row groups are written with a placeholder of the same length in
the ``content`` column, stored uncompressed and dictionary-encoded, so the placeholder is one
run of bytes per row group, at an offset the writer reports, overwritten in place when the
run finishes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atomcast.batch.files import sync_folder, write_atomic
from atomcast.batch.formats import RenderedSink
from atomcast.batch.journal import part_paths
from atomcast.batch.parquet import Column, Field, ParquetWriter, overwrite
from atomcast.batch.sinks import CommittedChunk, FinishedRun
from atomcast.errors import BatchError, ParameterError, StateFileError

if TYPE_CHECKING:
    from atomcast.render import RenderResult

DECISIONS = "decisions.parquet"
#: The log being written, in ``OUT/.parts`` (rebuilt from the parts by a resumed run).
PARTIAL = "decisions.partial.parquet"
#: Suffix of a chunk's decisions part, next to its ``.rendered`` / ``.rejects`` / ``.json``.
PART_SUFFIX = ".decisions"
#: Stands for the content fingerprint (64 hex digits) until the run knows it.
PLACEHOLDER = "~" * 64
#: The columns of ``decisions.parquet`` (SPEC 8) as this module writes them; pyarrow reads
#: them as :func:`decision_schema`. Ids and atom names repeat: zstd makes them small.
LOG_FIELDS = (
    Field("profile_id", "text"),
    Field("campaign", "text"),
    Field("at", "timestamp"),
    Field("segments", "text_list"),
    Field("experiments", "text_map"),
    Field("decisions", "text_map"),
    Field("channels", "text_map"),
    # Raw, one dictionary value per row group: overwritten in place at the end.
    Field("content", "text", compressed=False, statistics=False, dictionary=True),
)


def decision_schema() -> Any:
    """The schema of ``decisions.parquet`` (SPEC 8) as pyarrow reads it (for readers)."""
    import pyarrow as pa

    text_map = pa.map_(pa.string(), pa.string())
    return pa.schema(
        [
            pa.field("profile_id", pa.string(), nullable=False),
            pa.field("campaign", pa.string(), nullable=False),
            pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("segments", pa.list_(pa.string())),
            pa.field("experiments", text_map),
            pa.field("decisions", text_map),
            pa.field("channels", text_map),
            pa.field("content", pa.string(), nullable=False),
        ]
    )


def decisions_part(parts_dir: Path, index: int) -> Path:
    rendered = part_paths(parts_dir, index).rendered
    return rendered.with_name(rendered.stem + PART_SUFFIX)


def _text(value: Any) -> str:
    """``value`` if it is a string: a part read back from disk is checked, not trusted."""
    if not isinstance(value, str):
        raise StateFileError(f"expected a string, got {value!r}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


#: Distinct shared objects a chunk's column remembers by identity.
SHARED_ROWS = 4096


class _Interned:
    """Distinct values of one column in first-seen order, and each row's index into them.

    A chunk has few distinct segment lists, arm assignments, decision sets and channel
    outcomes; encoding each distinct one once, then referring to it by index, costs a tuple
    and a dict lookup per row instead of an encoding.
    """

    __slots__ = ("by_identity", "indexes", "values")

    def __init__(self) -> None:
        self.values: dict[tuple[Any, ...], int] = {}
        self.indexes: list[int] = []
        #: Index by the identity of an object many rows share (a shared decision), kept
        #: alive with it so that its id cannot be reused meanwhile.
        self.by_identity: dict[int, tuple[object, int]] = {}

    def add(self, value: tuple[Any, ...]) -> None:
        values = self.values
        index = values.get(value)
        if index is None:
            index = values[value] = len(values)
        self.indexes.append(index)

    def add_shared(self, source: Mapping[str, Any]) -> None:
        """:meth:`add` of ``tuple(source.items())``, for a mapping many rows share and
        nobody changes: made into a tuple once per chunk."""
        known = self.by_identity.get(id(source))
        if known is not None and known[0] is source:
            self.indexes.append(known[1])
            return
        self.add(tuple(source.items()))
        if len(self.by_identity) < SHARED_ROWS:
            self.by_identity[id(source)] = (source, self.indexes[-1])

    def column(self) -> Column:
        """The rows for :class:`~atomcast.batch.parquet.ParquetWriter`."""
        return Column(list(self.values), self.indexes)

    def to_json(self) -> list[Any]:
        return [list(self.values), self.indexes]

    @classmethod
    def from_json(cls, data: Any, as_map: bool) -> _Interned:
        values, indexes = data
        column = cls()
        for value in values:
            if as_map:
                key: tuple[Any, ...] = tuple((_text(k), _optional_text(v)) for k, v in value)
            else:
                key = tuple(_text(item) for item in value)
            column.values[key] = len(column.values)
        # Checked all at once (a conversion per row cost more than the rest of the read).
        if not isinstance(indexes, list) or not set(map(type, indexes)) <= {int}:
            raise StateFileError("indexes must be integers")
        column.indexes = indexes
        if column.indexes and not 0 <= min(column.indexes) <= max(column.indexes) < len(values):
            raise StateFileError("index out of range")
        return column


class DecisionColumns:
    """One chunk's decision rows, column by column."""

    __slots__ = ("campaigns", "channels", "decisions", "experiments", "profile_ids", "segments")

    def __init__(self) -> None:
        self.profile_ids: list[str] = []
        self.campaigns = _Interned()
        self.segments = _Interned()
        self.experiments = _Interned()
        self.decisions = _Interned()
        self.channels = _Interned()

    def __len__(self) -> int:
        return len(self.profile_ids)

    def add(self, result: RenderResult) -> None:
        self.profile_ids.append(result.profile_id)
        self.campaigns.add((result.campaign,))
        self.segments.add(result.segments)
        self.experiments.add(tuple(result.experiments.items()))
        self.decisions.add_shared(result.decisions)
        self.channels.add(tuple([(name, out.status) for name, out in result.channels.items()]))

    def to_columns(self, at: dt.datetime, content: str) -> list[Column]:
        """The chunk's rows with the run's instant and content, one column per
        :data:`LOG_FIELDS` field."""
        rows = len(self.profile_ids)
        micros = int(at.astimezone(dt.UTC).timestamp() * 1_000_000)
        return [
            Column(self.profile_ids),
            # Interned as 1-tuples (one key type for every column).
            Column([value[0] for value in self.campaigns.values], self.campaigns.indexes),
            Column([micros], [0] * rows),
            self.segments.column(),
            self.experiments.column(),
            self.decisions.column(),
            self.channels.column(),
            Column([content], [0] * rows),
        ]

    def to_bytes(self) -> bytes:
        """The chunk's part: compact JSON of the interned columns.

        Not Parquet: the parent writes the log itself, in input order. Not pickle: a part is
        read back from disk.
        """
        return json.dumps(
            {
                "version": PART_VERSION,
                "profile_ids": self.profile_ids,
                **{name: getattr(self, name).to_json() for name in _INTERNED},
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> DecisionColumns:
        """A part written by :meth:`to_bytes`.

        :raises StateFileError: when the bytes are not such a part.
        """
        try:
            parsed = json.loads(data)
            if parsed.get("version") != PART_VERSION:
                raise StateFileError("another version of atomcast wrote it")
            columns = cls()
            profile_ids = parsed["profile_ids"]
            # Checked, not trusted: a part is read back from disk (all at once: a type
            # test per id cost more than the rest of the read).
            if not isinstance(profile_ids, list) or not set(map(type, profile_ids)) <= {str}:
                raise StateFileError("profile ids must be strings")
            columns.profile_ids = profile_ids
            for name in _INTERNED:
                interned = _Interned.from_json(parsed[name], as_map=name in _MAPS)
                if len(interned.indexes) != len(columns.profile_ids):
                    raise StateFileError(f"column {name} has the wrong length")
                setattr(columns, name, interned)
        except (KeyError, TypeError, AttributeError) as exc:
            raise StateFileError(f"malformed ({exc.__class__.__name__}: {exc})") from None
        return columns


_INTERNED = ("campaigns", "segments", "experiments", "decisions", "channels")
_MAPS = ("experiments", "decisions", "channels")
PART_VERSION = 1


class DecisionTap(RenderedSink):
    """A rendered sink that also records each profile's decisions."""

    def __init__(self, inner: RenderedSink) -> None:
        super().__init__(inner.handle)
        self.inner = inner
        self.columns = DecisionColumns()

    def add(self, blob: bytes, result: RenderResult) -> None:
        self.inner.add(blob, result)
        self.columns.add(result)

    def close(self) -> None:
        self.inner.close()


def write_part(parts_dir: Path, index: int, data: bytes) -> None:
    """Put a chunk's decisions part in place; call before the chunk is marked done."""
    write_atomic(decisions_part(parts_dir, index), data)


def read_part(parts_dir: Path, index: int) -> DecisionColumns:
    """A committed chunk's decisions part.

    :raises BatchError: when it is missing (a run interrupted by an older atomcast: the log
        would silently miss profiles) or damaged.
    """
    path = decisions_part(parts_dir, index)
    try:
        return DecisionColumns.from_bytes(path.read_bytes())
    except FileNotFoundError:
        raise BatchError(
            f"chunk {index} has no decision log part ({path.name}); remove {parts_dir} and "
            "run again"
        ) from None
    except (OSError, ValueError) as exc:
        raise BatchError(
            f"{path}: unreadable decision log part ({exc}); remove {parts_dir} and run again"
        ) from None


class DecisionLog:
    """The chunk sink that writes ``OUT/decisions.parquet`` as chunks are committed.

    :param at: the run's instant (every row's ``at``).
    """

    def __init__(self, out: Path, at: dt.datetime) -> None:
        self.out = out
        self.at = at
        self.parts_dir: Path | None = None
        self._writer: ParquetWriter | None = None

    @property
    def partial(self) -> Path:
        if self.parts_dir is None:
            raise BatchError("internal error: the decision log was not opened")
        return self.parts_dir / PARTIAL

    def open(self, parts_dir: Path, committed: int) -> None:
        """Start the log afresh; a resumed run converts its committed chunks' parts again
        (a Parquet file cannot be continued after a kill, and parts are small)."""
        self.close()
        self.parts_dir = parts_dir
        self.partial.unlink(missing_ok=True)
        for index in range(committed):
            self._add(parts_dir, index)

    def _writer_now(self) -> ParquetWriter:
        if self._writer is None:
            self._writer = ParquetWriter(self.partial, LOG_FIELDS)
        return self._writer

    def chunk_committed(self, chunk: CommittedChunk) -> None:
        self._add(chunk.parts_dir, chunk.index)

    def _add(self, parts_dir: Path, index: int) -> None:
        columns = read_part(parts_dir, index)
        if not columns.profile_ids:
            return
        try:
            self._writer_now().write_row_group(
                len(columns), columns.to_columns(self.at, PLACEHOLDER)
            )
        except ParameterError as exc:  # a lone surrogate in an id, a map without its key
            path = decisions_part(parts_dir, index)
            raise BatchError(
                f"{path}: unreadable decision log part ({exc}); remove {parts_dir} and run again"
            ) from None

    def finish(self, run: FinishedRun) -> None:
        """Close the log, put the content fingerprint in, and move it into place."""
        writer = self._writer_now()
        writer.close()
        self._writer = None
        fill_content(self.partial, writer.dictionary_spots["content"], run.content_fingerprint)
        os.replace(self.partial, self.out / DECISIONS)
        sync_folder(self.out)

    def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(OSError):  # closing after a failure: keep that error
                self._writer.abort()
            self._writer = None


def fill_content(path: Path, spots: Sequence[int], content: str) -> None:
    """Overwrite the placeholder at each of ``spots`` (one per row group, as the writer
    reported them) with ``content``, in place and durably.

    :raises BatchError: when ``content`` is not the placeholder's length.
    """
    data = content.encode()
    if len(data) != len(PLACEHOLDER):
        raise BatchError(f"internal error: a content fingerprint of {len(data)} bytes")
    overwrite(path, spots, data)


def remove(out: Path) -> None:
    """Remove a previous run's log (with its other final files)."""
    with contextlib.suppress(FileNotFoundError):
        (out / DECISIONS).unlink()


def read_decisions(path: Path, columns: Sequence[str] | None = None) -> Any:
    """The log as a pyarrow Table (for tests and tools)."""
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=list(columns) if columns is not None else None)


__all__ = [
    "DECISIONS",
    "LOG_FIELDS",
    "DecisionColumns",
    "DecisionLog",
    "DecisionTap",
    "decision_schema",
    "decisions_part",
    "fill_content",
    "read_decisions",
    "read_part",
    "remove",
    "write_part",
]
