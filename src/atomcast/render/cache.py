"""The caches of one renderer: owned, bounded and clearable (the preview runs for days).

:class:`Memo` keys renders on the profile attributes they depend on; :class:`RenderCache`
holds every memo of one :class:`~atomcast.render.CampaignRenderer` so that they are sized
in one place and emptied together.

A memo is bounded by its number of entries and, where entries hold rendered text (an
email's HTML is ~16 KB, a symbol-free SMS a hundred bytes), by an estimate of their bytes
(:func:`weigh`, worked out once per entry as it is stored): with a count alone, memory
grew until some hundred thousand profiles had gone through each worker.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from atomcast.errors import ParameterError

#: Memo bounds per campaign renderer (and so per worker process).
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
#: Byte budgets (estimated by :func:`weigh`) of the memos that hold rendered text. Their
#: sum bounds what a worker keeps between profiles, whatever the number of profiles. The
#: fill memo's is the largest: its entries are small (a few names) but hit most, and their
#: finished text is counted although the text memo holds the same strings.
VIEW_MEMO_BYTES = 2 << 20
OUTPUT_MEMO_BYTES = 6 << 20
SYMBOLIC_MEMO_BYTES = 8 << 20
TEXT_MEMO_BYTES = 8 << 20
FILL_MEMO_BYTES = 16 << 20
#: What :func:`weigh` counts for an object besides its text (a str's header is 49 bytes,
#: a small dict or tuple's a few dozen).
OBJECT_BYTES = 56


def weigh(value: object) -> int:
    """An estimate of the bytes ``value`` holds: the lengths of its strings plus
    :data:`OBJECT_BYTES` per object, through mappings, lists and tuples (a memo entry's
    fields, say).

    Cheap enough to call once per stored entry (it reads lengths, never ``sys.getsizeof``);
    any other object counts as :data:`OBJECT_BYTES`, except symbolic leaves, whose literal
    text is in their ``pieces`` (:class:`~atomcast.render.symbolic.Leaf`).
    """
    # Concrete types first: they are what memos hold, and an ABC check costs more.
    if isinstance(value, str):
        return OBJECT_BYTES + len(value)
    if isinstance(value, dict):
        return OBJECT_BYTES + sum([OBJECT_BYTES + weigh(item) for item in value.values()])
    if isinstance(value, tuple | list):
        return OBJECT_BYTES + sum([weigh(item) for item in value])
    if isinstance(value, bytes):
        return OBJECT_BYTES + len(value)
    if isinstance(value, Mapping):
        return OBJECT_BYTES + sum([OBJECT_BYTES + weigh(item) for item in value.values()])
    pieces = getattr(value, "pieces", None)
    if isinstance(pieces, tuple):
        return OBJECT_BYTES + weigh(pieces)
    return OBJECT_BYTES


class Memo:
    """A bounded memo of renders keyed on the profile attributes they depend on.

    Millions of profiles share a few thousand first names: a campaign job renders each
    (atom or layout, attribute values) pair once. Two generations keep memory flat without
    the bookkeeping of an LRU on every hit: when the current one is full it becomes the
    previous one (dropping the entries that no lookup touched since the last turn, the
    least recently used), and a hit there moves back to the current one, so frequent keys
    (common names) survive the turnover that the long tail causes.

    :param limit: entries per generation: at most ``2 * limit`` are held.
    :param budget: estimated bytes (``size`` of :meth:`put`) held by both generations
        together, at most; ``None`` for a memo of small values, bounded by count alone. An
        entry larger than half the budget is not stored.
    """

    def __init__(self, limit: int, budget: int | None = None) -> None:
        self.limit = limit
        self.budget = budget
        #: Bytes per generation: two of them never hold more than ``budget``.
        self._half = budget // 2 if budget is not None else None
        self.entries: dict[Any, Any] = {}
        self.previous: dict[Any, Any] = {}
        #: Estimated bytes of the current generation's entries, by key (budgeted memos only).
        self.sizes: dict[Any, int] = {}
        self.previous_sizes: dict[Any, int] = {}
        #: Sums of ``sizes`` and ``previous_sizes``.
        self.held = 0
        self.previous_held = 0
        self.hits = 0
        self.misses = 0
        #: Memos whose entries hold this one's values: emptied whenever this one drops a
        #: generation, so that they never keep its dropped values alive.
        self.followers: tuple[Memo, ...] = ()

    def get(self, key: Hashable) -> Any:
        value = self.entries.get(key)
        if value is None:
            value = self.previous.get(key)
            if value is None:
                self.misses += 1
                return None
            self.put(key, value, self.previous_sizes.get(key, 0))
        self.hits += 1
        return value

    def put(self, key: Hashable, value: Any, size: int = 0) -> None:
        """Store ``value``; ``size`` is its estimated bytes (see :func:`weigh`), which a
        memo with a budget needs to bound itself."""
        half = self._half
        if half is None:
            if len(self.entries) >= self.limit:
                self._turn()
            self.entries[key] = value
            return
        if size > half:
            # One such entry would be half the budget: render it each time (and never
            # answer with an older value stored under the same key).
            if key in self.entries or key in self.previous:
                self._forget(key)
            return
        if len(self.entries) >= self.limit or self.held + size > half:
            self._turn()
        self.entries[key] = value
        self.held += size - self.sizes.get(key, 0)
        self.sizes[key] = size

    def _turn(self) -> None:
        """The current generation becomes the previous one, whose entries are dropped."""
        self.previous, self.previous_sizes = self.entries, self.sizes
        self.previous_held = self.held
        self.entries, self.sizes, self.held = {}, {}, 0
        for follower in self.followers:
            follower.clear()

    def _forget(self, key: Hashable) -> None:
        self.entries.pop(key, None)
        self.previous.pop(key, None)
        self.held -= self.sizes.pop(key, 0)
        self.previous_held -= self.previous_sizes.pop(key, 0)

    def size_of(self, key: Hashable) -> int | None:
        """The estimated bytes ``key``'s entry was stored with, or ``None`` when it is not
        held (or the memo has no budget)."""
        size = self.sizes.get(key)
        return size if size is not None else self.previous_sizes.get(key)

    def __contains__(self, key: Hashable) -> bool:
        return key in self.entries or key in self.previous

    def __len__(self) -> int:
        return len(self.entries) + len(self.previous)

    @property
    def bytes_held(self) -> int:
        """Estimated bytes of every entry held (0 for a memo without a budget)."""
        return self.held + self.previous_held

    def clear(self) -> None:
        self.entries = {}
        self.previous = {}
        self.sizes = {}
        self.previous_sizes = {}
        self.held = self.previous_held = 0


#: The memos that hold rendered text: (entries per generation, byte budget), by name.
BUDGETED: dict[str, tuple[int, int]] = {
    "views": (VIEW_MEMO_SIZE, VIEW_MEMO_BYTES),
    "outputs": (OUTPUT_MEMO_SIZE, OUTPUT_MEMO_BYTES),
    "symbolic": (SYMBOLIC_MEMO_SIZE, SYMBOLIC_MEMO_BYTES),
    "text": (TEXT_MEMO_SIZE, TEXT_MEMO_BYTES),
    "fills": (FILL_MEMO_SIZE, FILL_MEMO_BYTES),
}


class RenderCache:
    """Every memo of one campaign renderer.

    :param memoise: ``False`` runs everything plain (the views are not memoised either).
    """

    def __init__(self, memoise: bool = True) -> None:
        self.views: Memo | None = Memo(*BUDGETED["views"]) if memoise else None
        self.outputs = Memo(*BUDGETED["outputs"])
        self.symbolic = Memo(*BUDGETED["symbolic"])
        self.text = Memo(*BUDGETED["text"])
        self.fills = Memo(*BUDGETED["fills"])
        # A filling holds its symbolic render: the fill memo must not outlive it there.
        self.symbolic.followers = (self.fills,)
        #: Fill memo lookups and misses per channel: it is skipped where it rarely hits.
        self._fill_tries: dict[str, int] = {}
        self._fill_misses: dict[str, int] = {}
        self.plans = Memo(PLAN_MEMO_SIZE)
        self.needs = Memo(PLAN_MEMO_SIZE)
        #: Shared slot decisions as the renderer reads them, by the decisions' identity.
        self.decided = Memo(PLAN_MEMO_SIZE)
        #: Shared outputs of skipped channels, by reason (a handful: no consent, no atom).
        self.skipped = Memo(PLAN_MEMO_SIZE)

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

    def resize(self, budgets: Mapping[str, int]) -> None:
        """Empty the named memos (see :data:`BUDGETED`) and give them these byte budgets.

        :raises ParameterError: for a name that is not a budgeted memo's.
        """
        for name, budget in budgets.items():
            if name not in BUDGETED:
                raise ParameterError("budgets", f"no memo {name!r} (memos: {', '.join(BUDGETED)})")
            if name != "views" or self.views is not None:
                setattr(self, name, Memo(BUDGETED[name][0], budget))
        self.symbolic.followers = (self.fills,)

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
            "skipped": self.skipped,
        }
        if self.views is not None:
            found["views"] = self.views
        return found

    def clear(self) -> None:
        for memo in self.memos().values():
            memo.clear()
        self._fill_tries.clear()
        self._fill_misses.clear()


__all__ = ["OBJECT_BYTES", "Memo", "RenderCache", "weigh"]
