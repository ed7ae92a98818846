"""Web: an autoescaped HTML fragment and the chosen atoms' fields as JSON for headless
front ends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from atomcast.channels.base import (
    ChannelOutput,
    ChannelSetup,
    FillableOutput,
    StandIn,
    render_string,
)
from atomcast.jinjatokens import protect
from atomcast.models import Channel as ChannelName
from atomcast.templating import source_memo

if TYPE_CHECKING:
    from atomcast.render.context import ChannelContext

#: View entries that are for atomcast itself, not for front ends.
_INTERNAL = frozenset({"image_warnings"})


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, str):
        return str(value)  # Markup becomes a plain str for JSON
    return value


def slot_data(slots: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    """JSON-ready slot fields: ``None`` for an empty optional slot."""
    return {
        name: (
            {key: _plain(v) for key, v in view.items() if key not in _INTERNAL}
            if view is not None
            else None
        )
        for name, view in slots.items()
    }


@source_memo("web_layouts", 1024)
def guarded_source(source: str) -> str:
    """The layout with every templated href/src passed through ``safe_url``, as in email,
    so that a profile value can never become a ``javascript:`` link in a web page."""
    protected = protect(source)
    return protected.restore(protected.text, url_filter="safe_url")


@dataclass(frozen=True, slots=True)
class WebFields:
    """A web fragment's fields in SPEC section 5."""

    KEYS: ClassVar[tuple[str, ...]] = ("html", "data")

    html: str
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"html": self.html, "data": self.data}


class WebRender:
    """Web for one campaign: the guarded layout rendered (phase 1), trimmed and given the
    slots' fields as JSON (phase 2)."""

    fills_text = False
    value_warnings: frozenset[str] = frozenset()
    stand_in: StandIn | None = None

    def __init__(self, setup: ChannelSetup, source: str | None = None) -> None:
        self.setup = setup
        self.layout = setup.layout
        self.source = (
            source if source is not None else guarded_source(self.layout.parts["body"].source)
        )

    def key_sources(self) -> list[str]:
        return [part.source for part in self.layout.parts.values()]

    def slots_read(self) -> frozenset[str] | None:
        # ``data`` carries every slot's fields.
        return None

    def template_sources(self) -> dict[str, str]:
        return {"body": self.source}

    def with_sources(self, sources: Mapping[str, str]) -> WebRender:
        return WebRender(self.setup, sources.get("body", self.source))

    def render_text(self, context: ChannelContext) -> dict[str, str]:
        return {"html": render_string(self.source, context.namespace, self.layout.path, html=True)}

    def finish(self, text: Mapping[str, str], context: ChannelContext) -> ChannelOutput:
        fields = WebFields(text["html"].strip(), slot_data(context.slot_fields))
        return ChannelOutput("rendered", fields.to_json())

    def fillable(self, output: FillableOutput, values: tuple[str, ...]) -> bool:
        return True


class WebChannel:
    name: ChannelName = "web"
    fields = WebFields

    def prepare(self, setup: ChannelSetup) -> WebRender:
        return WebRender(setup)


WEB = WebChannel()
