"""File watching for the live preview: watchdog events, a debounce, and dependency tracking.

Editors save in bursts (write, rename, touch, an image export next to the atom), so events
are gathered until the project has been quiet for a moment and handled as one change.
:func:`plan_update` then decides which cells of a matrix can be affected by the files that
changed, so that a typo fixed in one atom does not re-render the whole matrix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from atomcast.models import Channel
from atomcast.preview.matrix import Matrix
from atomcast.project import (
    ATOMS_DIR,
    CONFIG_FILE,
    LAYOUTS_DIR,
    PERSONAS_DIR,
    Atom,
    Project,
)

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


# -- dependency tracking ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Update:
    """What one change means for one matrix.

    :param rebuild: the matrix must be built again from scratch (rows may have appeared or
        gone, or the config changed); ``reason`` says why.
    :param targets: otherwise, row key -> channels to re-render.
    """

    rebuild: bool = False
    reason: str = ""
    targets: Mapping[str, tuple[Channel, ...]] = field(default_factory=dict)

    @property
    def cell_count(self) -> int:
        return sum(len(channels) for channels in self.targets.values())


def _selection_signature(atom: Atom) -> tuple[Any, ...]:
    """Everything about an atom that can change which atom a slot selects."""
    return (
        atom.id,
        atom.kind,
        atom.locale,
        atom.priority,
        atom.weight,
        atom.segments,
        repr(atom.when.source) if atom.when is not None else None,
        atom.valid_from,
        atom.valid_until,
        atom.channels,
        atom.experiment,
        atom.arm,
        atom.tags,  # campaign and slot tag filters select on them
    )


def _atoms_for_path(project: Project, rel: str) -> list[Atom]:
    found = [atom for atom in project.atoms.values() if atom.path == rel]
    if found:
        return found
    target = (project.root / rel).resolve()
    return [atom for atom in project.atoms.values() if atom.image_path == target]


def _all_cells(matrix: Matrix) -> dict[str, tuple[Channel, ...]]:
    return {row.row.key: matrix.channels for row in matrix.rows}


def _merge(into: dict[str, set[Channel]], targets: Mapping[str, Iterable[Channel]]) -> None:
    for key, channels in targets.items():
        into.setdefault(key, set()).update(channels)


def plan_update(old: Project, new: Project, changed: Iterable[str], matrix: Matrix) -> Update:
    """Which cells of ``matrix`` (built from ``old``) may differ in ``new``.

    * ``atomcast.yaml``: everything (segments, campaigns, brand, schema may all differ);
    * a persona: its row only; a persona added or removed changes the rows: rebuild;
    * a layout: the cells of that channel, in campaigns that use that layout;
    * an atom (or its image) whose selection fields did not change: only the cells that
      used it; otherwise every cell of a campaign whose slots take the atom's kind.
    """
    config = new.config.campaigns.get(matrix.campaign)
    if config is None:
        return Update(rebuild=True, reason=f"campaign {matrix.campaign} changed")
    kinds = {kind for slot in config.slots.values() for kind in slot.kinds}
    targets: dict[str, set[Channel]] = {}
    row_keys = {row.row.key for row in matrix.rows}
    for rel in changed:
        parts = PurePosixPath(rel).parts
        if rel == CONFIG_FILE:
            return Update(rebuild=True, reason=f"{CONFIG_FILE} changed")
        if rel.startswith(PERSONAS_DIR + "/") and len(parts) == 3:
            name = PurePosixPath(rel).stem
            key = f"persona:{name}"
            if (name in old.personas) != (name in new.personas) or (
                key not in row_keys and name in new.personas
            ):
                return Update(rebuild=True, reason=f"persona {name} added or removed")
            if key in row_keys:
                _merge(targets, {key: matrix.channels})
            continue
        if parts[:1] == (LAYOUTS_DIR,) and len(parts) == 3:
            name = PurePosixPath(parts[2]).stem
            for ch in matrix.channels:
                used = config.channels.get(ch)
                if ch == parts[1] and used is not None and used.layout == name:
                    _merge(targets, dict.fromkeys(row_keys, (ch,)))
            continue
        if parts[:1] == (ATOMS_DIR,):
            before = {a.id: a for a in _atoms_for_path(old, rel)}
            after = {a.id: a for a in _atoms_for_path(new, rel)}
            if not before and not after:
                # A file the loader did not turn into an atom (a warning-only file, an
                # unrelated image): nothing selected it, so nothing can change.
                continue
            for atom_id in before.keys() | after.keys():
                was, now = before.get(atom_id), after.get(atom_id)
                if (
                    was is not None
                    and now is not None
                    and _selection_signature(was) == _selection_signature(now)
                ):
                    _merge(targets, _cells_using(matrix, atom_id))
                elif any(a is not None and a.kind in kinds for a in (was, now)):
                    _merge(targets, _all_cells(matrix))
            continue
        if parts[:1] == ("previews",):
            # The profiles folder itself appeared or went: the persona rows change.
            return Update(rebuild=True, reason="personas folder changed")
    ordered = {
        key: tuple(ch for ch in matrix.channels if ch in targets[key])
        for key in (row.row.key for row in matrix.rows)
        if key in targets
    }
    return Update(targets=ordered)


def _cells_using(matrix: Matrix, atom_id: str) -> dict[str, set[Channel]]:
    found: dict[str, set[Channel]] = {}
    for (row, channel), cell in matrix.cells.items():
        if atom_id in cell.used_atoms():
            found.setdefault(row, set()).add(channel)
    return found


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
