"""How a JSON Lines file is cut into chunks: the parent reads whole chunks as bytes and the
worker splits them into lines. The definition is the per-line reading below (what the
reader did before): every chunk, record, line number, byte position and digest must be the
same for any file, blank lines, a byte order mark, CR LF and a last line without a newline
included."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.batch.readers import (
    JsonlChunk,
    chunk_first_line,
    chunk_last_line,
    jsonl_record,
    open_profiles,
)
from atomcast.schema import ProfileSchema
from tests.conftest import examples

BOM = b"\xef\xbb\xbf"

LINES = st.sampled_from(
    [
        b'{"id": "a", "n": 1}',
        b'{"id": "b"}',
        b"{",  # truncated: the reject names a column
        b'{"id": "c"} x',
        b"[1, 2]",
        b"",
        b"   ",
        b"\t\r",
        b"\x0b\x0c",
        b'  {"id": "d"}  ',
        b'{"id": "e\\u00e9"}\r',
        b"\xff\xfe",
        b"\x85",  # not ASCII whitespace: a record (a malformed one)
    ]
)


def reference(path: Path, chunk_size: int) -> Iterator[dict[str, Any]]:
    """Line by line, as the reader did: a chunk is yielded as its ``chunk_size``-th record
    is read; the file's last chunk takes the blank lines at its end."""
    index = position = 0
    lines: list[tuple[int, bytes]] = []
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for line_no, data in enumerate(handle, start=1):
            position += len(data)
            digest.update(data)
            if line_no == 1 and data.startswith(BOM):
                data = data[3:]
            if not data.strip():
                continue
            lines.append((line_no, data))
            if len(lines) >= chunk_size:
                yield _chunk(index, lines, position, digest.hexdigest())
                index += 1
                lines = []
                digest = hashlib.sha256()
    if lines:
        yield _chunk(index, lines, position, digest.hexdigest())


def _chunk(
    index: int, lines: list[tuple[int, bytes]], position: int, digest: str
) -> dict[str, Any]:
    return {
        "index": index,
        "count": len(lines),
        "position": position,
        "digest": digest,
        "first": lines[0][0],
        "last": lines[-1][0],
        "records": [(n, repr(jsonl_record(data))) for n, data in lines],
    }


def chunked(path: Path, chunk_size: int) -> list[dict[str, Any]]:
    schema = ProfileSchema({})
    found = []
    for chunk in open_profiles(path, schema, chunk_size=chunk_size).chunks():
        assert isinstance(chunk, JsonlChunk)
        found.append(
            {
                "index": chunk.index,
                "count": chunk.count,
                "position": chunk.position,
                "digest": chunk.digest,
                "first": chunk_first_line(chunk),
                "last": chunk_last_line(chunk),
                "records": [(n, repr(raw)) for n, raw in chunk.records(schema)],
            }
        )
    return found


@settings(max_examples=examples(400), deadline=None)
@given(
    lines=st.lists(LINES, max_size=14),
    bom=st.booleans(),
    crlf=st.booleans(),
    ended=st.booleans(),
    chunk_size=st.integers(1, 5),
)
def test_chunks_are_the_line_by_line_reading(
    tmp_path_factory: Any, lines: list[bytes], bom: bool, crlf: bool, ended: bool, chunk_size: int
) -> None:
    newline = b"\r\n" if crlf else b"\n"
    data = newline.join(lines) + (newline if ended and lines else b"")
    if bom:
        data = BOM + data
    path = tmp_path_factory.mktemp("chunks") / "profiles.jsonl"
    path.write_bytes(data)
    assert chunked(path, chunk_size) == list(reference(path, chunk_size))


def test_a_long_file_with_blank_runs(tmp_path: Path) -> None:
    """Blank lines straddling many chunk boundaries, in a file of a few thousand lines."""
    rows = []
    for i in range(3000):
        rows.append(b'{"id": "p%d"}\n' % i)
        if i % 7 == 0:
            rows.append(b"\n" * (i % 5))
    path = tmp_path / "profiles.jsonl"
    path.write_bytes(BOM + b"".join(rows))
    for size in (1, 3, 500, 2000, 5000):
        assert chunked(path, size) == list(reference(path, size))
