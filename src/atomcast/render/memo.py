"""The memo layer: a channel's finished output reused for every profile that agrees on the
attributes its layout and atoms read (the stand-in, the unsubscribe URL, swapped per profile by
the renderer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atomcast.channels.base import ChannelRender, atom_dependencies, dependency_key
from atomcast.models import Channel
from atomcast.project import Atom
from atomcast.render.cache import RenderCache
from atomcast.render.context import ChannelAtoms

#: A combination whose output cannot be memoised (memos hold no ``None``).
_NO_KEY = object()


class OutputMemo:
    """Memo keys of one campaign renderer's channel outputs."""

    def __init__(
        self,
        renders: Mapping[Channel, ChannelRender | None],
        cache: RenderCache,
        layout_dependencies: Mapping[Channel, frozenset[str] | None],
    ) -> None:
        self.renders = renders
        self.cache = cache
        #: Shared with the renderer, which turns a channel off here when its stand-in leaks.
        self.layout_dependencies = layout_dependencies

    def key(
        self,
        channel: Channel,
        chosen: ChannelAtoms,
        attributes: Mapping[str, Any],
    ) -> tuple[Any, ...] | None:
        """The memo key of a channel's output, or ``None`` when it must be rendered.

        The output is a function of the layout, the atoms it reads and the profile
        attributes that any of their templates read; a key that includes the profile id
        would never hit.
        """
        dependencies = self.layout_dependencies.get(channel)
        if dependencies is None:
            return None
        # The attributes needed depend only on the combination: work them out once for it.
        ids = chosen.key
        combination = (channel, ids)
        needed = self.cache.needs.get(combination)
        if needed is None:
            found = self._combination_needs(dependencies, chosen.read)
            needed = _NO_KEY if found is None else found
            self.cache.needs.put(combination, needed)
        if needed is _NO_KEY:
            return None
        assert isinstance(needed, frozenset)
        render = self.renders[channel]
        stand_in = render.stand_in if render is not None else None
        if stand_in is not None and stand_in.spelled_by(attributes, needed):
            return None
        return (channel, ids, *dependency_key(attributes, needed))

    @staticmethod
    def _combination_needs(
        dependencies: frozenset[str], atoms: Mapping[str, Atom | None]
    ) -> frozenset[str] | None:
        needed = set(dependencies)
        for atom in atoms.values():
            if atom is None:
                continue
            atom_needs = atom_dependencies(atom)
            if atom_needs is None:
                return None
            needed |= atom_needs
        return None if "id" in needed else frozenset(needed)


__all__ = ["OutputMemo"]
