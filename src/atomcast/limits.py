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
import sys
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from types import FrameType
from typing import Any

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


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> int:
    target = ctypes.py_object(exception) if exception is not None else None
    return int(ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target))


def _on_stack(thread_id: int, frame: FrameType | None) -> bool:
    """Whether ``frame`` is still running in the thread (its function has not returned)."""
    if frame is None:
        return True
    current = sys._current_frames().get(thread_id)
    while current is not None:
        if current is frame:
            return True
        current = current.f_back
    return False


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
    #: The frame that guards the work (it catches :class:`Expired`): once it has returned,
    #: the deadline is stale and never fires, even if ``leave`` was itself interrupted.
    owner: FrameType | None = None
    #: Set as ``leave`` starts: the record is at its boundary, nothing fires any more.
    closing: bool = False

    def error(self, what: str = "the record") -> LimitError:
        return LimitError(
            f"{what} took longer than {self.seconds:g} s (limits.record_timeout in atomcast.yaml)"
        )


def _drop_late_expiry(unraisable: Any) -> None:
    """An :class:`Expired` that landed where Python cannot raise it (a garbage-collection
    callback, a ``__del__``) is dropped: the watchdog fires again while the record runs."""
    if isinstance(unraisable.exc_type, type) and issubclass(unraisable.exc_type, Expired):
        return
    _previous_unraisablehook(unraisable)


_previous_unraisablehook = sys.unraisablehook


class _Watchdog:
    """One thread per process that expires overdue :class:`Deadline` objects.

    An :class:`Expired` is only ever delivered while its record runs: delivery and
    :meth:`leave` share a lock, ``leave`` withdraws one delivered but not yet raised, and a
    deadline whose guarding frame has returned (its ``leave`` interrupted on the way in) is
    dropped, never fired.
    """

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
        # A forked worker inherits the object but not the thread (``_forget`` runs in it).
        if self._pid == -1:
            self._pid = os.getpid()
            global _previous_unraisablehook
            if sys.unraisablehook is not _drop_late_expiry:
                _previous_unraisablehook = sys.unraisablehook
                sys.unraisablehook = _drop_late_expiry
            thread = threading.Thread(target=self._run, name="atomcast-watchdog", daemon=True)
            thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK)
            self.tick(time.monotonic())

    def tick(self, now: float) -> None:
        """Fire what is overdue at ``now`` (the watchdog thread's step)."""
        with self._lock:
            for thread_id, deadline in list(self._active.items()):
                if deadline.closing or now < deadline.next_fire:
                    continue
                if not _on_stack(thread_id, deadline.owner):
                    # Its guarding frame returned without leaving: withdraw, never fire.
                    del self._active[thread_id]
                    if deadline.fired:
                        _raise_in(thread_id, None)
                    deadline.owner = None
                    continue
                # Fired again after a grace period until the record leaves: a handler that
                # swallowed it must not let the runaway go on.
                deadline.fired = True
                deadline.next_fire = now + max(1.0, deadline.seconds)
                if _raise_in(thread_id, Expired) == 0:
                    del self._active[thread_id]  # the thread is gone

    def enter(self, seconds: float, owner: FrameType | None = None) -> Deadline | None:
        """Start guarding this thread; ``None`` when an outer deadline already does.

        :param owner: the frame that catches :class:`Expired` (default: the caller's).
        """
        thread_id = threading.get_ident()
        at = time.monotonic() + seconds
        frame = owner if owner is not None else sys._getframe(1)
        deadline = Deadline(thread_id, at, seconds, next_fire=at, owner=frame)
        try:
            return self._register(deadline, frame)
        except Expired:
            # Raised here, before the caller's guarded block began (ours, due at once, or
            # an outer one's): re-arm whichever is watched so that it fires inside a block.
            with self._lock:
                watched = self._active.get(thread_id)
                if watched is not None:
                    watched.fired = False
                    watched.next_fire = 0.0
            return deadline if watched is deadline else None

    def _register(self, deadline: Deadline, frame: FrameType) -> Deadline | None:
        thread_id = deadline.thread_id
        with self._lock:
            outer = self._active.get(thread_id)
            # An outer deadline guards a caller; one left behind by this same frame (its
            # ``leave`` interrupted on the way in) or by a returned one is stale: replaced.
            if (
                outer is not None
                and not outer.closing
                and outer.owner is not frame
                and _on_stack(thread_id, outer.owner)
            ):
                return None
            self._ensure_thread()
            self._active[thread_id] = deadline
        return deadline

    def leave(self, deadline: Deadline | None) -> None:
        """Stop guarding; an expiry fired but not yet raised is withdrawn.

        Idempotent: a boundary that caught :class:`Expired` calls it again, since the
        expiry may have been raised on the way into the first call.
        """
        if deadline is None:
            return
        deadline.closing = True
        while True:
            try:
                with self._lock:
                    if self._active.get(deadline.thread_id) is deadline:
                        del self._active[deadline.thread_id]
                    if deadline.fired:
                        _raise_in(deadline.thread_id, None)
                        deadline.fired = False
                    deadline.owner = None
                return
            except Expired:
                # Raised in the moment between the work's end and this: it belongs to a
                # deadline that is over. Retry so that the withdrawal is complete.
                continue

    def active(self) -> int:
        """How many deadlines are being watched (for tests and diagnostics)."""
        with self._lock:
            return len(self._active)


#: The process's watchdog: ``enter``/``leave`` around a stretch of work (what
#: :func:`deadline` does, without a generator on a per-record hot path).
WATCHDOG = _Watchdog()


class deadline:  # lower case: it reads as the function it replaced, ``with deadline(5):``
    """Guard the block: past ``seconds``, :class:`Expired` is raised inside it.

    Catch :class:`Expired` *outside* this block (the block may be left by it). Nested
    blocks in one thread share the outermost deadline and yield ``None``.
    """

    __slots__ = ("_guard", "_seconds")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._guard: Deadline | None = None

    def __enter__(self) -> Deadline | None:
        self._guard = WATCHDOG.enter(self._seconds, owner=sys._getframe(1))
        return self._guard

    def __exit__(self, *exc_info: object) -> None:
        WATCHDOG.leave(self._guard)


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
