"""Every fast path prints what the plain renderer prints, byte for byte, on both content
projects (the demo and ``benchmarks/content/pantry``).

The plain renderer (``memoise=False``) is the spec: each channel's phases, nothing reused.
The fast paths are the output memo, the symbolic holes (markers or values rendered in), the
finishing memo of push and SMS, and the batch encoder's reuse of bytes. Profiles come from the
benchmark's seeded generators, then have their text attributes replaced with what breaks
naive fast paths: empty, missing, whitespace, marker characters, very long, unicode, markup.
"""

from __future__ import annotations

import functools
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.batch.encoding import RecordEncoder
from atomcast.channels.registry import CHANNEL_ORDER, REGISTRY
from atomcast.errors import ProfileError
from atomcast.project import Project, load_project
from atomcast.render import CampaignRenderer, Renderer
from atomcast.render.symbolic import marker
from atomcast.schema import Profile, validate_profile
from tests.conftest import ROOT, add_demo_renditions, examples, population

sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_profiles import demo_profile, pantry_profile

PANTRY = ROOT / "benchmarks" / "content" / "pantry"

#: (project, campaign, instants): several campaigns and instants on both projects.
CASES = [
    ("demo", ROOT, "summer-sale", ("2026-07-15T12:00:00Z", "2026-06-02T08:00:00Z")),
    ("demo", ROOT, "cabin-season", ("2026-12-10T09:00:00Z",)),
    ("pantry", PANTRY, "weekly-box", ("2026-03-10T12:00:00Z", "2026-03-12T18:30:00Z")),
]

#: Values that have broken fast paths, or could: each replaces a text attribute's value.
AWKWARD = [
    None,  # missing
    "",
    " ",
    "   ",
    "\t",
    " \n ",
    " Anna",
    "Anna ",
    "Anna  Lee",
    "Zoë",
    "Lucía 🎉",
    "ﬁne",
    "Ünïcödé ✓ 東京",
    "\u202eevil",
    "a\x00b",
    "<b>Tom</b> & 'Jerry' \"quoted\"",
    "{{ profile.id }}",
    "\ue000",
    "\ue001",
    marker(0),
    marker(3) + "x",
    "\ue000" + "1x'X",
    "https://atomcast.invalid/unsubscribe-7f3a9c2e51d84b06",
    "Zq7AtomcastUnsubscribeSentinel4Kx9Wm2Pb8",
    "x" * 5_000,
    "é" * 1_500,
    "0",
    "None",
]

GENERATORS = {"demo": demo_profile, "pantry": pantry_profile}


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _text_attributes(root: Path) -> list[str]:
    schema = load_project(root).schema
    return sorted(n for n, a in schema.attributes.items() if a.type == "string" and n != "id")


def _profiles(name: str, root: Path, count: int, seed: int) -> Iterator[dict[str, Any]]:
    """Generated profiles, most with one or two text attributes made awkward."""
    rng = random.Random(seed)
    texts = _text_attributes(root)
    for index in range(count):
        raw = GENERATORS[name](rng, index)
        for attribute in rng.sample(texts, rng.choice([0, 1, 1, 2, 3])):
            value = rng.choice(AWKWARD)
            if value is None:
                raw.pop(attribute, None)
            else:
                raw[attribute] = value
        yield raw


@functools.cache
def _project(root: Path) -> Project:
    return load_project(root)


def _valid(root: Path, raw: dict[str, Any]) -> Profile | None:
    try:
        return validate_profile(_project(root).schema, raw)
    except ProfileError:
        return None  # the schema refuses it (a required locale emptied): not a render case


class Pair:
    """The fast and the plain renderer of one campaign at one instant, and an encoder."""

    def __init__(self, root: Path, campaign: str, at: str, assets: Path) -> None:
        if root == ROOT:
            add_demo_renditions(assets)  # warm: re-encoding the demo's JPEGs tests nothing here
        renderer = Renderer(_project(root), assets_dir=assets)
        # As the batch renders: memoised outputs shared between records (the fastest).
        self.fast: CampaignRenderer = renderer.campaign(campaign, at=at, share_outputs=True)
        self.plain: CampaignRenderer = renderer.campaign(campaign, at=at, memoise=False)
        self.encoder = RecordEncoder()

    def check(self, profile: Profile) -> None:
        fast = self.fast.render(profile)
        expected = _dumps(self.plain.render(profile).to_json())
        assert _dumps(fast.to_json()) == expected, profile.attributes
        # The encoder reuses bytes (shared outputs, symbolic pieces, emails by URL).
        assert self.encoder.encode(fast) == (expected + "\n").encode(), profile.attributes


@pytest.mark.parametrize(
    ("name", "root", "campaign", "instants"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES]
)
def test_fast_paths_match_the_plain_renderer(
    name: str, root: Path, campaign: str, instants: tuple[str, ...], tmp_path: Path
) -> None:
    project = _project(root)
    for number, at in enumerate(instants):
        pair = Pair(root, campaign, at, tmp_path)
        checked = 0
        # Each profile twice, in another order: the second pass meets warm memos.
        raws = list(_profiles(name, root, population(400), seed=number))
        for raw in [*raws, *reversed(raws)]:
            try:
                profile = validate_profile(project.schema, raw)
            except ProfileError:
                continue
            pair.check(profile)
            checked += 1
        assert checked > len(raws) * 3 // 2  # most profiles pass the schema
        # The fast paths did run (or this test would prove nothing).
        assert pair.fast.cache.symbolic.hits > 0


def test_pantry_takes_the_symbolic_path_with_empty_and_missing_values(tmp_path: Path) -> None:
    """Empty, missing and whitespace values fill a hole (rendered in), not the plain path."""
    pair = Pair(PANTRY, "weekly-box", "2026-03-10T12:00:00Z", tmp_path)
    rng = random.Random(5)
    filled = plain = 0
    for index in range(population(600)):
        raw = pantry_profile(rng, index)
        raw["first_name"] = rng.choice(["", " ", "Anna", None])
        if raw["first_name"] is None:
            del raw["first_name"]
        profile = _valid(PANTRY, raw)
        assert profile is not None
        pair.check(profile)
        for output in pair.fast.render(profile).channels.values():
            if output.status == "rendered":
                filled += output.filled is not None
                plain += output.filled is None and output.fields is not None
    assert filled > plain  # email and web are filled; push and SMS finish filled text


def test_every_channel_is_registered_with_typed_fields_in_record_order(tmp_path: Path) -> None:
    project = _project(PANTRY)
    renderer = Renderer(project, assets_dir=tmp_path)
    fast = renderer.campaign("weekly-box", at="2026-03-10T12:00:00Z")
    assert tuple(REGISTRY) == CHANNEL_ORDER == ("email", "push", "sms", "web")
    for persona in project.personas.values():
        record = fast.render(persona.profile)
        for channel, output in record.channels.items():
            if output.status == "rendered":
                assert tuple(output.fields) == REGISTRY[channel].fields.KEYS


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pair]:
    """Shared across examples, so that memos are warm as in a batch."""
    assets = tmp_path_factory.mktemp("assets")
    return {
        "pantry": Pair(PANTRY, "weekly-box", "2026-03-10T12:00:00Z", assets),
        "demo": Pair(ROOT, "summer-sale", "2026-07-15T12:00:00Z", assets),
    }


_TEXT = st.one_of(
    st.sampled_from([x for x in AWKWARD if x is not None]),
    st.text(max_size=40),
    st.text(alphabet=" \t\n\ue000\ue0011x'X&#39;aé", max_size=12),
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first_name=st.one_of(st.none(), _TEXT),
    city=st.one_of(st.none(), _TEXT),
    next_delivery=st.one_of(st.none(), _TEXT),
    seed=st.integers(0, 10_000),
)
def test_any_text_values_render_identically_on_pantry(
    pairs: dict[str, Pair],
    first_name: str | None,
    city: str | None,
    next_delivery: str | None,
    seed: int,
) -> None:
    raw = pantry_profile(random.Random(seed), seed)
    raw["consent"] = dict.fromkeys(CHANNEL_ORDER, True)
    for attribute, value in (
        ("first_name", first_name),
        ("city", city),
        ("next_delivery", next_delivery),
    ):
        if value is None:
            raw.pop(attribute, None)
        else:
            raw[attribute] = value
    profile = _valid(PANTRY, raw)
    if profile is None:
        return
    pairs["pantry"].check(profile)


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first_name=st.one_of(st.none(), _TEXT), city=st.one_of(st.none(), _TEXT))
def test_any_text_values_render_identically_on_the_demo(
    pairs: dict[str, Pair], first_name: str | None, city: str | None
) -> None:
    raw = demo_profile(random.Random(len(first_name or "") + 7), 3)
    raw["consent"] = dict.fromkeys(CHANNEL_ORDER, True)
    for attribute, value in (("first_name", first_name), ("city", city)):
        if value is None:
            raw.pop(attribute, None)
        else:
            raw[attribute] = value
    profile = _valid(ROOT, raw)
    if profile is None:
        return
    pairs["demo"].check(profile)
