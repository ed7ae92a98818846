"""Web: an autoescaped HTML fragment and the chosen atoms' fields as JSON for headless
front ends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from atomcast.channels.base import ChannelOutput, render_string
from atomcast.jinjatokens import protect
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


_GUARDED: dict[str, str] = {}


def guarded_source(source: str) -> str:
    """The layout with every templated href/src passed through ``safe_url``, as in email,
    so that a profile value can never become a ``javascript:`` link in a web page."""
    guarded = _GUARDED.get(source)
    if guarded is None:
        protected = protect(source)
        guarded = protected.restore(protected.text, url_filter="safe_url")
        _GUARDED[source] = guarded
    return guarded


def render_web(
    layout: Layout, context: Mapping[str, Any], guarded: str | None = None
) -> ChannelOutput:
    """Render one profile's web fragment.

    :param guarded: the layout body already through :func:`guarded_source` (and possibly
        rewritten since); by default the layout's own.
    :raises RenderError: when a template fails for this profile.
    """
    source = guarded if guarded is not None else guarded_source(layout.parts["body"].source)
    html = render_string(source, context, layout.path, html=True)
    return ChannelOutput("rendered", {"html": html.strip(), "data": slot_data(context["slots"])})
