"""What the text channels (push, SMS) share: named template sources rendered as text
(phase 1), then a finishing phase that reads the text alone (phase 2), so that the symbolic
layer fills the text and memoises the finishing on it (``fills_text``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Self

from atomcast.channels.base import (
    ChannelOutput,
    ChannelSetup,
    FillableOutput,
    StandIn,
    render_string,
)
from atomcast.templating import slots_read

if TYPE_CHECKING:
    from atomcast.render.context import ChannelContext


class TextRender(ABC):
    """A text channel prepared for one campaign (a :class:`~atomcast.channels.base.
    ChannelRender`): a channel says which sources it renders, what their errors name, and
    how it finishes the text."""

    fills_text = True
    #: No warning of a text channel depends on a value the text does not show.
    value_warnings: frozenset[str] = frozenset()
    stand_in: StandIn | None = None

    def __init__(self, setup: ChannelSetup, sources: Mapping[str, str] | None = None) -> None:
        self.setup = setup
        self.layout = setup.layout
        self.sources = dict(sources) if sources is not None else self.first_sources()

    @abstractmethod
    def first_sources(self) -> dict[str, str]:
        """The named template sources the channel renders, in the order errors are raised."""

    @abstractmethod
    def where(self, name: str) -> str:
        """What an error in source ``name`` names (file and part)."""

    @abstractmethod
    def key_sources(self) -> list[str]:
        """Every source whose profile attributes key the channel's memo."""

    @abstractmethod
    def finish(self, text: Mapping[str, str], context: ChannelContext) -> ChannelOutput:
        """Phase 2, from the rendered text alone."""

    def slots_read(self) -> frozenset[str] | None:
        # The finishing phase reads the text alone: the templates are all that reads slots.
        found: set[str] = set()
        for source in self.sources.values():
            read = slots_read(source)
            if read is None:
                return None
            found |= read
        return frozenset(found)

    def template_sources(self) -> dict[str, str]:
        return dict(self.sources)

    def with_sources(self, sources: Mapping[str, str]) -> Self:
        return type(self)(self.setup, {**self.sources, **sources})

    def render_text(self, context: ChannelContext) -> dict[str, str]:
        """Phase 1: each source rendered for the profile.

        :raises RenderError: when a template fails for this profile.
        """
        return {
            name: render_string(source, context.namespace, self.where(name))
            for name, source in self.sources.items()
        }

    def fillable(self, output: FillableOutput, values: tuple[str, ...]) -> bool:
        return True


__all__ = ["TextRender"]
