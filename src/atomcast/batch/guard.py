"""What keeps two runs, or a run and its own input, from sharing files in ``OUT``.

- :class:`OutputLock`: an exclusive ``flock`` on ``OUT/.atomcast-batch.lock`` for the whole
  run. The kernel drops it when the holder dies, however it dies, so a lock left by a
  killed run is never stale: the next run (``--resume``) simply takes it. The file itself
  is never deleted (deleting it would let two runs lock two different files of that name);
  it holds the holder's pid, for the message of a run that is refused.
- :func:`refuse_input_in_output`: the profiles file must not be one of the files a run
  writes, replaces or removes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType

from atomcast.batch.files import OUT, RESUME
from atomcast.batch.formats import MANIFEST, REJECTS, RENDERED
from atomcast.batch.journal import PARTS_DIR
from atomcast.errors import BatchError

LOCK_FILE = ".atomcast-batch.lock"

#: Files in OUT that a run writes, replaces or removes (the parts folder as a whole too).
MANAGED_FILES: tuple[str, ...] = (MANIFEST, REJECTS, *RENDERED.values(), LOCK_FILE)


class OutputLock:
    """An exclusive lock on an output folder, held from :meth:`acquire` to :meth:`release`.

    :raises BatchError: from :meth:`acquire` when another live process holds it (naming its
        pid), or when the file system cannot lock.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out / LOCK_FILE
        self._fd: int | None = None
        #: The pid the lock file named when this run took it (a run that was killed).
        self.previous_holder: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise BatchError(
                f"{self.path}: cannot create the lock file: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise _busy(self.out, holder) from None
            raise BatchError(
                f"{self.path}: cannot lock the output folder: {exc.strerror or exc}"
            ) from None
        self._fd = fd
        previous = _read_pid(fd)
        self.previous_holder = previous if previous != os.getpid() else None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the lock holds without the pid; a refused run then says "another process"

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def refuse_if_locked(out: Path) -> None:
    """Fail now, before a project is loaded, when a live run holds ``out``; the lock that
    counts is still the one :class:`OutputLock` takes for the run.

    :raises BatchError: as :meth:`OutputLock.acquire` does.
    """
    path = out / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return  # no lock file (a new OUT), or one we cannot read: acquire() will say
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise _busy(out, _read_pid(fd)) from None
    finally:
        os.close(fd)


def _busy(out: Path, holder: int | None) -> BatchError:
    who = f"pid {holder}" if holder is not None else "another process"
    return BatchError(
        f"{out} is in use by another batch run ({who}); wait for it to finish, or stop it "
        "and finish its work with ",
        RESUME,
    )


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def refuse_input_in_output(profiles: Path, out: Path) -> None:
    """Refuse a profiles file that the run in ``out`` would write, replace or remove
    (``OUT/rendered.jsonl`` given back as input, a file under ``OUT/.parts``...), through
    symlinks too. Checked before anything in ``out`` is touched.

    :raises BatchError: naming the file and why.
    """
    source = _real(profiles)
    folder = _real(out)
    if source.parent == folder:
        name = source.name
        temporary = name.startswith(".") and ".tmp-" in name
        if name in MANAGED_FILES or temporary:
            raise BatchError(
                f"{profiles}: the profiles file is {source}, which a run into {out} writes "
                "or removes; copy it elsewhere or choose ",
                OUT,
            )
    for parts in {folder / PARTS_DIR, _real(folder / PARTS_DIR)}:
        if source == parts or parts in source.parents:
            raise BatchError(
                f"{profiles}: the profiles file is inside {parts}, which a run into {out} "
                "removes; copy it elsewhere or choose ",
                OUT,
            )


__all__ = [
    "LOCK_FILE",
    "MANAGED_FILES",
    "OutputLock",
    "refuse_if_locked",
    "refuse_input_in_output",
]
