"""Watching a project folder: watchdog events, a debounce, and which files count.

Editors save in bursts (write, rename, touch, an image export next to the atom), so events
are gathered until the project has been quiet for a moment and handled as one change. Used
by the live preview and by ``atomcast serve --watch``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from atomcast.project.model import ATOMS_DIR, CONFIG_FILE, LAYOUTS_DIR, PERSONAS_DIR

#: Quiet time before a burst of file events is handled. Long enough to merge an editor's
#: write-then-rename, short enough to stay well inside the 500 ms update budget.
DEBOUNCE_SECONDS = 0.06
#: A stream of events that never goes quiet is still handled this often.
MAX_WAIT_SECONDS = 0.3
_EVENT_TYPES = frozenset({"created", "modified", "deleted", "moved", "closed"})


def relevant_path(root: Path, path: str | bytes) -> str | None:
    """The project-relative POSIX path of a file the preview depends on, else ``None``.

    The render cache (``.atomcast-cache``) is written by the preview itself and must never
    trigger a reload, nor must editor swap files or version-control internals.
    """
    text = path.decode() if isinstance(path, bytes) else path
    candidate = Path(text)
    try:
        # The entry itself, not its target: a link leading out of the project must still
        # trigger the reload that refuses it.
        rel = (candidate.parent.resolve() / candidate.name).relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    posix = PurePosixPath(rel.as_posix())
    parts = posix.parts
    if not parts:
        return None
    name = parts[-1]
    if name.startswith((".", "#")) or name.endswith(("~", ".swp", ".swx", ".tmp")):
        return None
    if any(part.startswith(".") for part in parts):
        return None
    if parts == (CONFIG_FILE,):
        return CONFIG_FILE
    if parts[0] in (ATOMS_DIR, LAYOUTS_DIR) or str(posix).startswith(PERSONAS_DIR + "/"):
        return str(posix)
    if parts[0] == PERSONAS_DIR.split("/")[0] and len(parts) <= 2:
        return str(posix)  # the profiles folder itself created or removed
    return None


# -- debounce and watchdog -------------------------------------------------------------------


class Debouncer:
    """Gathers paths on the event loop and hands them over once things are quiet.

    :param callback: awaited with the set of paths; calls never overlap, and paths that
        arrive while one runs are handed to the next call.
    """

    def __init__(
        self,
        callback: Callable[[set[str]], Awaitable[None]],
        delay: float = DEBOUNCE_SECONDS,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        self._callback = callback
        self._delay = delay
        self._max_wait = max_wait
        self._pending: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._first: float | None = None
        self._running: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def touch(self, path: str) -> None:
        """Record a changed path; must be called on the event loop's thread."""
        loop = asyncio.get_running_loop()
        self._pending.add(path)
        now = loop.time()
        if self._first is None:
            self._first = now
        if self._timer is not None:
            self._timer.cancel()
        wait = min(self._delay, max(0.0, self._first + self._max_wait - now))
        self._timer = loop.call_later(wait, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._first = None
        if not self._pending:
            return
        paths, self._pending = self._pending, set()
        self._running = asyncio.ensure_future(self._run(paths))

    async def _run(self, paths: set[str]) -> None:
        async with self._lock:
            await self._callback(paths)

    async def drain(self) -> None:
        """Wait for a running callback (tests and shutdown)."""
        if self._running is not None:
            await asyncio.shield(self._running)


#: The folders below the root that hold project files; everything else (the render cache
#: above all, which the preview itself writes) is not watched at all.
WATCHED_FOLDERS = (ATOMS_DIR, LAYOUTS_DIR, PERSONAS_DIR.split("/")[0])


class _Handler(FileSystemEventHandler):
    def __init__(
        self, root: Path, notify: Callable[[str], None], new_folder: Callable[[Path], None]
    ) -> None:
        self._root = root
        self._notify = notify
        self._new_folder = new_folder

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _EVENT_TYPES:
            return
        if event.is_directory and event.event_type in ("created", "moved"):
            target = getattr(event, "dest_path", "") or event.src_path
            path = Path(target.decode() if isinstance(target, bytes) else target)
            if path.parent == self._root and path.name in WATCHED_FOLDERS:
                self._new_folder(path)
        if event.is_directory and event.event_type in ("modified", "closed"):
            # A folder is "modified" whenever a file in it is; the file's own event counts.
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            rel = relevant_path(self._root, raw)
            if rel is not None:
                self._notify(rel)


class ProjectWatcher:
    """Watches a project folder with watchdog and feeds a :class:`Debouncer` on ``loop``."""

    def __init__(self, root: Path, loop: asyncio.AbstractEventLoop, debouncer: Debouncer) -> None:
        self.root = root
        self._loop = loop
        self._debouncer = debouncer
        self._observer: BaseObserver | None = None
        self._handler: _Handler | None = None

    def _notify(self, rel: str) -> None:
        # watchdog calls from its own thread; the debouncer lives on the event loop.
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._debouncer.touch, rel)

    def _watch_folder(self, folder: Path) -> None:
        if self._observer is not None and self._handler is not None:
            self._observer.schedule(self._handler, str(folder), recursive=True)
            self._notify(relevant_path(self.root, str(folder)) or folder.name)

    def start(self) -> None:
        observer = Observer()
        handler = _Handler(self.root, self._notify, self._watch_folder)
        self._handler = handler
        # The root itself only for atomcast.yaml and for project folders that appear later.
        observer.schedule(handler, str(self.root), recursive=False)
        for name in WATCHED_FOLDERS:
            if (self.root / name).is_dir():
                observer.schedule(handler, str(self.root / name), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None


__all__ = [
    "DEBOUNCE_SECONDS",
    "MAX_WAIT_SECONDS",
    "WATCHED_FOLDERS",
    "Debouncer",
    "ProjectWatcher",
    "relevant_path",
]
