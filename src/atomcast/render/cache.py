"""The caches of one renderer: owned, bounded and clearable (the preview runs for days).

:class:`Memo` keys renders on the profile attributes they depend on; :class:`RenderCache`
holds every memo of one :class:`~atomcast.render.CampaignRenderer` so that they are sized
in one place and emptied together.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

#: Memo bounds per campaign renderer (and so per worker process): a few MB each.
VIEW_MEMO_SIZE = 4_000
OUTPUT_MEMO_SIZE = 2_500
SYMBOLIC_MEMO_SIZE = 400
TEXT_MEMO_SIZE = 2_500
#: Symbolic renders with one set of hole values (names, cities...), filled or finished.
FILL_MEMO_SIZE = 4_000
#: Lookups before the fill memo is judged on its hit rate.
FILL_TRIAL = 1_000
#: Per-combination plans (symbolic plans, needed attributes): few, but content edits in a
#: long-lived process must not grow them without end.
PLAN_MEMO_SIZE = 1_000


class Memo:
    """A bounded memo of renders keyed on the profile attributes they depend on.

    Millions of profiles share a few thousand first names: a campaign job renders each
    (atom or layout, attribute values) pair once. Two generations keep memory flat without
    the bookkeeping of an LRU: when the current one is full it becomes the previous one, and a
    hit there moves back to the current one, so frequent keys (common names) survive the
    turnover that the long tail causes. At most ``2 * limit`` entries are held.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.entries: dict[Any, Any] = {}
        self.previous: dict[Any, Any] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any:
        value = self.entries.get(key)
        if value is None:
            value = self.previous.get(key)
            if value is None:
                self.misses += 1
                return None
            self.put(key, value)
        self.hits += 1
        return value

    def put(self, key: Hashable, value: Any) -> None:
        if len(self.entries) >= self.limit:
            self.previous = self.entries
            self.entries = {}
        self.entries[key] = value

    def __contains__(self, key: Hashable) -> bool:
        return key in self.entries or key in self.previous

    def __len__(self) -> int:
        return len(self.entries) + len(self.previous)

    def clear(self) -> None:
        self.entries = {}
        self.previous = {}


class RenderCache:
    """Every memo of one campaign renderer.

    :param memoise: ``False`` runs everything plain (the views are not memoised either).
    """

    def __init__(self, memoise: bool = True) -> None:
        self.views: Memo | None = Memo(VIEW_MEMO_SIZE) if memoise else None
        self.outputs = Memo(OUTPUT_MEMO_SIZE)
        self.symbolic = Memo(SYMBOLIC_MEMO_SIZE)
        self.text = Memo(TEXT_MEMO_SIZE)
        self.fills = Memo(FILL_MEMO_SIZE)
        #: Fill memo lookups and misses per channel: it is skipped where it rarely hits.
        self._fill_tries: dict[str, int] = {}
        self._fill_misses: dict[str, int] = {}
        self.plans = Memo(PLAN_MEMO_SIZE)
        self.needs = Memo(PLAN_MEMO_SIZE)
        #: Shared slot decisions as the renderer reads them, by the decisions' identity.
        self.decided = Memo(PLAN_MEMO_SIZE)

    def fill_pays(self, channel: str) -> bool:
        """Whether the fill memo is worth a lookup for ``channel``: always at first, then
        while more than a quarter of lookups hit (checked again every few thousand)."""
        tries = self._fill_tries.get(channel, 0) + 1
        self._fill_tries[channel] = tries
        if tries < FILL_TRIAL:
            return True
        misses = self._fill_misses.get(channel, 0)
        if misses * 4 <= tries * 3:
            return True
        if tries > FILL_TRIAL * 4:  # try again: the mix of profiles may have changed
            self._fill_tries[channel] = self._fill_misses[channel] = 0
        return False

    def fill_missed(self, channel: str) -> None:
        self._fill_misses[channel] = self._fill_misses.get(channel, 0) + 1

    def memos(self) -> dict[str, Memo]:
        found = {
            "outputs": self.outputs,
            "symbolic": self.symbolic,
            "text": self.text,
            "fills": self.fills,
            "plans": self.plans,
            "needs": self.needs,
            "decided": self.decided,
        }
        if self.views is not None:
            found["views"] = self.views
        return found

    def clear(self) -> None:
        for memo in self.memos().values():
            memo.clear()
        self._fill_tries.clear()
        self._fill_misses.clear()


__all__ = ["Memo", "RenderCache"]
