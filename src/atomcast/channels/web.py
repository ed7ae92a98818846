"""Web: an autoescaped HTML fragment and the chosen atoms' fields as JSON for headless
front ends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from atomcast.channels.base import ChannelOutput, render_string
from atomcast.project import Layout

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


def render_web(layout: Layout, context: Mapping[str, Any]) -> ChannelOutput:
    """Render one profile's web fragment.

    :raises RenderError: when a template fails for this profile.
    """
    html = render_string(layout.parts["body"].source, context, layout.path, html=True)
    return ChannelOutput("rendered", {"html": html.strip(), "data": slot_data(context["slots"])})
