"""Durable files: written whole or not at all, on disk before they count, and errors that
name the file and say how to finish the run."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

from atomcast.errors import Argument, BatchError, MessagePart

#: Arguments that batch messages tell the caller to change.
RESUME = Argument("resume=True", "--resume")
OUT = Argument("another output folder", "another --out")
#: How a message ends when the run can be finished by resuming it.
RESUME_HINT: tuple[MessagePart, ...] = (
    "finished chunks are kept: rerun with ",
    RESUME,
    " to finish the run",
)


def io_failure(exc: OSError, fallback: Path | str) -> BatchError:
    """A disk full, quota or I/O error as one line: the file, the cause, and that the
    run can be finished with ``--resume`` (every finished chunk is on disk already)."""
    where = exc.filename if exc.filename is not None else fallback
    code = errno.errorcode.get(exc.errno or 0)
    cause = exc.strerror or str(exc)
    shown = f"{cause} ({code})" if code else cause
    return BatchError(f"{where}: {shown}; ", *RESUME_HINT)


def named(exc: OSError, path: Path | str) -> OSError:
    # write() and fsync() errors carry no file name; the message must say which file.
    if exc.filename is None:
        exc.filename = str(path)
    return exc


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, on disk before the
    rename so that a power cut leaves the old file or the new one, never an empty one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fdatasync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise named(exc, path) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


#: How much output a file writes between starting write-backs to the disk.
WRITEBACK_WINDOW = 8 << 20


_SYNC_FILE_RANGE_WRITE = 2


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``sync_file_range`` (not in :mod:`os`): start write-back, do not wait."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return cast(Callable[[int, int, int, int], int], function)


_START_WRITEBACK = _sync_file_range()


class WritebackFile(io.FileIO):
    """A file written front to back that starts writing to disk as it goes.

    A batch writes gigabytes. Left to the kernel, dirty pages pile up until it throttles the
    writer, and every byte lands on a page never used before, which in a VM costs more than
    encoding the byte did. Starting write-back a window at a time keeps the disk busy
    alongside the rendering, so that :meth:`sync` (which makes the file durable) waits for
    little; with ``drop``, synced pages also leave the page cache for reuse.

    :param drop: for a file nobody reads back soon (the assembled output); parts are read
        back at once by the assembly and are left in the cache for it.
    """

    def __init__(self, path: Path | str, mode: str = "wb", *, drop: bool = False) -> None:
        super().__init__(path, mode)
        self.drop = drop
        self._written = self._started = os.fstat(self.fileno()).st_size

    def write(self, data: Any) -> int:
        try:
            count = super().write(data)
        except OSError as exc:
            raise named(exc, self.name) from None
        self._written += count
        if _START_WRITEBACK is not None and self._written - self._started >= WRITEBACK_WINDOW:
            _START_WRITEBACK(
                self.fileno(),
                self._started,
                self._written - self._started,
                _SYNC_FILE_RANGE_WRITE,
            )
            self._started = self._written
        return count

    def sync(self) -> None:
        """Put everything written (or copied in) on disk; with ``drop``, release its pages."""
        try:
            os.fdatasync(self.fileno())
        except OSError as exc:
            raise named(exc, self.name) from None
        self._written = self._started = os.fstat(self.fileno()).st_size
        if self.drop:
            with contextlib.suppress(OSError, AttributeError):
                os.posix_fadvise(self.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def open_writeback(path: Path, mode: str = "wb") -> io.BufferedWriter:
    return io.BufferedWriter(WritebackFile(path, mode), buffer_size=1 << 20)


def sync_file(handle: IO[bytes]) -> None:
    """Flush ``handle`` and put it on disk."""
    handle.flush()
    raw = getattr(handle, "raw", handle)
    if isinstance(raw, WritebackFile):
        raw.sync()
        return
    try:
        os.fdatasync(handle.fileno())
    except OSError as exc:
        raise named(exc, getattr(handle, "name", "?")) from None


def sync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


__all__ = [
    "OUT",
    "RESUME",
    "RESUME_HINT",
    "WRITEBACK_WINDOW",
    "WritebackFile",
    "io_failure",
    "named",
    "open_writeback",
    "sync_file",
    "sync_folder",
    "write_atomic",
]
