"""A channel renders only the slots its templates read (``ChannelRender.slots_read``): an
SMS that prints the offer and the link is neither keyed on, nor failed by, the headline.
The analysis itself: ``test_keys_read.py``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from atomcast.project import load_project
from atomcast.render import CampaignRenderer, Renderer
from atomcast.schema import validate_profile
from tests.conftest import add_demo_renditions

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
