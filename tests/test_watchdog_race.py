"""The watchdog never raises :class:`Expired` outside the record it guards.

A deadline that fires while its record is leaving must not be raised later into whatever
the thread runs next (a test, a garbage-collection callback). These drive the real watchdog
with deadlines that are already due, many quick enter/leave cycles, and a second thread
that looks for overdue deadlines as fast as it can: every delivery races a ``leave``.
"""

from __future__ import annotations

import sys
import threading
import time

from atomcast.limits import WATCHDOG, Expired, deadline

CYCLES = 3000


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def _hammer(stop: threading.Event) -> None:
    while not stop.is_set():
        WATCHDOG.tick(time.monotonic())
        time.sleep(0)


def _record_like_campaign(n: int) -> bool:
    """The boundary of ``Campaign.render_with_selection``: True when the record expired."""
    guard = WATCHDOG.enter(1e-6)
    try:
        try:
            _spin(n)
        finally:
            WATCHDOG.leave(guard)
    except Expired:
        WATCHDOG.leave(guard)
        return True
    return False


def _record_with_block(n: int) -> bool:
    try:
        with deadline(1e-6):
            _spin(n)
    except Expired:
        return True
    return False


def _cycles(record: object) -> tuple[int, int]:
    """Run the records; count expiries at their boundary and any that escaped it."""
    assert callable(record)
    stop = threading.Event()
    hammer = threading.Thread(target=_hammer, args=(stop,), daemon=True)
    # Switch threads as often as CPython allows: every delivery lands somewhere new.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    hammer.start()
    expired = escaped = 0
    try:
        for i in range(CYCLES):
            try:
                expired += record(i % 200)
                # Outside any guarded region: an Expired here is the bug.
                _spin(20)
            except Expired:
                escaped += 1
    finally:
        stop.set()
        hammer.join()
        sys.setswitchinterval(interval)
    # Whatever is still listed belongs to frames that have returned: dropped, not fired.
    try:
        WATCHDOG.tick(time.monotonic() + 3600)
        _spin(100)
    except Expired:
        escaped += 1
    return expired, escaped


def test_no_expiry_escapes_a_campaign_style_boundary() -> None:
    expired, escaped = _cycles(_record_like_campaign)
    assert escaped == 0
    assert expired > 0  # the deadlines did fire: the races were run
    assert WATCHDOG.active() == 0


def test_no_expiry_escapes_a_deadline_block() -> None:
    expired, escaped = _cycles(_record_with_block)
    assert escaped == 0
    assert expired > 0
    assert WATCHDOG.active() == 0


def test_a_deadline_whose_frame_returned_never_fires() -> None:
    # A leave that never ran (interrupted on its way in): the entry outlives its frame.
    def abandon() -> None:
        WATCHDOG.enter(1e-6)

    abandon()
    try:
        WATCHDOG.tick(time.monotonic() + 3600)
        _spin(100)
    except Expired:  # pragma: no cover - the bug
        raise AssertionError("a stale deadline fired outside its record") from None
    assert WATCHDOG.active() == 0


def test_nested_deadlines_share_the_outer_one() -> None:
    def inner() -> None:
        with deadline(60) as guard:
            assert guard is None

    with deadline(60) as outer:
        assert outer is not None
        inner()
    assert WATCHDOG.active() == 0
