"""Per-record work bounds: how long one profile may take and how large a template's text may
grow, so that one hostile profile or template costs one record, never a worker.

:class:`Limits` is the ``limits:`` section of ``atomcast.yaml``. The bounds it sets apply to
whatever renders in the current thread (:func:`using`); code that renders without setting
them (``check``, a one-off template) gets the defaults.

Time is bounded from outside the render: a watchdog thread raises :class:`Expired` into a
thread whose record ran past its deadline (CPython checks for such asynchronous exceptions
between bytecodes), so a runaway loop in any Python code stops without every loop having to
poll a clock. What runs inside one C call is bounded separately: regular expressions by
``regex``'s own timeout, string and list sizes before they are built (see
:mod:`atomcast.templating`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from atomcast.errors import LimitError


class Limits(BaseModel):
    """The per-record bounds; ``limits:`` in ``atomcast.yaml``.

    :param record_timeout: seconds one profile may take, all channels together (its
        segments and rules included).
    :param max_output_bytes: the largest text any one template (or a value a template
        expression builds: ``'x' * n``, a join, a format) may produce, in characters.
    :param regex_timeout: seconds one ``$regex`` match on one profile value may take.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_timeout: float = Field(default=5.0, gt=0, le=3600)
    max_output_bytes: int = Field(default=1_048_576, ge=1024, le=1 << 31)
    regex_timeout: float = Field(default=0.25, gt=0, le=60)


DEFAULT_LIMITS = Limits()
#: The bounds in force in this thread; hot paths set and reset it themselves.
LIMITS: ContextVar[Limits] = ContextVar("atomcast_limits", default=DEFAULT_LIMITS)
#: Read the bounds in force (bound once: this runs for every sandboxed call).
current = LIMITS.get


@contextlib.contextmanager
def using(limits: Limits) -> Iterator[Limits]:
    """Apply ``limits`` to what renders in this thread inside the block."""
    token = LIMITS.set(limits)
    try:
        yield limits
    finally:
        LIMITS.reset(token)


class Expired(BaseException):
    """Raised into a thread whose record ran out of time.

    A BaseException so that the broad ``except Exception`` of a template engine or of a
    "render it the ordinary way" fallback cannot swallow it; :meth:`Deadline.expired`
    turns it into a :class:`~atomcast.errors.LimitError` at the record's boundary.
    """


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    target = ctypes.py_object(exception) if exception is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


@dataclass(slots=True)
class Deadline:
    """One guarded stretch of work in one thread."""

    thread_id: int
    at: float
    seconds: float
    fired: bool = False
    #: When to fire (again): at the deadline, then after a grace period in case a handler
    #: swallowed it, never in quick succession into the handler that is reporting it.
    next_fire: float = 0.0

    def error(self, what: str = "the record") -> LimitError:
        return LimitError(
            f"{what} took longer than {self.seconds:g} s (limits.record_timeout in atomcast.yaml)"
        )


class _Watchdog:
    """One thread per process that expires overdue :class:`Deadline` objects."""

    #: Seconds between looks; a deadline fires at most this late.
    TICK = 0.02

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[int, Deadline] = {}
        self._pid = -1
        # A fork copies the lock in whatever state the parent's watchdog held it, and the
        # parent's deadlines, but not the thread: the child starts afresh.
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._active = {}
        self._pid = -1

    def _ensure_thread(self) -> None:
        # A forked worker inherits the object but not the thread.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            thread = threading.Thread(target=self._run, name="atomcast-watchdog", daemon=True)
            thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:
                for deadline in self._active.values():
                    if now >= deadline.next_fire:
                        # Fired again after a grace period until the record leaves: a
                        # handler that swallowed it must not let the runaway go on.
                        deadline.fired = True
                        deadline.next_fire = now + max(1.0, deadline.seconds)
                        _raise_in(deadline.thread_id, Expired)

    def enter(self, seconds: float) -> Deadline | None:
        """Start guarding this thread; ``None`` when an outer deadline already does."""
        thread_id = threading.get_ident()
        at = time.monotonic() + seconds
        deadline = Deadline(thread_id, at, seconds, next_fire=at)
        with self._lock:
            if thread_id in self._active:
                return None
            self._ensure_thread()
            self._active[thread_id] = deadline
        return deadline

    def leave(self, deadline: Deadline | None) -> None:
        """Stop guarding; an expiry fired but not yet delivered is withdrawn."""
        if deadline is None:
            return
        while True:
            try:
                with self._lock:
                    self._active.pop(deadline.thread_id, None)
                    if deadline.fired:
                        _raise_in(deadline.thread_id, None)
                return
            except Expired:
                # Delivered in the moment between the work's end and this: it belongs to a
                # deadline that is over. Retry so that the withdrawal is complete.
                continue


#: The process's watchdog: ``enter``/``leave`` around a stretch of work (what
#: :func:`deadline` does, without a generator on a per-record hot path).
WATCHDOG = _Watchdog()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline | None]:
    """Guard the block: past ``seconds``, :class:`Expired` is raised inside it.

    Catch :class:`Expired` *outside* this block (the block may be left by it). Nested
    blocks in one thread share the outermost deadline and yield ``None``.
    """
    guard = WATCHDOG.enter(seconds)
    try:
        yield guard
    finally:
        WATCHDOG.leave(guard)


__all__ = [
    "DEFAULT_LIMITS",
    "LIMITS",
    "WATCHDOG",
    "Deadline",
    "Expired",
    "Limits",
    "current",
    "deadline",
    "using",
]
