"""SMS: rendered text, the brand's opt-out footer for marketing, GSM-7 or UCS-2 segments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from atomcast.channels.base import (
    ChannelOutput,
    ChannelSetup,
    RenderWarning,
)
from atomcast.channels.sms_encoding import encode_sms
from atomcast.channels.text import TextRender
from atomcast.models import Channel as ChannelName
from atomcast.models import ChannelConfig

if TYPE_CHECKING:
    from atomcast.render.context import ChannelContext


@dataclass(frozen=True, slots=True)
class SmsFields:
    """An SMS's fields in SPEC section 5."""

    KEYS: ClassVar[tuple[str, ...]] = ("text", "encoding", "segments", "characters", "units")

    text: str
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    characters: int
    units: int

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "encoding": self.encoding,
            "segments": self.segments,
            "characters": self.characters,
            "units": self.units,
        }


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
    fields = SmsFields(
        encoded.text, encoded.encoding, encoded.segments, encoded.characters, encoded.units
    ).to_json()
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


#: The brand's opt-out footer, rendered as a part of the message's text.
FOOTER = "footer"


class SmsRender(TextRender):
    """SMS for one campaign: the body and, for marketing, the brand's opt-out footer (phase
    1), then lines tidied, GSM-7 or UCS-2 chosen and segments counted (phase 2, on the text
    alone)."""

    def first_sources(self) -> dict[str, str]:
        # The footer first: when both fail, its error is the one reported.
        footer = self.setup.brand.get("sms_footer")
        sources = {FOOTER: str(footer)} if not self.setup.transactional and footer else {}
        sources["body"] = self.layout.parts["body"].source
        return sources

    def where(self, name: str) -> str:
        return "brand.sms_footer" if name == FOOTER else str(self.layout.path)

    def key_sources(self) -> list[str]:
        sources = [part.source for part in self.layout.parts.values()]
        if not self.setup.transactional:
            sources.append(self.setup.brand.get("sms_footer") or "")
        return sources

    def finish(self, text: Mapping[str, str], context: ChannelContext) -> ChannelOutput:
        return sms_output(text["body"], self.setup.config, text.get(FOOTER))


class SmsChannel:
    name: ChannelName = "sms"
    fields = SmsFields

    def prepare(self, setup: ChannelSetup) -> SmsRender:
        return SmsRender(setup)


SMS = SmsChannel()
