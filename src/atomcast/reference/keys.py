"""What the reference says about each key, beyond what the models say themselves.

Types, required-ness and defaults come from the pydantic models; this module adds, for every
field of every model, one sentence, a valid example and a typical mistake. Examples and
mistakes are edits of the project ``atomcast init`` writes; the error each mistake produces
is not written here but recorded by running ``check`` when the reference is generated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from atomcast import models
from atomcast.limits import Limits

CONFIG = "atomcast.yaml"
HEADLINE = "content_atoms/headlines/headline-evergreen.md"
ARM_A = "content_atoms/headlines/headline-spring-a.md"
BODY = "content_atoms/bodies/body-spring.md"
IMAGE = "content_atoms/images/hero-spring.md"
OFFER = "content_atoms/offers/offer-vip.md"
CART_OFFER = "content_atoms/offers/offer-cart.md"
CTA = "content_atoms/ctas/cta-shop.md"
SNIPPET = "content_atoms/snippets/snippet-roast-day.md"
EMAIL = "layouts/email/launch.mjml"
PUSH = "layouts/push/launch.yaml"
PERSONA = "previews/profiles/vip-ana.yaml"
CAMPAIGN = ("campaigns", "spring-launch")


@dataclass(frozen=True, slots=True)
class Edit:
    """A change to one file of the starter project.

    :param at: the mapping the change applies to (``()``: the file's top level; for atoms
        and email layouts, the front matter).
    :param values: keys set in that mapping (each replaces the key's value).
    :param delete: a key removed from that mapping.
    """

    file: str
    at: tuple[str, ...] = ()
    values: dict[str, Any] | None = None
    delete: str | None = None


@dataclass(frozen=True, slots=True)
class KeyDoc:
    """One documented key: ``example`` passes ``check``; ``mistake`` gives an error."""

    description: str
    example: Edit | None
    mistake: Edit | None


def _set(file: str, at: tuple[str, ...], **values: Any) -> Edit:
    return Edit(file, at, dict(values))


def _one(file: str, at: tuple[str, ...], key: str, value: Any) -> Edit:
    return Edit(file, at, {key: value})


def _drop(file: str, at: tuple[str, ...], key: str) -> Edit:
    return Edit(file, at, None, key)


_C = CONFIG
_CH = (*CAMPAIGN, "channels")
_SL = (*CAMPAIGN, "slots")
_EX = (*CAMPAIGN, "experiments", "headline-test")

#: model -> field -> documentation. A test fails when a model field has no entry here.
KEYS: dict[type[BaseModel], dict[str, KeyDoc]] = {
    models.ProjectConfig: {
        "brand": KeyDoc(
            "Who sends: name, addresses, logo, colours, legal footer.",
            _one(_C, ("brand",), "name", "Fernwood Coffee"),
            _drop(_C, (), "brand"),
        ),
        "locales": KeyDoc(
            "The default locale and, per locale, the chain of locales to fall back to.",
            _one(_C, (), "locales", {"default": "en-US", "fallbacks": {"fr-CA": ["fr", "en-US"]}}),
            _one(_C, (), "locales", "en-US"),
        ),
        "profile": KeyDoc(
            "The profile schema: the only attributes conditions and templates may use. "
            "It must declare `id`.",
            _one(_C, ("profile",), "city", {"type": "string", "description": "Shipping city."}),
            _drop(_C, ("profile",), "id"),
        ),
        "segments": KeyDoc(
            "Named conditions on the profile (MongoDB / GrowthBook operators: `$gte`, `$in`, "
            "`$exists`, `$regex`, `$and`, `$or`, `$inSegment`...).",
            _one(_C, ("segments",), "regular", {"orders_count": {"$gte": 5}}),
            _one(_C, ("segments",), "regular", {"orders": {"$gte": 5}}),
        ),
        "campaigns": KeyDoc(
            "Campaign name -> what it sends: channels with their layouts, slots, experiments.",
            _one(
                _C,
                ("campaigns",),
                "newsletter",
                {
                    "tags": ["spring", "evergreen"],
                    "channels": {"email": {"layout": "launch"}},
                    "slots": {
                        "headline": {"kinds": ["headline"], "required": True},
                        "hero": {"kinds": ["image"]},
                        "body": {"kinds": ["body"]},
                        "offer": {"kinds": ["offer"], "required": True},
                        "cta": {"kinds": ["cta"], "required": True},
                    },
                },
            ),
            _one(_C, (), "campaign", {}),
        ),
        "assets": KeyDoc(
            "Where image renditions are written and the URL they are published under.",
            _one(_C, (), "assets", {"dir": ".atomcast-cache/assets"}),
            _one(_C, (), "assets", {"dri": "out/assets"}),
        ),
        "metrics": KeyDoc(
            "Metric name -> the outcome `atomcast results` measures: an event, optionally a "
            "numeric field of it to sum, counted in a window after the decision "
            "(docs/test-and-learn.md).",
            _one(_C, ("metrics",), "purchased", {"event": "purchase"}),
            _one(_C, ("metrics",), "purchased", {"event": "purchase", "window": "3 days"}),
        ),
        "limits": KeyDoc(
            "Per-record time and size bounds: a runaway template or `$regex` becomes a channel "
            "error or a reject with its reason, and the batch goes on (docs/security.md).",
            _one(_C, (), "limits", {"record_timeout": 10}),
            _one(_C, (), "limits", {"record_timout": 10}),
        ),
    },
    models.BrandConfig: {
        "name": KeyDoc(
            "The sender name, shown in inboxes and as `brand.name` in templates.",
            _one(_C, ("brand",), "name", "Fernwood Coffee"),
            _drop(_C, ("brand",), "name"),
        ),
        "from_email": KeyDoc(
            "The sender address of every email.",
            _one(_C, ("brand",), "from_email", "hello@fernwood.example"),
            _drop(_C, ("brand",), "from_email"),
        ),
        "unsubscribe_url": KeyDoc(
            "The one-click unsubscribe link (List-Unsubscribe header and `unsubscribe_url` in "
            "layouts); a template over the profile; https only.",
            _one(_C, ("brand",), "unsubscribe_url", "https://fernwood.example/u/{{ profile.id }}"),
            _one(_C, ("brand",), "unsubscribe_url", "http://fernwood.example/u"),
        ),
        "sms_footer": KeyDoc(
            "Appended to every SMS (the opt-out line carriers require); a template.",
            _one(_C, ("brand",), "sms_footer", "Reply STOP to opt out"),
            _one(_C, ("brand",), "sms_footer", "Reply STOP, {{ profile.nickname }}"),
        ),
        "logo_url": KeyDoc(
            "The logo: a file in the project (published with the image renditions and "
            "reached through the assets base URL) or an absolute https URL.",
            _one(_C, ("brand",), "logo_url", "brand/logo.png"),
            _one(_C, ("brand",), "logo_url", "brand/wordmark.png"),
        ),
        "address": KeyDoc(
            "The postal address of the legal footer (CAN-SPAM and CASL require one).",
            _one(_C, ("brand",), "address", "12 Mill Lane, Burlington, VT 05401, USA"),
            _one(_C, ("brand",), "address", ["12 Mill Lane", "Burlington"]),
        ),
        "colors": KeyDoc(
            "Free-form colour names layouts read as `brand.colors.NAME`.",
            _one(
                _C,
                ("brand",),
                "colors",
                # Every colour the starter's layouts read: a missing one is a check error.
                {
                    "primary": "#3b5d3a",
                    "accent": "#c8733b",
                    "background": "#f5f0e8",
                    "text": "#2a2622",
                },
            ),
            _one(_C, ("brand",), "colors", "green"),
        ),
        "assets_base_url": KeyDoc(
            "The URL prefix image renditions are published under (`assets.base_url` wins).",
            _one(_C, ("brand",), "assets_base_url", "https://cdn.fernwood.example/atomcast/"),
            _one(_C, ("brand",), "assets_base_url", 42),
        ),
    },
    models.LocalesConfig: {
        "default": KeyDoc(
            "The locale of atoms that name none, and the last fallback of every chain.",
            _one(_C, ("locales",), "default", "en-US"),
            _one(_C, ("locales",), "default", ["en-US"]),
        ),
        "fallbacks": KeyDoc(
            "Locale -> the locales to try next, in order. A locale without an entry falls "
            "back to its language (`fr-CA` -> `fr`), then the default.",
            _one(_C, ("locales",), "fallbacks", {"fr-CA": ["fr", "en-US"]}),
            _one(_C, ("locales",), "fallbacks", {"fr": ["fr"]}),
        ),
    },
    models.AttributeConfig: {
        "type": KeyDoc(
            "One of string, number, integer, boolean, datetime (ISO 8601, stored as UTC), "
            "list, object.",
            _one(_C, ("profile", "first_name"), "type", "string"),
            _one(_C, ("profile", "first_name"), "type", "text"),
        ),
        "required": KeyDoc(
            "Every profile must have it (render refuses a profile without it).",
            _one(_C, ("profile", "id"), "required", True),
            _one(_C, ("profile", "id"), "required", "maybe"),
        ),
        "sensitive": KeyDoc(
            "Usable in conditions, never printed: `check` refuses a template that prints it.",
            _one(_C, ("profile", "lifetime_value"), "sensitive", True),
            _one(_C, ("profile", "first_name"), "sensitive", True),
        ),
        "description": KeyDoc(
            "What the attribute holds; shown in the preview's profile form.",
            _one(_C, ("profile", "first_name"), "description", "Given name as typed at signup."),
            _one(_C, ("profile", "first_name"), "descripton", "Given name."),
        ),
        "properties": KeyDoc(
            "For `object` attributes: the declared sub-attributes (`consent.email`); without "
            "it any key below the object is accepted, its type unknown.",
            _one(
                _C,
                ("profile", "consent"),
                "properties",
                {
                    "email": {"type": "boolean"},
                    "sms": {"type": "boolean"},
                    "push": {"type": "boolean"},
                    "web": {"type": "boolean"},
                },
            ),
            _one(_C, ("profile", "consent"), "properties", {"email": "boolean"}),
        ),
    },
    models.CampaignConfig: {
        "description": KeyDoc(
            "What the campaign is for; shown in the preview.",
            _one(_C, CAMPAIGN, "description", "The spring blend launch."),
            _one(_C, CAMPAIGN, "desc", "The spring blend launch."),
        ),
        "transactional": KeyDoc(
            "A transactional message (receipts, password resets): channels render without "
            "the consent check, and SMS without the opt-out footer.",
            _one(_C, CAMPAIGN, "transactional", False),
            _one(_C, CAMPAIGN, "transactional", "sometimes"),
        ),
        "tags": KeyDoc(
            "Any-of tag filter on every slot's candidates, so seasons and campaigns stay apart "
            "(omitted: every atom of the right kind competes).",
            _one(_C, CAMPAIGN, "tags", ["spring", "evergreen"]),
            _one(_C, CAMPAIGN, "tags", "spring"),
        ),
        "channels": KeyDoc(
            "Channel (email, push, sms, web) -> its settings; at least one.",
            _one(_C, _CH, "email", {"layout": "launch"}),
            _one(_C, _CH, "fax", {"layout": "launch"}),
        ),
        "slots": KeyDoc(
            "Slot name -> which atom kinds compete for it; layouts read `slots.NAME`.",
            _one(_C, _SL, "headline", {"kinds": ["headline"], "required": True}),
            _one(_C, _SL, "headline", {"kinds": []}),
        ),
        "experiments": KeyDoc(
            "Experiment name -> an A/B test on one slot; atoms join an arm with `variant`.",
            _one(
                _C,
                (*CAMPAIGN, "experiments"),
                "headline-test",
                {"slot": "headline", "variants": {"a": 50, "b": 50}},
            ),
            _one(
                _C,
                (*CAMPAIGN, "experiments"),
                "headline-test",
                {"slot": "headlines", "variants": {"a": 50, "b": 50}},
            ),
        ),
    },
    models.ChannelConfig: {
        "layout": KeyDoc(
            "The layout file's name in `layouts/CHANNEL/` (without its extension).",
            _one(_C, (*_CH, "sms"), "layout", "launch"),
            _one(_C, (*_CH, "sms"), "layout", "lauch"),
        ),
        "max_segments": KeyDoc(
            "SMS only: the most segments a message may take (1-20); longer is an error.",
            _one(_C, (*_CH, "sms"), "max_segments", 2),
            _one(_C, (*_CH, "sms"), "max_segments", 0),
        ),
        "title_chars": KeyDoc(
            "Push only: the title length past which a warning is given (at least 5).",
            _one(_C, (*_CH, "push"), "title_chars", 40),
            _one(_C, (*_CH, "push"), "title_chars", 2),
        ),
        "body_chars": KeyDoc(
            "Push only: the body length past which a warning is given (at least 5).",
            _one(_C, (*_CH, "push"), "body_chars", 110),
            _one(_C, (*_CH, "push"), "body_chars", 3),
        ),
        "smart_replace": KeyDoc(
            "SMS only: replace typographic quotes and dashes so a message stays GSM-7.",
            _one(_C, (*_CH, "sms"), "smart_replace", True),
            _one(_C, (*_CH, "sms"), "smart_replace", "often"),
        ),
    },
    models.SlotConfig: {
        "kinds": KeyDoc(
            "The atom kinds that compete for the slot (headline, body, image, offer, cta, "
            "snippet); at least one.",
            _one(_C, (*_SL, "offer"), "kinds", ["offer"]),
            _one(_C, (*_SL, "offer"), "kinds", ["coupon"]),
        ),
        "required": KeyDoc(
            "A profile with no atom for this slot (and no fallback) is not sent.",
            _one(_C, (*_SL, "offer"), "required", True),
            _one(_C, (*_SL, "offer"), "required", "yes please"),
        ),
        "fallback": KeyDoc(
            "The id of an atom used when no candidate fits the profile.",
            _one(_C, (*_SL, "offer"), "fallback", "offer-welcome"),
            _one(_C, (*_SL, "offer"), "fallback", "offer-welcom"),
        ),
        "description": KeyDoc(
            "What the slot is for; shown in the preview's explain view.",
            _one(_C, (*_SL, "offer"), "description", "The deal."),
            _one(_C, (*_SL, "offer"), "descripion", "The deal."),
        ),
        "tags": KeyDoc(
            "Any-of tag filter for this slot, in place of the campaign's `tags`.",
            _one(_C, (*_SL, "offer"), "tags", ["spring", "evergreen"]),
            _one(_C, (*_SL, "offer"), "tags", "spring"),
        ),
    },
    models.ExperimentConfig: {
        "slot": KeyDoc(
            "The slot under test; one experiment per slot.",
            _one(_C, _EX, "slot", "headline"),
            _one(_C, _EX, "slot", "headlines"),
        ),
        "variants": KeyDoc(
            "Arm name -> relative weight (positive). A profile's arm is a stable hash of its "
            "id, campaign and experiment.",
            _one(_C, _EX, "variants", {"a": 50, "b": 50}),
            _one(_C, _EX, "variants", {"a": 50, "b": 0}),
        ),
        "holdout": KeyDoc(
            "Percent of profiles (0 to under 100) kept out of every arm, as a control group.",
            _one(_C, _EX, "holdout", 10),
            _one(_C, _EX, "holdout", 100),
        ),
    },
    models.MetricConfig: {
        "event": KeyDoc(
            "The event name (the `event` field of an events record) the metric counts.",
            _one(_C, ("metrics", "purchased"), "event", "order"),
            _drop(_C, ("metrics", "purchased"), "event"),
        ),
        "value": KeyDoc(
            "A numeric field of the event to sum per profile (revenue); without it the metric "
            "is the share of profiles with at least one event.",
            _one(_C, ("metrics", "purchased"), "value", "amount"),
            _one(_C, ("metrics", "purchased"), "value", "at"),
        ),
        "window": KeyDoc(
            "How long after the decision an event counts: whole days, hours or minutes.",
            _one(_C, ("metrics", "purchased"), "window", "3d"),
            _one(_C, ("metrics", "purchased"), "window", "3 days"),
        ),
        "description": KeyDoc(
            "Words for the report.",
            _one(_C, ("metrics", "purchased"), "description", "Orders within a week."),
            _one(_C, ("metrics", "purchased"), "description", ["Orders"]),
        ),
    },
    Limits: {
        "record_timeout": KeyDoc(
            "Seconds one profile may take, all channels together; past it the channel that "
            "ran out reports `error` (a reject when time ran out while choosing atoms).",
            _one(_C, ("limits",), "record_timeout", 10),
            _one(_C, ("limits",), "record_timeout", 0),
        ),
        "max_output_bytes": KeyDoc(
            "The most text any one template may produce, or any template expression build "
            "(`'x' * n`, a join, a format), in characters.",
            _one(_C, ("limits",), "max_output_bytes", 4194304),
            _one(_C, ("limits",), "max_output_bytes", 10),
        ),
        "regex_timeout": KeyDoc(
            "Seconds one `$regex` match on one profile value may take; past it the record is "
            "rejected with the pattern.",
            _one(_C, ("limits",), "regex_timeout", 0.5),
            _one(_C, ("limits",), "regex_timeout", -1),
        ),
    },
    models.AssetsConfig: {
        "dir": KeyDoc(
            "Where image renditions (and published brand files) are written, relative to the "
            "project.",
            _one(_C, ("assets",), "dir", ".atomcast-cache/assets"),
            _one(_C, ("assets",), "dir", [".atomcast-cache"]),
        ),
        "base_url": KeyDoc(
            "The URL prefix renditions are published under; overrides `brand.assets_base_url`.",
            _one(_C, ("assets",), "base_url", "https://cdn.fernwood.example/atomcast/"),
            _one(_C, ("assets",), "base_url", 42),
        ),
    },
    models.AtomSpec: {
        "kind": KeyDoc(
            "What the atom is: headline, body, image, offer, cta or snippet.",
            _one(HEADLINE, (), "kind", "headline"),
            _one(HEADLINE, (), "kind", "title"),
        ),
        "id": KeyDoc(
            "The atom's id, unique in the project (default: the file name without `.md`).",
            _one(HEADLINE, (), "id", "headline-evergreen"),
            _one(HEADLINE, (), "id", "my headline"),
        ),
        "tags": KeyDoc(
            "Labels campaigns and slots filter on (`tags` of a campaign or slot).",
            _one(HEADLINE, (), "tags", ["evergreen"]),
            _one(HEADLINE, (), "tags", "evergreen"),
        ),
        "locale": KeyDoc(
            "The atom's language (default: `locales.default`).",
            _one(HEADLINE, (), "locale", "en-US"),
            _one(HEADLINE, (), "locale", "de-AT"),
        ),
        "segments": KeyDoc(
            "Only profiles in one of these segments get the atom (omitted: everyone).",
            _one(HEADLINE, (), "segments", ["vip"]),
            _one(HEADLINE, (), "segments", ["vips"]),
        ),
        "when": KeyDoc(
            "A condition on the profile, like a segment private to this atom.",
            _one(HEADLINE, (), "when", {"orders_count": {"$gte": 1}}),
            _one(HEADLINE, (), "when", {"orders": {"$gte": 1}}),
        ),
        "priority": KeyDoc(
            "Higher wins among the eligible atoms of a slot; ties are broken by weight.",
            _one(HEADLINE, (), "priority", 0),
            _one(HEADLINE, (), "priority", "high"),
        ),
        "weight": KeyDoc(
            "Relative share among atoms of equal priority (a stable hash per profile).",
            _one(HEADLINE, (), "weight", 2),
            _one(HEADLINE, (), "weight", 0),
        ),
        "valid_from": KeyDoc(
            "First day (UTC, inclusive) the atom competes.",
            _one(HEADLINE, (), "valid_from", dt.date(2027, 3, 1)),
            _one(HEADLINE, (), "valid_from", "next week"),
        ),
        "valid_until": KeyDoc(
            "Last day (UTC, inclusive) the atom competes.",
            _set(HEADLINE, (), valid_from=dt.date(2027, 3, 1), valid_until=dt.date(2027, 5, 31)),
            _set(HEADLINE, (), valid_from=dt.date(2027, 5, 1), valid_until=dt.date(2027, 4, 1)),
        ),
        "channels": KeyDoc(
            "Only these channels may use the atom (omitted: all).",
            _one(HEADLINE, (), "channels", ["email", "web"]),
            _one(HEADLINE, (), "channels", ["mail"]),
        ),
        "variant": KeyDoc(
            "`EXPERIMENT:ARM`: the atom competes only for profiles in that arm.",
            _one(ARM_A, (), "variant", "headline-test:a"),
            _one(ARM_A, (), "variant", "headline-test:c"),
        ),
        "description": KeyDoc(
            "A note for people; not rendered.",
            _one(HEADLINE, (), "description", "The safety net."),
            _one(HEADLINE, (), "descripton", "The safety net."),
        ),
        "text": KeyDoc(
            "headline, snippet (required): the text, a template.",
            _one(HEADLINE, (), "text", "Fresh coffee from {{ brand.name }}"),
            _drop(HEADLINE, (), "text"),
        ),
        "short": KeyDoc(
            "Any kind: the short form (push titles, SMS, preheaders), a template.",
            _one(HEADLINE, (), "short", "Fresh from the roaster"),
            _one(HEADLINE, (), "short", "Hi {{ profile.nickname }}"),
        ),
        "src": KeyDoc(
            "image (required): a png, jpg or webp file beside the atom, or an https URL.",
            _one(IMAGE, (), "src", "hero-spring.png"),
            _one(IMAGE, (), "src", "hero.png"),
        ),
        "alt": KeyDoc(
            "image (required): the alternative text, a template.",
            _one(IMAGE, (), "alt", "A cup of coffee beside apple blossom"),
            _drop(IMAGE, (), "alt"),
        ),
        "focal": KeyDoc(
            "image: `[x, y]` between 0 and 1, the point kept in frame when cropped.",
            _one(IMAGE, (), "focal", [0.5, 0.3]),
            _one(IMAGE, (), "focal", [1.5, 0.5]),
        ),
        "link": KeyDoc(
            "image: where the image links (https, or a site path starting with `/`).",
            _one(IMAGE, (), "link", "https://fernwood.example/spring"),
            _one(IMAGE, (), "link", "http://fernwood.example/spring"),
        ),
        "title": KeyDoc(
            "offer (required): the offer's headline, a template.",
            _one(OFFER, (), "title", "20% off the spring blend"),
            _drop(OFFER, (), "title"),
        ),
        "code": KeyDoc(
            "offer: the coupon code, a template.",
            _one(OFFER, (), "code", "SPRINGVIP"),
            _one(OFFER, (), "code", 2027),
        ),
        "discount": KeyDoc(
            "offer: percent off, 0-100 (an offer has `discount` or `amount`, not both).",
            _one(OFFER, (), "discount", 20),
            _one(OFFER, (), "discount", 120),
        ),
        "amount": KeyDoc(
            "offer: money off, at least 0.",
            _one(CART_OFFER, (), "amount", 5),
            _one(OFFER, (), "amount", 5),
        ),
        "expires": KeyDoc(
            "offer: the day the offer ends (layouts show it; selection uses the window).",
            _one(OFFER, (), "expires", dt.date(2027, 4, 30)),
            _one(OFFER, (), "expires", "soon"),
        ),
        "terms": KeyDoc(
            "offer: the small print, a template.",
            _one(OFFER, (), "terms", "One use per account."),
            _one(OFFER, (), "terms", "Sent to {{ profile.email }}"),
        ),
        "label": KeyDoc(
            "cta (required): the button text, a template.",
            _one(CTA, (), "label", "Shop the spring blend"),
            _drop(CTA, (), "label"),
        ),
        "url": KeyDoc(
            "cta (required): the link, a template; https only.",
            _one(CTA, (), "url", "https://fernwood.example/spring"),
            _one(CTA, (), "url", "http://fernwood.example/spring"),
        ),
    },
}

#: Which optional fields each kind reads (all kinds also take ``short``).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "headline": ("text", "short"),
    "body": ("short",),
    "image": ("src", "alt", "focal", "link", "short"),
    "offer": ("title", "short", "code", "discount", "amount", "expires", "terms"),
    "cta": ("label", "url", "short"),
    "snippet": ("text", "short"),
}

#: Common atom fields, in the order the reference lists them.
COMMON_ATOM_FIELDS: tuple[str, ...] = (
    "kind",
    "id",
    "tags",
    "locale",
    "segments",
    "when",
    "priority",
    "weight",
    "valid_from",
    "valid_until",
    "channels",
    "variant",
    "description",
)

#: A snippet: the starter has none, so its example makes one.
SNIPPET_EXAMPLE = Edit(
    SNIPPET, (), {"kind": "snippet", "tags": ["spring"], "text": "We roast on Mondays."}
)
SNIPPET_MISTAKE = Edit(
    SNIPPET, (), {"kind": "snippet", "tags": ["spring"], "txt": "We roast on Mondays."}
)


@dataclass(frozen=True, slots=True)
class FileKey:
    """A key of a file that has no pydantic model (layouts, personas)."""

    key: str
    type: str
    required: str
    description: str
    example: Edit | None
    mistake: Edit | None


EMAIL_KEYS: tuple[FileKey, ...] = (
    FileKey(
        "subject",
        "template",
        "required",
        "The subject line.",
        _one(EMAIL, (), "subject", "{{ slots.headline.text }}"),
        _drop(EMAIL, (), "subject"),
    ),
    FileKey(
        "preheader",
        "template",
        "optional",
        "The inbox preview text after the subject (hidden in the body).",
        _one(EMAIL, (), "preheader", "{{ slots.offer.title }}"),
        _one(EMAIL, (), "preheader", "{{ slot.offer.title }}"),
    ),
)
PUSH_KEYS: tuple[FileKey, ...] = (
    FileKey(
        "title",
        "template",
        "required",
        "The notification title.",
        _one(PUSH, (), "title", "{{ slots.headline.short }}"),
        _drop(PUSH, (), "title"),
    ),
    FileKey(
        "subtitle",
        "template",
        "optional",
        "iOS subtitle (other platforms ignore it).",
        _one(PUSH, (), "subtitle", "{{ brand.name }}"),
        _one(PUSH, (), "subtitel", "{{ brand.name }}"),
    ),
    FileKey(
        "body",
        "template",
        "required",
        "The notification text.",
        _one(PUSH, (), "body", "{{ slots.offer.short }}"),
        _drop(PUSH, (), "body"),
    ),
    FileKey(
        "image",
        "template",
        "optional",
        "An image URL (an empty result sends none); `slots.NAME.push_url` is sized for push.",
        _one(PUSH, (), "image", "{{ slots.hero.push_url if slots.hero else '' }}"),
        _one(PUSH, (), "image", "{{ hero.push_url }}"),
    ),
    FileKey(
        "url",
        "template",
        "optional",
        "The deep link opened on tap; https.",
        _one(PUSH, (), "url", "{{ slots.cta.url }}"),
        _one(PUSH, (), "url", "{{ cta.url }}"),
    ),
)
PERSONA_KEYS: tuple[FileKey, ...] = (
    FileKey(
        "ATTRIBUTE",
        "the attribute's type",
        "as the profile schema says",
        "Any attribute of the profile schema; the value must fit its type.",
        _one(PERSONA, (), "orders_count", 31),
        _one(PERSONA, (), "orders_count", "many"),
    ),
    FileKey(
        "_description",
        "string",
        "optional",
        "Shown under the persona's name in the preview. Every key starting with `_` is a "
        "note for people and is not part of the profile.",
        _one(PERSONA, (), "_description", "A regular since 2021."),
        _one(PERSONA, (), "nickname", "Annie"),
    ),
)
