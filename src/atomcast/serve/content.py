"""The content a server answers from: one loaded project, its renderer and a bounded cache of
campaign renderers, swapped whole on reload.

A request reads :attr:`ContentHolder.current` once and renders from that snapshot to the
end, so a reload that lands mid-request never mixes old atoms with new layouts; the swap is
one attribute assignment. A reload that fails leaves the last good snapshot in place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from atomcast.errors import AtomcastError, ProjectError
from atomcast.models import CHANNELS
from atomcast.project import Project, load_project
from atomcast.render import CampaignRenderer, Renderer

__all__ = [
    "CAMPAIGN_CACHE_SIZE",
    "CampaignRenderers",
    "Content",
    "ContentHolder",
    "ReloadOutcome",
    "content_fingerprint",
    "load_content",
]

#: Campaign renderers kept per content snapshot: campaigns x UTC days x channel subsets
#: actually asked for. Each holds bounded memos of a few MB.
CAMPAIGN_CACHE_SIZE = 32


def content_fingerprint(project: Project) -> str:
    """A hash of everything a record depends on besides the profile: ``atomcast.yaml``,
    every atom and layout, the brand logo and the image atoms' source files."""
    digest = hashlib.sha256(project.fingerprint().encode())
    for atom_id in sorted(project.atoms):
        atom = project.atoms[atom_id]
        if atom.image_path is not None:
            with contextlib.suppress(OSError):
                digest.update(hashlib.sha256(atom.image_path.read_bytes()).digest())
    return digest.hexdigest()[:16]


class CampaignRenderers:
    """Campaign renderers by (campaign, UTC day, channels), least recently used dropped first.

    A campaign's output depends on the instant only through its UTC day (date windows are
    whole days, see :meth:`atomcast.selection.Selector.plan`), so one renderer, and its
    memos, serves every request of that day.

    :raises UnknownCampaignError: from :meth:`get`, for a campaign the project lacks.
    """

    def __init__(self, renderer: Renderer, size: int = CAMPAIGN_CACHE_SIZE) -> None:
        self._renderer = renderer
        self._size = size
        self._items: OrderedDict[tuple[str, dt.date, frozenset[str]], CampaignRenderer]
        self._items = OrderedDict()
        self._lock = threading.Lock()

    def get(self, campaign: str, at: dt.datetime, channels: Iterable[str]) -> CampaignRenderer:
        wanted = frozenset(channels)
        key = (campaign, at.astimezone(dt.UTC).date(), wanted)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        made = self._renderer.campaign(campaign, at=at, channels=sorted(wanted))
        with self._lock:
            self._items[key] = made
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return made

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True, slots=True)
class Content:
    """One loaded, immutable content snapshot."""

    project: Project
    renderer: Renderer
    renderers: CampaignRenderers
    fingerprint: str
    loaded_at: float

    @property
    def campaigns(self) -> frozenset[str]:
        return frozenset(self.project.config.campaigns)


def load_content(root: Path) -> Content:
    """Load and prepare the project in ``root``.

    :raises ProjectError: with every problem when the project does not load.
    """
    project = load_project(root)
    renderer = Renderer(project)
    _warm(renderer)
    return Content(
        project=project,
        renderer=renderer,
        renderers=CampaignRenderers(renderer),
        fingerprint=content_fingerprint(project),
        loaded_at=time.time(),
    )


def _warm(renderer: Renderer) -> None:
    """Make image renditions at load time rather than in the first request that needs them."""
    for atom in renderer.project.atoms.values():
        if atom.kind == "image":
            # A broken image is that channel's error at render time, as in `render`.
            with contextlib.suppress(AtomcastError):
                renderer.image_fields(atom)


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What a reload did: ``ok`` with the new fingerprint, or the problems that kept the old
    content in place."""

    ok: bool
    fingerprint: str
    previous: str
    problems: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return self.fingerprint != self.previous


class ContentHolder:
    """The current :class:`Content` of one server process, replaced atomically on reload."""

    def __init__(self, root: Path, content: Content | None = None) -> None:
        self.root = root
        self.current: Content = content if content is not None else load_content(root)
        self._reload_lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        return self.current.fingerprint

    def reload(self) -> ReloadOutcome:
        """Load the project again; on success swap it in, on failure keep the last good one.

        Never raises for a bad project: the problems are in the outcome.
        """
        with self._reload_lock:
            previous = self.current
            started = time.perf_counter()
            try:
                fresh = load_content(self.root)
            except ProjectError as exc:
                return ReloadOutcome(
                    False,
                    previous.fingerprint,
                    previous.fingerprint,
                    tuple(str(p) for p in exc.problems),
                    time.perf_counter() - started,
                )
            except (AtomcastError, OSError) as exc:
                return ReloadOutcome(
                    False,
                    previous.fingerprint,
                    previous.fingerprint,
                    (f"error: {exc}",),
                    time.perf_counter() - started,
                )
            if fresh.fingerprint != previous.fingerprint:
                # Same fingerprint: the warm memos of the old snapshot stay.
                self.current = fresh
            return ReloadOutcome(
                True, fresh.fingerprint, previous.fingerprint, (), time.perf_counter() - started
            )


#: The channels a request may name (SPEC 5).
KNOWN_CHANNELS: frozenset[str] = frozenset(CHANNELS)
