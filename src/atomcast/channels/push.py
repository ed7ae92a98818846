"""Push: the layout's strings rendered per profile, then the APNs, FCM and web push payloads
built from data by :mod:`atomcast.channels.push_payload`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atomcast.channels.base import ChannelOutput, RenderWarning, render_string
from atomcast.channels.push_payload import PushLimits, build_push
from atomcast.models import ChannelConfig
from atomcast.project import Layout


def push_limits(config: ChannelConfig) -> PushLimits:
    defaults = PushLimits()
    return PushLimits(
        title_chars=config.title_chars or defaults.title_chars,
        body_chars=config.body_chars or defaults.body_chars,
    )


def render_push(
    layout: Layout, context: Mapping[str, Any], limits: PushLimits, campaign: str
) -> ChannelOutput:
    """Render one profile's push notification.

    :raises RenderError: when a template fails for this profile.
    """
    return push_output(render_push_parts(layout, context), limits, campaign)


def render_push_parts(layout: Layout, context: Mapping[str, Any]) -> dict[str, str]:
    """The layout's templates rendered for one profile, before any clean-up.

    :raises RenderError: when a template fails for this profile.
    """
    return {
        name: render_string(part.source, context, f"{layout.path}: {name}")
        for name, part in layout.parts.items()
    }


def push_output(rendered: Mapping[str, str], limits: PushLimits, campaign: str) -> ChannelOutput:
    """The notification from its rendered parts: whitespace tidied, payloads built."""
    parts = {name: " ".join(text.split()) for name, text in rendered.items()}
    payloads = build_push(
        title=parts.get("title", ""),
        body=parts.get("body", ""),
        subtitle=parts.get("subtitle") or None,
        image_url=parts.get("image") or None,
        url=parts.get("url") or None,
        data={"campaign": campaign},
        thread_id=campaign,
        limits=limits,
    )
    warnings = [RenderWarning(w.code, w.message) for w in payloads.warnings]
    if not payloads.title.strip():
        warnings.append(RenderWarning("empty_title", "the push title is empty"))
    return ChannelOutput(
        "rendered",
        {
            "title": payloads.title,
            "body": payloads.body,
            "apns": payloads.apns,
            "fcm": payloads.fcm,
            "webpush": payloads.webpush,
            "previews": payloads.previews,
        },
        warnings,
    )
