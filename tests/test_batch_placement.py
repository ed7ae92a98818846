"""Chunks written in place: a chunk waits for its predecessor's end offset (published on a
board shared by processes), buffers meanwhile, and spills to a file when it outgrows the
buffer; the bytes land at their final offsets, once."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from atomcast.batch import placement
from atomcast.batch.placement import LocalBoard, PlacedStream, SharedBoard, copy_range


def _output(path: Path, size: int) -> int:
    path.write_bytes(b"." * size)
    return os.open(path, os.O_WRONLY)


@pytest.mark.parametrize("known_early", [True, False])
def test_a_chunk_lands_at_its_offset_whether_it_buffered_streamed_or_spilled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, known_early: bool
) -> None:
    monkeypatch.setattr(placement, "BUFFER_LIMIT", 100)
    monkeypatch.setattr(placement, "WRITE_SIZE", 16)
    out = tmp_path / "rendered.partial"
    fd = _output(out, 10)
    spill = tmp_path / "chunk.spill"
    stream = PlacedStream(fd, out, lambda: 10 if known_early else None, spill)
    lines = [f"record {i:03d}\n".encode() for i in range(40)]
    try:
        for line in lines:
            stream.write(line)
        # Unknown offset past the buffer: the chunk went to its spill file meanwhile.
        assert spill.exists() is not known_early
        end = stream.place(10)
    finally:
        stream.discard()
        os.close(fd)
    assert end == 10 + sum(map(len, lines))
    assert out.read_bytes() == b"." * 10 + b"".join(lines)
    assert not spill.exists()


def test_copy_range_copies_at_an_offset(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(bytes(range(256)) * 1000)
    target = tmp_path / "target"
    target.write_bytes(b"head")
    with open(source, "rb") as src, open(target, "r+b") as dst:
        copy_range(src.fileno(), dst.fileno(), 256_000, 4)
    assert target.read_bytes() == b"head" + source.read_bytes()


def _publish_after(board: SharedBoard, index: int, ends: tuple[int, int]) -> None:
    board.publish(index, *ends)


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_a_shared_board_carries_ends_between_processes(method: str) -> None:
    context = multiprocessing.get_context(method)
    board = SharedBoard(context)
    board.publish(-1, 0, 0)
    assert board.peek(-1) == (0, 0)
    assert board.peek(0) is None
    process = context.Process(target=_publish_after, args=(board, 0, (123, 45)))
    process.start()
    assert board.wait(0) == (123, 45)
    process.join(timeout=30)
    assert process.exitcode == 0
    # Slots are reused round the ring: an old index never answers for a new one.
    for index in range(1, 20):
        board.publish(index, index * 10, index)
    assert board.peek(19) == (190, 19)
    assert board.peek(0) is None


def test_a_local_board_keeps_the_last_end() -> None:
    board = LocalBoard()
    board.publish(-1, 5, 6)
    assert board.wait(-1) == (5, 6)
    board.publish(0, 7, 8)
    assert board.peek(-1) is None
    assert board.wait(0) == (7, 8)
