"""Pydantic models of the files editors write: ``atomcast.yaml`` and atom front matter.

These models check shape and types only. Cross-references (a fallback atom that must exist,
a layout file, a segment name) need the whole project and are checked in :mod:`project`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from atomcast.errors import ParameterError
from atomcast.limits import Limits
from atomcast.schema import AttributeType

_ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

Kind = Literal["headline", "body", "image", "offer", "cta", "snippet"]
KINDS: tuple[Kind, ...] = ("headline", "body", "image", "offer", "cta", "snippet")
Channel = Literal["email", "push", "sms", "web"]
CHANNELS: tuple[Channel, ...] = ("email", "push", "sms", "web")

#: Fields each kind must have, and the one field that is its main text (for ``short``).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "headline": ("text",),
    "body": (),  # the Markdown body, checked separately
    "image": ("src", "alt"),
    "offer": ("title",),
    "cta": ("label", "url"),
    "snippet": ("text",),
}
#: Fields that are Jinja templates over profile, brand and campaign.
TEMPLATE_FIELDS: tuple[str, ...] = ("text", "short", "alt", "title", "terms", "label", "code")
#: Fields that hold links, rendered as templates and then checked for a safe scheme.
URL_FIELDS: tuple[str, ...] = ("url", "link")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrandConfig(_Strict):
    name: str
    from_email: str
    unsubscribe_url: str
    sms_footer: str = ""
    logo_url: str | None = None
    address: str | None = None
    colors: dict[str, str] = Field(default_factory=dict)
    assets_base_url: str | None = None


class LocalesConfig(_Strict):
    default: str = "en-US"
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)


class AttributeConfig(_Strict):
    type: AttributeType
    required: bool = False
    sensitive: bool = False
    description: str = ""
    properties: dict[str, AttributeConfig] = Field(default_factory=dict)


class ChannelConfig(_Strict):
    layout: str
    max_segments: int | None = Field(default=None, ge=1, le=20)
    title_chars: int | None = Field(default=None, ge=5)
    body_chars: int | None = Field(default=None, ge=5)
    smart_replace: bool = True


class SlotConfig(_Strict):
    kinds: list[Kind] = Field(min_length=1)
    required: bool = False
    fallback: str | None = None
    description: str = ""
    #: Any-of tag filter on candidates; overrides the campaign's ``tags`` for this slot.
    tags: list[str] | None = None


class ExperimentConfig(_Strict):
    slot: str
    variants: dict[str, float] = Field(min_length=1)
    holdout: float = Field(default=0, ge=0, lt=100)

    @field_validator("variants")
    @classmethod
    def _positive_weights(cls, value: dict[str, float]) -> dict[str, float]:
        for arm, weight in value.items():
            if weight <= 0:
                raise ValueError(f"variant {arm!r} needs a positive weight, got {weight}")
            if arm == "holdout":
                raise ValueError("'holdout' is reserved for profiles outside every arm")
        return value


class CampaignConfig(_Strict):
    description: str = ""
    transactional: bool = False
    #: Any-of tag filter on every slot's candidates, so seasons and campaigns stay apart.
    tags: list[str] | None = None
    channels: dict[Channel, ChannelConfig] = Field(min_length=1)
    slots: dict[str, SlotConfig] = Field(min_length=1)
    experiments: dict[str, ExperimentConfig] = Field(default_factory=dict)


#: A metric's window after the decision: a whole number of days, hours or minutes.
WINDOW_PATTERN = re.compile(r"([1-9][0-9]{0,5})([dhm])")
_WINDOW_SECONDS = {"d": 86_400, "h": 3_600, "m": 60}
_METRIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
#: Fields every event record has; a metric's ``value`` must be another one.
EVENT_FIELDS = ("profile_id", "event", "at")


def window_seconds(window: str) -> int:
    """``3d`` -> 259200. The window must already be valid (see :class:`MetricConfig`)."""
    match = WINDOW_PATTERN.fullmatch(window)
    if match is None:
        raise ParameterError("window", f"{window!r} is not a window such as 3d, 12h or 30m")
    return int(match.group(1)) * _WINDOW_SECONDS[match.group(2)]


class MetricConfig(_Strict):
    """A metric of ``atomcast results`` (SPEC 8): an event, optionally a numeric field of it
    to sum, counted in a window after the decision."""

    event: str = Field(min_length=1)
    value: str | None = Field(default=None, min_length=1)
    window: str = "7d"
    description: str = ""

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        if not isinstance(value, str) or WINDOW_PATTERN.fullmatch(value) is None:
            raise ValueError(
                f"window must be a whole number of days, hours or minutes such as 3d, 12h or "
                f"30m, got {value!r}"
            )
        return value

    @field_validator("value")
    @classmethod
    def _value_field(cls, value: str | None) -> str | None:
        if value in EVENT_FIELDS:
            raise ValueError(f"value must name a numeric field of the event, not {value!r}")
        return value

    @property
    def window_seconds(self) -> int:
        return window_seconds(self.window)


class AssetsConfig(_Strict):
    dir: str = ".atomcast-cache/assets"
    base_url: str | None = None


class ProjectConfig(_Strict):
    brand: BrandConfig
    locales: LocalesConfig = Field(default_factory=LocalesConfig)
    profile: dict[str, AttributeConfig]
    segments: dict[str, Any] = Field(default_factory=dict)
    campaigns: dict[str, CampaignConfig] = Field(default_factory=dict)
    assets: AssetsConfig = Field(default_factory=AssetsConfig)
    metrics: dict[str, MetricConfig] = Field(default_factory=dict)
    #: Per-record time and size bounds (see atomcast.limits).
    limits: Limits = Field(default_factory=Limits)

    @field_validator("profile")
    @classmethod
    def _has_id(cls, value: dict[str, AttributeConfig]) -> dict[str, AttributeConfig]:
        if "id" not in value:
            raise ValueError("the profile schema must declare 'id'")
        for name in value:
            # Templates reach attributes as profile.NAME: it must be a plain identifier, and
            # never a dunder that the sandbox would have to reason about.
            if not _ATTRIBUTE_NAME.fullmatch(name):
                raise ValueError(
                    f"attribute name {name!r} must start with a letter and hold only letters, "
                    "digits and underscores"
                )
        return value

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: dict[str, MetricConfig]) -> dict[str, MetricConfig]:
        for name in value:
            if not _METRIC_NAME.fullmatch(name):
                raise ValueError(
                    f"metric name {name!r} must start with a letter and hold only letters, "
                    "digits, '_' and '-'"
                )
        return value


class AtomSpec(_Strict):
    """An atom's front matter, shape-checked. The Markdown body travels beside it."""

    kind: Kind
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    tags: list[str] = Field(default_factory=list)
    locale: str | None = None
    segments: list[str] | None = None
    when: Any = None
    priority: int = 0
    weight: float = Field(default=1, gt=0)
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    channels: list[Channel] | None = Field(default=None, min_length=1)
    variant: str | None = Field(default=None, pattern=r"^[^:\s]+:[^:\s]+$")
    description: str = ""
    # kind-specific fields; which are required is checked per kind by the project loader
    text: str | None = None
    short: str | None = None
    src: str | None = None
    alt: str | None = None
    focal: tuple[float, float] | None = None
    link: str | None = None
    title: str | None = None
    code: str | None = None
    discount: float | None = Field(default=None, ge=0, le=100)
    amount: float | None = Field(default=None, ge=0)
    expires: dt.date | None = None
    terms: str | None = None
    label: str | None = None
    url: str | None = None

    @field_validator("valid_from", "valid_until", "expires", mode="before")
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        # YAML gives datetime for "2026-06-01 10:00"; windows are whole UTC days.
        if isinstance(value, dt.datetime):
            return value.date()
        return value

    @field_validator("focal")
    @classmethod
    def _focal_in_unit_square(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not all(0 <= v <= 1 for v in value):
            raise ValueError("focal point coordinates must lie between 0 and 1")
        return value

    @model_validator(mode="after")
    def _one_price(self) -> AtomSpec:
        if self.discount is not None and self.amount is not None:
            raise ValueError("an offer has either 'discount' or 'amount', not both")
        return self
