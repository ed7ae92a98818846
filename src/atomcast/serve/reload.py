"""Content reload for ``atomcast serve``: on SIGHUP, and on file changes with ``--watch``.

The project loads in a thread, so requests go on being answered from the current snapshot
meanwhile; the new snapshot is swapped in whole (see :class:`ContentHolder`). Signals that
arrive during a reload are folded into one more reload after it, never queued one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from typing import Protocol

from atomcast.serve.content import ContentHolder, ReloadOutcome
from atomcast.serve.logs import JsonLog
from atomcast.serve.metrics import ServeMetrics

__all__ = ["Reloader", "settle_heap"]


def settle_heap() -> None:
    """Move what is alive now (the loaded content, compiled templates) out of the cyclic
    garbage collector's sight: a full collection then walks only what requests create, so
    its pauses stay short. Done after each load; the previous content is collected first."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class _Watcher(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class Reloader:
    """Reloads one process's content when asked; reports each outcome in logs and metrics."""

    def __init__(
        self, holder: ContentHolder, metrics: ServeMetrics, log: JsonLog, *, settle: bool = False
    ) -> None:
        self.holder = holder
        self.settle = settle
        self.metrics = metrics
        self.log = log
        self._wanted: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: _Watcher | None = None
        self._signal_installed = False

    def start(self, loop: asyncio.AbstractEventLoop, *, watch: bool = False) -> None:
        """Reload on SIGHUP from now on (and on file changes with ``watch``)."""
        self._loop = loop
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            # Not on the main thread (an app run by a test harness): SIGHUP is not ours.
            loop.add_signal_handler(signal.SIGHUP, self.request, "sighup")
            self._signal_installed = True
        if watch:
            self._watcher = self._make_watcher(loop)
            self._watcher.start()

    def _make_watcher(self, loop: asyncio.AbstractEventLoop) -> _Watcher:
        # The project watcher the preview uses too (watchdog, editor-burst debounce, the
        # project's own folders only), imported only when --watch asks for it.
        from atomcast.project.watch import Debouncer, ProjectWatcher

        async def changed(paths: set[str]) -> None:
            self.request("watch")
            if self._task is not None:
                await asyncio.shield(self._task)

        return ProjectWatcher(self.holder.root, loop, Debouncer(changed))

    def request(self, reason: str) -> None:
        """Ask for a reload; must be called on the event loop's thread."""
        self._wanted = reason
        if self._loop is not None and (self._task is None or self._task.done()):
            self._task = self._loop.create_task(self._run())

    async def _run(self) -> None:
        while self._wanted is not None:
            reason, self._wanted = self._wanted, None
            outcome = await asyncio.to_thread(self.holder.reload)
            self.report(outcome, reason)

    async def reload(self, reason: str = "api") -> ReloadOutcome:
        """Reload now and wait for it (tests, and callers with their own trigger)."""
        outcome = await asyncio.to_thread(self.holder.reload)
        self.report(outcome, reason)
        return outcome

    def report(self, outcome: ReloadOutcome, reason: str) -> None:
        self.metrics.reloads.labels("ok" if outcome.ok else "failed").inc()
        if outcome.ok:
            if outcome.changed and self.settle:
                settle_heap()
            self.metrics.serving(outcome.fingerprint)
            self.log.event(
                "reload",
                result="ok",
                trigger=reason,
                content=outcome.fingerprint,
                previous=outcome.previous,
                changed=outcome.changed,
                ms=round(outcome.seconds * 1000, 1),
            )
        else:
            self.log.event(
                "reload",
                result="failed",
                trigger=reason,
                content=outcome.fingerprint,
                problems=list(outcome.problems[:50]),
                more=max(0, len(outcome.problems) - 50),
            )

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._signal_installed and self._loop is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.remove_signal_handler(signal.SIGHUP)
        if self._task is not None and not self._task.done():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._task), timeout=10)
