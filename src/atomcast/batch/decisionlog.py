"""The decision log: ``OUT/decisions.parquet``, one row per rendered profile (SPEC 8).

It is what ``atomcast results`` joins outcome events with: who got which arm, which atom
filled each slot, which channels went out, when, and from which content. A chunk's rows are
gathered while the chunk renders (:class:`DecisionTap` sits in front of the rendered sink),
written as the chunk's own part file *before* the chunk's stats file marks it done (so a
resumed run never trusts a chunk without its decisions), and concatenated in chunk order
at the end, one row group per chunk. Nothing in the bytes depends on the engine, the
worker count or the order chunks finish in.

The instant and the content fingerprint are the same for every row of a run and are known
to the parent (the fingerprint only once every chunk is done), so they are added at the end.
"""

from __future__ import annotations

import array
import contextlib
import datetime as dt
import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atomcast.batch.parts import RenderedSink, part_paths, write_atomic
from atomcast.errors import BatchError

if TYPE_CHECKING:
    from atomcast.render import RenderResult

DECISIONS = "decisions.parquet"
#: Suffix of a chunk's decisions part, next to its ``.rendered`` / ``.rejects`` / ``.json``.
PART_SUFFIX = ".decisions"
#: Parquet compression of the log: ids and atom names repeat, so dictionary + zstd wins.
COMPRESSION = "zstd"


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

    encoded = [b"" if value is None else value.encode() for value in values]
    offsets = array.array("i", [0])
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
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


class _Interned:
    """Distinct values of one column in first-seen order, and each row's index into them.

    A chunk has few distinct segment lists, arm assignments, decision sets and channel
    outcomes; converting each distinct one to Arrow once, then ``take``-ing by index, costs
    a tuple and a dict lookup per row instead of a Python-to-Arrow conversion.
    """

    __slots__ = ("indexes", "values")

    def __init__(self) -> None:
        self.values: dict[tuple[Any, ...], int] = {}
        self.indexes: list[int] = []

    def add(self, value: tuple[Any, ...]) -> None:
        values = self.values
        index = values.get(value)
        if index is None:
            index = values[value] = len(values)
        self.indexes.append(index)

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
            raise ValueError("index out of range")
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
        self.decisions.add(tuple(result.decisions.items()))
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

        :raises ValueError: when the bytes are not such a part.
        """
        try:
            parsed = json.loads(data)
            if parsed.get("version") != PART_VERSION:
                raise ValueError("another version of atomcast wrote it")
            columns = cls()
            columns.profile_ids = [_text(pid) for pid in parsed["profile_ids"]]
            for name in _INTERNED:
                interned = _Interned.from_json(parsed[name], as_map=name in _MAPS)
                if len(interned.indexes) != len(columns.profile_ids):
                    raise ValueError(f"column {name} has the wrong length")
                setattr(columns, name, interned)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed ({exc.__class__.__name__}: {exc})") from None
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
    """Put a chunk's decisions part in place; call before the chunk's stats are written."""
    write_atomic(decisions_part(parts_dir, index), data)


def assemble(parts_dir: Path, chunks: int, out: Path, *, at: dt.datetime, content: str) -> Path:
    """``out/decisions.parquet`` := every chunk's part in chunk order, one row group each,
    with the run's instant and content fingerprint; written atomically.

    :raises BatchError: when a finished chunk has no decisions part (a run interrupted by an
        older atomcast): the log would silently miss profiles.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = out / DECISIONS
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    schema = decision_schema()
    try:
        with pq.ParquetWriter(tmp, schema, compression=COMPRESSION) as writer:
            for index in range(chunks):
                path = decisions_part(parts_dir, index)
                try:
                    columns = DecisionColumns.from_bytes(path.read_bytes())
                    if not columns.profile_ids:
                        continue
                    table = columns.to_table(at, content)
                except FileNotFoundError:
                    raise BatchError(
                        f"chunk {index} has no decision log part ({path.name}); remove "
                        f"{parts_dir} and run again"
                    ) from None
                except (OSError, ValueError, pa.ArrowException) as exc:
                    raise BatchError(
                        f"{path}: unreadable decision log part ({exc}); remove {parts_dir} "
                        "and run again"
                    ) from None
                writer.write_table(table)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return target


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
    "DecisionTap",
    "assemble",
    "decision_schema",
    "decisions_part",
    "read_decisions",
    "remove",
    "write_part",
]
