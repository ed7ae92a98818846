"""Output formats: the files a run writes and how one chunk's records are encoded into
them (JSON lines, gzip members, zstd frames, Parquet row groups)."""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from atomcast.batch.files import named

if TYPE_CHECKING:
    from atomcast.render import RenderResult


OutputFormat = Literal["jsonl", "jsonl.gz", "jsonl.zst", "parquet"]


OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("jsonl", "jsonl.gz", "jsonl.zst", "parquet")


MANIFEST = "manifest.json"


REJECTS = "rejects.jsonl"


RENDERED: dict[OutputFormat, str] = {
    "jsonl": "rendered.jsonl",
    "jsonl.gz": "rendered.jsonl.gz",
    "jsonl.zst": "rendered.jsonl.zst",
    "parquet": "rendered.parquet",
}


#: zlib level for ``jsonl.gz``: rendered HTML compresses about 8x even at level 1-3, and the
#: higher levels cost more CPU than the whole render of a profile.
GZIP_LEVEL = 3


#: zstd level for ``jsonl.zst``: the library's default, about gzip's ratio at a fraction of
#: its CPU (measured in benchmarks/batch.py --format).
ZSTD_LEVEL = 3


class ByteWriter(Protocol):
    """Where a chunk's bytes go: a binary file, a buffer, or a placed stream."""

    def write(self, data: bytes, /) -> int: ...


class RenderedSink:
    """The rendered records of one chunk in the output format, written to ``handle``."""

    def __init__(self, handle: ByteWriter) -> None:
        self.handle = handle

    def add(self, blob: bytes, result: RenderResult) -> None:
        self.handle.write(blob)

    def close(self) -> None:
        """Flush what is buffered (the handle itself stays open)."""


class GzipSink(RenderedSink):
    """One gzip member per chunk: concatenated members are one valid gzip stream."""

    def __init__(self, handle: ByteWriter) -> None:
        super().__init__(handle)
        # wbits 31 = gzip framing; zlib writes a zero mtime, so the bytes are reproducible.
        self.compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)

    def add(self, blob: bytes, result: RenderResult) -> None:
        self.handle.write(self.compressor.compress(blob))

    def close(self) -> None:
        self.handle.write(self.compressor.flush())


class ZstdSink(RenderedSink):
    """One zstd frame per chunk: concatenated frames are one valid zstd stream."""

    def __init__(self, handle: ByteWriter) -> None:
        import zstandard

        super().__init__(handle)
        self.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj()

    def add(self, blob: bytes, result: RenderResult) -> None:
        data = self.compressor.compress(blob)
        if data:
            self.handle.write(data)

    def close(self) -> None:
        self.handle.write(self.compressor.flush())


def parquet_schema(channels: Sequence[str]) -> Any:
    """Columns of ``rendered.parquet``: ids and decisions, then status and JSON per channel."""
    import pyarrow as pa

    fields = [
        pa.field("profile_id", pa.string(), nullable=False),
        pa.field("campaign", pa.string(), nullable=False),
        pa.field("segments", pa.list_(pa.string())),
        pa.field("experiments", pa.string()),
        pa.field("decisions", pa.string()),
    ]
    for channel in channels:
        fields.append(pa.field(f"{channel}_status", pa.string()))
        fields.append(pa.field(channel, pa.string()))
    return pa.schema(fields)


class ParquetSink(RenderedSink):
    """Columns of one chunk, written as one Parquet file (one row group) on close."""

    def __init__(self, handle: ByteWriter, channels: Sequence[str], dumps: Any) -> None:
        super().__init__(handle)
        self.channels = tuple(channels)
        self.dumps = dumps
        self.columns: dict[str, list[Any]] = {name: [] for name in parquet_schema(channels).names}

    def add(self, blob: bytes, result: RenderResult) -> None:
        record = result.to_json()
        columns = self.columns
        dumps = self.dumps
        columns["profile_id"].append(record["profile_id"])
        columns["campaign"].append(record["campaign"])
        columns["segments"].append(record["segments"])
        columns["experiments"].append(dumps(record["experiments"]))
        columns["decisions"].append(dumps(record["decisions"]))
        outputs = record["channels"]
        for channel in self.channels:
            output = outputs.get(channel)
            columns[f"{channel}_status"].append(output["status"] if output else None)
            columns[channel].append(dumps(output) if output else None)

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(self.columns, schema=parquet_schema(self.channels))
        try:
            pq.write_table(table, self.handle, compression="zstd")
        except OSError as exc:  # pyarrow's own error drops the file name
            raise named(exc, getattr(self.handle, "name", "?")) from None
        self.columns = {}


def make_sink(
    handle: ByteWriter, output_format: OutputFormat, channels: Sequence[str], dumps: Any
) -> RenderedSink:
    if output_format == "jsonl.gz":
        return GzipSink(handle)
    if output_format == "jsonl.zst":
        return ZstdSink(handle)
    if output_format == "parquet":
        return ParquetSink(handle, channels, dumps)
    return RenderedSink(handle)


def concatenate_parquet(paths: Sequence[Path], target: Path, channels: Sequence[str]) -> None:
    """``target`` := one Parquet file with each part as a row group, atomically."""
    import pyarrow.parquet as pq

    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    schema = parquet_schema(channels)
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for path in paths:
                table = pq.read_table(path, schema=schema)
                if table.num_rows:
                    writer.write_table(table)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise named(exc, target) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def remove_outputs(out: Path) -> None:
    """Remove a previous run's final files (manifest first: no manifest, no claim)."""
    for name in (MANIFEST, *RENDERED.values(), REJECTS):
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()


__all__ = [
    "GZIP_LEVEL",
    "MANIFEST",
    "OUTPUT_FORMATS",
    "REJECTS",
    "RENDERED",
    "ZSTD_LEVEL",
    "ByteWriter",
    "GzipSink",
    "OutputFormat",
    "ParquetSink",
    "RenderedSink",
    "ZstdSink",
    "concatenate_parquet",
    "make_sink",
    "parquet_schema",
    "remove_outputs",
]
