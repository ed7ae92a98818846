"""A channel renders only the slots its templates read (``ChannelRender.slots_read``): an
SMS that prints the offer and the link is neither keyed on, nor failed by, the headline.

What a template reads of ``slots`` and of ``profile`` is found by one analysis
(``templating.keys_read``): a memo keyed on fewer keys than the output depends on would hand
one profile's text to another."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomcast.project import load_project
from atomcast.render import CampaignRenderer, Renderer
from atomcast.schema import validate_profile
from atomcast.templating import environment, profile_dependencies, slots_read
from tests.conftest import add_demo_renditions, examples

AT = "2026-07-15T12:00:00Z"
CONSENT = {"email": True, "push": True, "sms": True, "web": True}
PROFILE = {
    "id": "p-1",
    "first_name": "Ann",
    "locale": "en-US",
    "cart_total": 42.5,
    "lifetime_value": 10,
    "consent": CONSENT,
}

CASES = [
    ("{{ slots.offer.short }} {{ slots.cta.url }}", {"offer", "cta"}),
    ("{{ slots['offer'].short }}", {"offer"}),
    ("{{ slots.hero.push_url if slots.hero else '' }}", {"hero"}),
    ("{% if slots.offer.code %}{{ slots.offer.code }}{% endif %}", {"offer"}),
    ("{% set o = slots.offer %}{{ o.short }}", {"offer"}),
    ("{% macro m() %}{{ slots.cta.label }}{% endmacro %}{{ m() }}", {"cta"}),
    ("{{ brand.name }}: {{ profile.first_name }}", set()),
    ("plain text", set()),
    # Anything that could reach a slot without naming it reads them all.
    ("{{ slots }}", None),
    ("{{ slots | length }}", None),
    ("{% for name, view in slots.items() %}{{ name }}{% endfor %}", None),
    ("{{ slots.get('offer').short }}", None),
    ("{{ slots[profile.slot].short }}", None),
    ("{% set slots = {} %}{{ slots.offer }}", None),
    ("{% for slots in [1] %}{{ slots }}{% endfor %}", None),
    ("{% include 'other' %}", None),
    ("{% import 'macros' as m %}{{ m.x() }}", None),
    ("{{ slots.offer.short", None),  # does not parse
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_slots_read(source: str, expected: set[str] | None) -> None:
    found = slots_read(source)
    assert found == (None if expected is None else frozenset(expected))


PROFILE_CASES = [
    ("{{ profile.first_name }} {{ profile['city'] }}", {"first_name", "city"}),
    ("{% if profile.vip %}{{ locale }}{% endif %}", {"vip", "locale"}),
    ("{{ profile.items() }}", None),
    ("{{ profile.get('first_name') }}", None),
    ("{% for k in profile %}{{ k }}{% endfor %}", None),
    ("{{ profile[profile.field] }}", None),
]


@pytest.mark.parametrize(("source", "expected"), PROFILE_CASES)
def test_profile_dependencies(source: str, expected: set[str] | None) -> None:
    found = profile_dependencies(source)
    assert found == (None if expected is None else frozenset(expected))


def _pair(root: Path) -> tuple[CampaignRenderer, CampaignRenderer]:
    renderer = Renderer(load_project(root), assets_dir=add_demo_renditions(root / "assets"))
    return (
        renderer.campaign("summer-sale", at=AT),
        renderer.campaign("summer-sale", at=AT, memoise=False),
    )


def _both(root: Path) -> dict[str, dict[str, object]]:
    """The profile's channels, rendered with and without the fast paths (twice each, so
    that the second meets the memos): all four the same."""
    memoised, plain = _pair(root)
    renders = [r.render_raw(PROFILE).to_json() for r in (memoised, memoised, plain, plain)]
    texts = {json.dumps(render, sort_keys=True) for render in renders}
    assert len(texts) == 1
    channels: dict[str, dict[str, object]] = renders[0]["channels"]
    return channels


def _edit_all(folder: Path, pattern: str, replacement: str) -> None:
    for path in folder.rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(pattern, replacement, text, flags=re.M), encoding="utf-8")


def test_demo_sms_reads_offer_and_cta_only(demo_project: Path) -> None:
    memoised, _ = _pair(demo_project)
    assert memoised.slots_read["sms"] == {"offer", "cta"}
    assert memoised.slots_read["push"] == {"headline", "body", "offer", "hero", "cta"} - {"body"}
    assert memoised.slots_read["email"] is None
    assert memoised.slots_read["web"] is None


def test_a_failing_headline_fails_only_the_channels_that_read_it(demo_project: Path) -> None:
    # Loads and checks, then fails for every profile (division by zero).
    failing = 'text: "{{ profile.lifetime_value // 0 }}'
    _edit_all(demo_project / "content_atoms", r'^text: "', failing)
    channels = _both(demo_project)
    assert channels["sms"]["status"] == "rendered"
    for name in ("email", "push", "web"):
        assert channels[name]["status"] == "error", name
        assert "headline" in str(channels[name]["reason"])
        # An error names every atom the channel was given, read or not.
        assert set(channels[name]["atoms"]) >= {"headline", "offer", "cta"}  # type: ignore[arg-type]


def test_a_broken_image_fails_only_the_channels_that_read_it(demo_project: Path) -> None:
    for image in (demo_project / "content_atoms").rglob("*.jpg"):
        image.write_bytes(b"not a jpeg")
    channels = _both(demo_project)
    assert channels["sms"]["status"] == "rendered"
    for name in ("email", "push", "web"):
        assert channels[name]["status"] == "error", name


@dataclass(frozen=True)
class _Pin:
    decisions: dict[str, str | None]
    experiments: dict[str, str] = field(default_factory=dict)


def test_sms_plans_are_shared_across_headlines(demo_project: Path) -> None:
    memoised, _ = _pair(demo_project)
    profile = validate_profile(memoised.project.schema, PROFILE)
    chosen = dict(memoised.render(profile).decisions)
    folder = demo_project / "content_atoms" / "summer-sale" / "headlines"
    other = next(path.stem for path in folder.glob("*.md") if path.stem != chosen["headline"])
    plans = len(memoised.cache.plans)
    again = memoised.render(profile, pinned=_Pin({**chosen, "headline": other}))
    assert again.decisions == {**chosen, "headline": other}
    # Email, push and web print the headline: a plan each for the new combination. SMS
    # prints the offer and the link alone: it finds its plan.
    assert len(memoised.cache.plans) == plans + 3


# -- the analysis against Jinja itself -----------------------------------------------------

SLOTS = {
    "headline": {"id": "h", "kind": "headline", "text": "Hello", "short": "Hi", "code": None},
    "offer": {"id": "o", "kind": "offer", "text": "20% off", "short": "20%", "code": "SUN"},
    "cta": {"id": "c", "kind": "cta", "label": "Shop", "url": "https://x.example/"},
    "body": None,
}
_NAMES = [*SLOTS, "hero"]
_FIELDS = ["short", "code", "url", "label", "text"]

_slot_ref = st.one_of(
    st.sampled_from(_NAMES).map(lambda n: f"slots.{n}"),
    st.sampled_from(_NAMES).map(lambda n: f"slots['{n}']"),
    st.sampled_from(
        ["slots", "(slots | length)", "slots.get('offer')", "slots[profile.k]", "slots.keys()"]
    ),
)
_value = st.one_of(
    st.tuples(_slot_ref, st.sampled_from(_FIELDS)).map(lambda p: f"{p[0]}.{p[1]}"),
    _slot_ref,
    st.just("profile.k"),
)
_statement = st.one_of(
    _value.map(lambda v: "{{ " + v + " }}"),
    st.tuples(_slot_ref, _value).map(
        lambda p: "{% if " + p[0] + " %}{{ " + p[1] + " }}{% endif %}"
    ),
    _value.map(lambda v: "{% set x = " + v + " %}{{ x }}"),
    _value.map(lambda v: "{% for i in [1] %}{{ " + v + " }}{% endfor %}"),
    _value.map(lambda v: "{% macro m() %}{{ " + v + " }}{% endmacro %}{{ m() }}"),
    st.sampled_from(["{% for slot, view in slots.items() %}{{ slot }}{% endfor %}", " - "]),
)


def _outcome(source: str, slots: Mapping[str, object]) -> tuple[str, str]:
    try:
        return "ok", environment("text").from_string(source).render(
            slots=slots, profile={"k": "cta"}
        )
    except Exception as exc:  # any template failure: the same one either way
        return "error", f"{type(exc).__name__}: {exc}"


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(_statement, min_size=1, max_size=4).map("".join))
def test_what_slots_read_leaves_out_is_never_read(source: str) -> None:
    """Rendering with only the slots ``slots_read`` names gives what rendering with every
    slot gives, output or error, whenever it names them (``None``: every slot is given)."""
    read = slots_read(source)
    if read is None:
        return
    only = {name: view for name, view in SLOTS.items() if name in read}
    assert _outcome(source, only) == _outcome(source, SLOTS), (source, read)
