"""Push: the layout's strings rendered per profile, then the APNs, FCM and web push payloads
built from data by :mod:`atomcast.channels.push_payload`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from atomcast.channels.base import (
    ChannelOutput,
    ChannelSetup,
    RenderWarning,
    render_string,
)
from atomcast.channels.push_payload import PushLimits, build_push
from atomcast.channels.text import TextRender
from atomcast.models import Channel as ChannelName
from atomcast.models import ChannelConfig
from atomcast.project import Layout

if TYPE_CHECKING:
    from atomcast.render.context import ChannelContext


def push_limits(config: ChannelConfig) -> PushLimits:
    defaults = PushLimits()
    return PushLimits(
        title_chars=config.title_chars or defaults.title_chars,
        body_chars=config.body_chars or defaults.body_chars,
    )


def render_push_parts(layout: Layout, context: Mapping[str, Any]) -> dict[str, str]:
    """The layout's templates rendered for one profile, before any clean-up.

    :raises RenderError: when a template fails for this profile.
    """
    return {
        name: render_string(part.source, context, f"{layout.path}: {name}")
        for name, part in layout.parts.items()
    }


@dataclass(frozen=True, slots=True)
class PushFields:
    """A push notification's fields in SPEC section 5."""

    KEYS: ClassVar[tuple[str, ...]] = ("title", "body", "apns", "fcm", "webpush", "previews")

    title: str
    body: str
    apns: Mapping[str, Any]
    fcm: Mapping[str, Any]
    webpush: Mapping[str, Any]
    previews: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "body": self.body,
            "apns": self.apns,
            "fcm": self.fcm,
            "webpush": self.webpush,
            "previews": self.previews,
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
    fields = PushFields(
        payloads.title,
        payloads.body,
        payloads.apns,
        payloads.fcm,
        payloads.webpush,
        payloads.previews,
    )
    return ChannelOutput("rendered", fields.to_json(), warnings)


class PushRender(TextRender):
    """Push for one campaign: the layout's strings (phase 1), then whitespace tidied and the
    APNs, FCM and web push payloads fitted to their limits (phase 2, on the text alone)."""

    def __init__(self, setup: ChannelSetup, sources: Mapping[str, str] | None = None) -> None:
        super().__init__(setup, sources)
        self.limits = push_limits(setup.config)

    def first_sources(self) -> dict[str, str]:
        return {name: part.source for name, part in self.layout.parts.items()}

    def where(self, name: str) -> str:
        return f"{self.layout.path}: {name}"

    def key_sources(self) -> list[str]:
        return [part.source for part in self.layout.parts.values()]

    def finish(self, text: Mapping[str, str], context: ChannelContext) -> ChannelOutput:
        return push_output(text, self.limits, self.setup.campaign)


class PushChannel:
    name: ChannelName = "push"
    fields = PushFields

    def prepare(self, setup: ChannelSetup) -> PushRender:
        return PushRender(setup)


PUSH = PushChannel()
