"""SMS: rendered text, the brand's opt-out footer for marketing, GSM-7 or UCS-2 segments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atomcast.channels.base import ChannelOutput, RenderWarning, render_string
from atomcast.channels.sms_encoding import encode_sms
from atomcast.models import ChannelConfig
from atomcast.project import Layout


def render_sms(
    layout: Layout,
    context: Mapping[str, Any],
    config: ChannelConfig,
    footer: str | None,
) -> ChannelOutput:
    """Render one profile's SMS; over ``max_segments`` it is an error, not a silent cut.

    :raises RenderError: when a template fails for this profile.
    """
    return sms_output(render_sms_parts(layout, context)["body"], config, footer)


def render_sms_parts(layout: Layout, context: Mapping[str, Any]) -> dict[str, str]:
    """The layout's templates rendered for one profile, before any clean-up.

    :raises RenderError: when a template fails for this profile.
    """
    return {"body": render_string(layout.parts["body"].source, context, layout.path)}


def sms_output(body: str, config: ChannelConfig, footer: str | None) -> ChannelOutput:
    """The SMS from its rendered body: lines tidied, footer added, encoded and counted."""
    lines = [" ".join(line.split()) for line in body.strip().splitlines()]
    text = "\n".join(line for line in lines if line)
    if footer:
        text = f"{text}\n{footer.strip()}" if text else footer.strip()
    encoded = encode_sms(text, smart=config.smart_replace)
    warnings: list[RenderWarning] = []
    for replacement in encoded.replacements:
        warnings.append(
            RenderWarning(
                "smart_replaced",
                f"replaced {replacement.original!r} with {replacement.replacement!r} "
                f"({replacement.count}x) to stay in GSM-7",
            )
        )
    if encoded.encoding == "UCS-2":
        shown = " ".join(encoded.non_gsm_characters[:8])
        warnings.append(
            RenderWarning(
                "ucs2",
                f"characters outside GSM-7 ({shown}) make this UCS-2: 70 characters per segment",
            )
        )
    fields: dict[str, Any] = {
        "text": encoded.text,
        "encoding": encoded.encoding,
        "segments": encoded.segments,
        "characters": encoded.characters,
        "units": encoded.units,
    }
    if config.max_segments is not None and encoded.segments > config.max_segments:
        return ChannelOutput(
            "error",
            fields,
            warnings,
            reason=(
                f"message needs {encoded.segments} {encoded.encoding} segments; the campaign "
                f"allows at most {config.max_segments}"
            ),
        )
    return ChannelOutput("rendered", fields, warnings)
