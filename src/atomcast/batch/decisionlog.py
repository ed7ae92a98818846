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

The content fingerprint is the same for every row but known only once every chunk is done
(it covers the atoms used). Row groups are written with a placeholder of the same length in
the ``content`` column, stored uncompressed, dictionary-encoded and without statistics, so
the placeholder is one run of bytes per row group, found through the file's own metadata and
overwritten in place when the run finishes.
"""

from __future__ import annotations

import array
import contextlib
import datetime as dt
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atomcast.batch.files import sync_folder, write_atomic
from atomcast.batch.formats import RenderedSink
from atomcast.batch.journal import part_paths
from atomcast.batch.sinks import CommittedChunk, FinishedRun
from atomcast.errors import BatchError, StateFileError

if TYPE_CHECKING:
    from atomcast.render import RenderResult

DECISIONS = "decisions.parquet"
#: The log being written, in ``OUT/.parts`` (rebuilt from the parts by a resumed run).
PARTIAL = "decisions.partial.parquet"
#: Suffix of a chunk's decisions part, next to its ``.rendered`` / ``.rejects`` / ``.json``.
PART_SUFFIX = ".decisions"
#: Parquet compression of the log: ids and atom names repeat, so dictionary + zstd wins.
COMPRESSION = "zstd"
#: Stands for the content fingerprint (64 hex digits) until the run knows it.
PLACEHOLDER = "~" * 64
_COLUMNS = (
    "profile_id",
    "campaign",
    "at",
    "segments",
    "experiments",
    "decisions",
    "channels",
    "content",
)


def decision_schema() -> Any:
    """The schema of ``decisions.parquet`` (SPEC 8)."""
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


# Arrays are built from raw buffers: pyarrow's conversion of Python objects imports pandas
# when it is installed, which costs more than the whole assembly of a large log.


def _int_array(values: Sequence[int], kind: Any, code: str = "i") -> Any:
    import pyarrow as pa

    raw = array.array(code, values)
    return pa.Array.from_buffers(kind, len(raw), [None, pa.py_buffer(raw.tobytes())])


def _string_array(values: Sequence[str | None]) -> Any:
    import pyarrow as pa

    offsets = array.array("i", [0])
    if None not in values:
        text = "".join(values)  # type: ignore[arg-type]
        if text.isascii():
            # Characters are bytes: one encoding of the whole column, offsets from lengths
            # (a column of ids is tens of thousands of short strings).
            offsets.extend(itertools.accumulate(map(len, values)))  # type: ignore[arg-type]
            data = text.encode()
            buffers = [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)]
            return pa.Array.from_buffers(pa.string(), len(values), buffers)
    encoded = [b"" if value is None else value.encode() for value in values]
    offsets.extend(itertools.accumulate(len(item) for item in encoded))
    validity = None
    if any(value is None for value in values):
        bits = bytearray((len(values) + 7) // 8)
        for position, value in enumerate(values):
            if value is not None:
                bits[position >> 3] |= 1 << (position & 7)
        validity = pa.py_buffer(bytes(bits))
    buffers = [validity, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers)


def _offsets(groups: Sequence[Sequence[Any]]) -> Any:
    import pyarrow as pa

    counts = array.array("i", [0])
    counts.extend(itertools.accumulate(len(group) for group in groups))
    return _int_array(counts, pa.int32())


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
    outcomes; converting each distinct one to Arrow once, then ``take``-ing by index, costs
    a tuple and a dict lookup per row instead of a Python-to-Arrow conversion.
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

    def to_arrow(self, shape: str) -> Any:
        """The column: ``text`` (1-tuples of a string), ``list`` or ``map`` of strings."""
        import pyarrow as pa

        distinct = list(self.values)
        if shape == "text":
            column = _string_array([value[0] for value in distinct])
        elif shape == "list":
            items = [item for value in distinct for item in value]
            column = pa.ListArray.from_arrays(_offsets(distinct), _string_array(items))
        else:
            pairs = [pair for value in distinct for pair in value]
            column = pa.MapArray.from_arrays(
                _offsets(distinct),
                _string_array([key for key, _ in pairs]),
                _string_array([item for _, item in pairs]),
            )
        return column.take(_int_array(self.indexes, pa.int32()))

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
        column.indexes = [int(i) for i in indexes]
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

    def to_table(self, at: dt.datetime, content: str) -> Any:
        """The chunk's rows with the run's instant and content (``decision_schema``)."""
        import pyarrow as pa

        rows = len(self.profile_ids)
        micros = int(at.astimezone(dt.UTC).timestamp() * 1_000_000)
        return pa.Table.from_arrays(
            [
                _string_array(self.profile_ids),
                self.campaigns.to_arrow("text"),
                _int_array([micros] * rows, pa.timestamp("us", tz="UTC"), "q"),
                self.segments.to_arrow("list"),
                self.experiments.to_arrow("map"),
                self.decisions.to_arrow("map"),
                self.channels.to_arrow("map"),
                _string_array([content] * rows),
            ],
            schema=decision_schema(),
        )

    def to_bytes(self) -> bytes:
        """The chunk's part: compact JSON of the interned columns.

        Not Arrow: a worker would pay for importing pyarrow, and the parent converts every
        part to Parquet at the end anyway. Not pickle: a part is read back from disk.
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
        self._writer: Any = None

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

    def _writer_now(self) -> Any:
        # Opened at the first chunk, not before the run: importing pyarrow then overlaps
        # with the workers' rendering instead of delaying their start.
        if self._writer is None:
            import pyarrow.parquet as pq

            others = [path for path in leaf_paths() if path != "content"]
            self._writer = pq.ParquetWriter(
                self.partial,
                decision_schema(),
                compression=dict.fromkeys(others, COMPRESSION) | {"content": "none"},
                write_statistics=others,
            )
        return self._writer

    def chunk_committed(self, chunk: CommittedChunk) -> None:
        self._add(chunk.parts_dir, chunk.index)

    def _add(self, parts_dir: Path, index: int) -> None:
        import pyarrow as pa

        columns = read_part(parts_dir, index)
        if not columns.profile_ids:
            return
        try:
            table = columns.to_table(self.at, PLACEHOLDER)
        except (ValueError, pa.ArrowException) as exc:
            path = decisions_part(parts_dir, index)
            raise BatchError(
                f"{path}: unreadable decision log part ({exc}); remove {parts_dir} and run again"
            ) from None
        self._writer_now().write_table(table)
        # The row group is on its way to disk: hand Arrow's buffers back to the system, which
        # its allocator would otherwise keep (~13 MB) in the parent for the whole run.
        pa.default_memory_pool().release_unused()

    def finish(self, run: FinishedRun) -> None:
        """Close the log, put the content fingerprint in, and move it into place."""
        self._writer_now().close()
        self._writer = None
        fill_content(self.partial, run.content_fingerprint)
        os.replace(self.partial, self.out / DECISIONS)
        sync_folder(self.out)

    def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):  # closing after a failure: keep that error
                self._writer.close()
            self._writer = None


def leaf_paths() -> list[str]:
    """The Parquet leaf columns of the log (``experiments.key_value.key``...): per-column
    writer options are keyed by them.

    Walked from the Arrow schema with Parquet's naming for nested types: asking a written
    sample file instead makes pyarrow import pandas, a third of a second at every start.
    """
    import pyarrow as pa

    def leaves(name: str, kind: Any) -> list[str]:
        if pa.types.is_map(kind):
            return [
                *leaves(f"{name}.key_value.key", kind.key_type),
                *leaves(f"{name}.key_value.value", kind.item_type),
            ]
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            return leaves(f"{name}.list.element", kind.value_type)
        if pa.types.is_struct(kind):
            return [
                path
                for index in range(kind.num_fields)
                for path in leaves(f"{name}.{kind.field(index).name}", kind.field(index).type)
            ]
        return [name]

    return [path for field in decision_schema() for path in leaves(field.name, field.type)]


def fill_content(path: Path, content: str) -> None:
    """Replace the placeholder of every row group's ``content`` with ``content``, on disk.

    In place when the placeholder is where the writer put it (one run of bytes per row
    group, inside the column's pages); otherwise, row group by row group into a new file.
    """
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(path).metadata
    # The index of the leaf column: maps and lists count one leaf per key, value or item.
    leaves = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    column = leaves.index("content")
    needle = PLACEHOLDER.encode()
    spots: list[int] = []
    with open(path, "r+b") as handle:
        for group in range(metadata.num_row_groups):
            chunk = metadata.row_group(group).column(column)
            start = chunk.dictionary_page_offset or chunk.data_page_offset
            handle.seek(start)
            data = handle.read(chunk.total_compressed_size)
            found = data.find(needle)
            if found < 0 or data.find(needle, found + 1) >= 0:
                break
            spots.append(start + found)
        if len(spots) == metadata.num_row_groups and len(content) == len(PLACEHOLDER):
            for spot in spots:
                os.pwrite(handle.fileno(), content.encode(), spot)
            handle.flush()
            os.fdatasync(handle.fileno())
            return
    _rewrite_content(path, content)


def _rewrite_content(path: Path, content: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    column = _COLUMNS.index("content")
    try:
        source = pq.ParquetFile(path)
        schema = decision_schema()
        with pq.ParquetWriter(tmp, schema, compression=COMPRESSION) as writer:
            for group in range(source.num_row_groups):
                table = source.read_row_group(group)
                filled = pa.array([content] * table.num_rows, pa.string())
                writer.write_table(table.set_column(column, schema.field(column), filled))
        with open(tmp, "rb") as handle:
            os.fdatasync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


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
