"""Ctrl-C while worker processes render is held and raised between two steps of the loop
(``DeferredInterrupt``): raised inside a lock's ``__enter__`` it once left the process pool's
queue locked, and the run hung at exit after saying "interrupted"."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from atomcast.batch.executors.local import DeferredInterrupt


@pytest.fixture
def default_sigint() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # the handler has run by now


def test_ctrl_c_is_held_until_the_loop_looks(default_sigint: None) -> None:
    interrupt = DeferredInterrupt()
    steps = []
    with interrupt:
        _ctrl_c()
        steps.append("after the signal")  # not interrupted here
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
        steps.append("raised where the loop looked")
        interrupt.check()  # raised once
    assert steps == ["after the signal", "raised where the loop looked"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_still_held_at_the_end_is_raised(default_sigint: None) -> None:
    with pytest.raises(KeyboardInterrupt), DeferredInterrupt():
        _ctrl_c()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_nothing_held_nothing_raised(default_sigint: None) -> None:
    interrupt = DeferredInterrupt()
    with interrupt:
        interrupt.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_callers_own_handler_and_other_threads_are_left_alone(default_sigint: None) -> None:
    def own(signum: int, frame: object) -> None:
        seen.append(signum)

    seen: list[int] = []
    signal.signal(signal.SIGINT, own)
    with DeferredInterrupt():
        _ctrl_c()
    assert seen == [signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is own

    signal.signal(signal.SIGINT, signal.default_int_handler)
    entered: list[bool] = []

    def in_a_thread() -> None:
        with DeferredInterrupt() as interrupt:
            entered.append(interrupt.pending)
            # signal.signal may only be called from the main thread: nothing was replaced.
            entered.append(signal.getsignal(signal.SIGINT) is signal.default_int_handler)

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert entered == [False, True]
