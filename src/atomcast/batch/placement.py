"""Workers write each chunk straight into the output files, at its final offset.

A chunk's place in ``rendered.partial`` is where the chunk before it ends, which is known
only once that chunk is rendered. An :class:`OffsetBoard` is where each chunk's end offsets
are published (by the worker that wrote it, or by the parent when it appended a part file
instead); a worker renders its chunk into memory while it waits for its predecessor's end,
then writes at the final offset and streams the rest of the chunk there directly. Chunks are
handed out in input order, so the chunk waited for is always being rendered already or done:
waits are short (one chunk overlaps the next) and never circular.

Should the predecessor take long (a slow worker, huge records), a chunk that outgrows
:data:`BUFFER_LIMIT` spills to a temporary file, copied into place in the kernel
(``copy_file_range``) once its offset is known: memory stays bounded, and only such a chunk
is written twice.

Durability and resume (see :mod:`atomcast.batch.journal`): a worker syncs the output file
before it writes the chunk's stats file, which records the chunk's byte ranges (``placed``).
The parent counts a chunk as assembled, in order, only from those stats; a resumed run
truncates the output files to what is assembled, so bytes of unfinished chunks disappear.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, Protocol

from atomcast.errors import BatchError

#: Rendered bytes a chunk keeps in memory while its offset is unknown.
BUFFER_LIMIT = 32 << 20
#: Bytes gathered before one positioned write, once the offset is known.
WRITE_SIZE = 1 << 20
#: Slots of the shared board: chunks are published in index order and each waiter reads its
#: predecessor's slot before it publishes its own, so two would do.
SLOTS = 8
#: How often a waiting worker wakes up (it is killed with the parent, never orphaned).
WAIT_SECONDS = 1.0
_NONE = -2


class OffsetBoard(Protocol):
    """Where chunk ``i`` learns where chunk ``i - 1`` ends (``-1``: the run's start)."""

    def publish(self, index: int, rendered_end: int, rejects_end: int) -> None: ...

    def peek(self, index: int) -> tuple[int, int] | None: ...

    def wait(self, index: int) -> tuple[int, int]: ...


class LocalBoard:
    """The board of a run rendered in one process (chunks come in order)."""

    def __init__(self) -> None:
        self.ends: dict[int, tuple[int, int]] = {}

    def publish(self, index: int, rendered_end: int, rejects_end: int) -> None:
        self.ends = {index: (rendered_end, rejects_end)}

    def peek(self, index: int) -> tuple[int, int] | None:
        return self.ends.get(index)

    def wait(self, index: int) -> tuple[int, int]:
        found = self.ends.get(index)
        if found is None:
            raise BatchError(f"internal error: chunk {index} was never published")
        return found


class SharedBoard:
    """The board shared by worker processes: a small ring in shared memory and a condition.

    Made before the workers start and inherited by them (``initargs`` of the pool).
    """

    def __init__(self, context: BaseContext) -> None:
        self.slots: Any = context.Array("q", [_NONE] * (3 * SLOTS), lock=False)
        self.changed: Any = context.Condition()

    def publish(self, index: int, rendered_end: int, rejects_end: int) -> None:
        base = 3 * (index % SLOTS)
        with self.changed:
            self.slots[base + 1] = rendered_end
            self.slots[base + 2] = rejects_end
            self.slots[base] = index
            self.changed.notify_all()

    def _read(self, index: int) -> tuple[int, int] | None:
        base = 3 * (index % SLOTS)
        if self.slots[base] != index:
            return None
        return int(self.slots[base + 1]), int(self.slots[base + 2])

    def peek(self, index: int) -> tuple[int, int] | None:
        with self.changed:
            return self._read(index)

    def wait(self, index: int) -> tuple[int, int]:
        with self.changed:
            while True:
                found = self._read(index)
                if found is not None:
                    return found
                self.changed.wait(WAIT_SECONDS)


def copy_range(source: int, target: int, count: int, offset: int) -> None:
    """``count`` bytes from the start of ``source`` to ``target`` at ``offset``: in the
    kernel where the platform can, else through a buffer."""
    done = 0
    copy = getattr(os, "copy_file_range", None)
    if copy is not None:
        with contextlib.suppress(OSError):  # a file system without it: finish by hand
            while done < count:
                sent = copy(source, target, count - done, done, offset + done)
                if sent == 0:
                    break
                done += sent
    while done < count:
        data = os.pread(source, min(WRITE_SIZE, count - done), done)
        if not data:
            raise OSError(f"short copy: {done} of {count} bytes")
        os.pwrite(target, data, offset + done)
        done += len(data)


def _write_all(fd: int, pieces: list[bytes], offset: int) -> int:
    """Write ``pieces`` at ``offset``; the offset after them.

    A chunk is thousands of records of a few KB. The kernel copies them into the page cache
    five times faster from one contiguous buffer than from as many pieces, even in one
    ``pwritev`` call (448 MB of 7.5 KB records: 0.9-1.1 s of system time in ``pwritev`` calls
    of a thousand, 0.15-0.18 s joined into 1 MiB buffers first, for 0.02 s more of joining),
    so they are joined into buffers of about :data:`WRITE_SIZE`.
    """
    block: list[bytes] = []
    size = 0
    for piece in pieces:
        block.append(piece)
        size += len(piece)
        if size >= WRITE_SIZE:
            offset = _pwrite_all(fd, b"".join(block), offset)
            block = []
            size = 0
    if block:
        offset = _pwrite_all(fd, b"".join(block), offset)
    return offset


def _pwrite_all(fd: int, data: bytes, offset: int) -> int:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        offset += written
        view = view[written:]
    return offset


class PlacedStream:
    """A write-only file object for one chunk's bytes in one output file.

    :param fd: the output file (opened without ``O_APPEND``: positioned writes), at
        ``path`` (named in errors).
    :param known: returns the chunk's start offset once it is known, else ``None``.
    :param spill: a temporary file for a chunk that outgrows :data:`BUFFER_LIMIT` first.
    """

    def __init__(self, fd: int, path: Path, known: Callable[[], int | None], spill: Path) -> None:
        self.fd = fd
        self.path = path
        self.known = known
        self.spill_path = spill
        self.pieces: list[bytes] = []
        self.buffered = 0
        self.start: int | None = None
        self.offset = 0
        self.spilled = 0
        self._spill_fd: int | None = None

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        self.pieces.append(data)
        self.buffered += len(data)
        limit = WRITE_SIZE if self.start is not None else BUFFER_LIMIT
        if self.buffered >= limit:
            self._flush()
        return len(data)

    def _flush(self) -> None:
        if self.start is None and self._spill_fd is None:
            start = self.known()
            if start is not None:
                self.start = self.offset = start
        if self.start is not None:
            self.offset = self._write(self.fd, self.path, self.offset)
        else:
            if self._spill_fd is None:
                self._spill_fd = os.open(
                    self.spill_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644
                )
            self.spilled = self._write(self._spill_fd, self.spill_path, self.spilled)
        self.pieces = []
        self.buffered = 0

    def _write(self, fd: int, path: Path, offset: int) -> int:
        try:
            return _write_all(fd, self.pieces, offset)
        except OSError as exc:  # pwrite's errors carry no file name
            exc.filename = str(path)
            raise

    def place(self, start: int) -> int:
        """Put everything at ``start`` (the chunk's offset, now known); the end offset."""
        if self.start is None:
            self.start = self.offset = start
            if self._spill_fd is not None:
                copy_range(self._spill_fd, self.fd, self.spilled, start)
                self.offset = start + self.spilled
                self.discard()
        elif self.start != start:
            raise BatchError(f"internal error: chunk placed at {self.start}, not {start}")
        self.offset = self._write(self.fd, self.path, self.offset)
        self.pieces = []
        self.buffered = 0
        return self.offset

    def discard(self) -> None:
        """Remove the spill file, if any."""
        if self._spill_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._spill_fd)
            self._spill_fd = None
            with contextlib.suppress(OSError):
                self.spill_path.unlink()

    # The sinks flush and close their handle like a file's.
    def flush(self) -> None:
        """Nothing to do: bytes are placed by :meth:`place`."""


__all__ = [
    "BUFFER_LIMIT",
    "LocalBoard",
    "OffsetBoard",
    "PlacedStream",
    "SharedBoard",
]
