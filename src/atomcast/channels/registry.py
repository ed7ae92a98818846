"""The channels atomcast renders, in the order records list them.

Adding a channel: write its module (a :class:`~atomcast.channels.base.Channel`: typed fields,
``prepare`` giving the plain renderer in phases) and add it here; the renderer, its fast paths
and the batch encoder only go through this registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from atomcast.channels.base import Channel
from atomcast.channels.email import EMAIL
from atomcast.channels.push import PUSH
from atomcast.channels.sms import SMS
from atomcast.channels.web import WEB
from atomcast.errors import UnknownChannelError
from atomcast.models import Channel as ChannelName

REGISTRY: Mapping[ChannelName, Channel] = MappingProxyType(
    {channel.name: channel for channel in (EMAIL, PUSH, SMS, WEB)}
)
CHANNEL_ORDER: tuple[ChannelName, ...] = tuple(REGISTRY)


def registered(name: str) -> Channel:
    """The registered channel ``name``.

    :raises UnknownChannelError: when atomcast has no such channel.
    """
    for known, found in REGISTRY.items():
        if known == name:
            return found
    raise UnknownChannelError(f"unknown channel {name!r} (channels: {', '.join(REGISTRY)})")


__all__ = ["CHANNEL_ORDER", "REGISTRY", "registered"]
