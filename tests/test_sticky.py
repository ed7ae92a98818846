"""Sticky rendering (SPEC 9): a stored decision's arms and atoms are kept where they still
exist, under the channel rules of SPEC 3; ``sticky`` reports whether all were kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from atomcast.project import Project, load_project
from atomcast.render import CampaignRenderer, Renderer
from atomcast.schema import Profile, validate_profile
from atomcast.store import StoredDecision
from tests.conftest import DEMO_AT, ROOT

CAMPAIGN = "summer-sale"
MARGARET = ROOT / "previews" / "profiles" / "vip-margaret.yaml"


@pytest.fixture(scope="module")
def demo() -> Project:
    return load_project(ROOT)


def campaign(project: Project) -> CampaignRenderer:
    return Renderer(project).campaign(CAMPAIGN, at=DEMO_AT)


def persona(project: Project, path: Path = MARGARET, **changes: Any) -> Profile:
    raw = yaml.safe_load(path.read_text("utf-8"))
    raw.update(changes)
    return validate_profile(project.schema, raw)


def stored(result_json: dict[str, Any], **changes: Any) -> StoredDecision:
    fields: dict[str, Any] = {
        "campaign": result_json["campaign"],
        "profile_id": result_json["profile_id"],
        "at": dt.datetime(2026, 7, 1, tzinfo=dt.UTC),
        "content": "earlier",
        "segments": tuple(result_json["segments"]),
        "experiments": result_json["experiments"],
        "decisions": result_json["decisions"],
    }
    fields.update(changes)
    return StoredDecision(**fields)


def test_without_a_pin_the_record_has_no_sticky_key(demo: Project) -> None:
    record = campaign(demo).render(persona(demo)).to_json()
    assert "sticky" not in record


def test_a_pin_equal_to_the_fresh_decision_renders_the_same_bytes(demo: Project) -> None:
    renderer = campaign(demo)
    fresh = renderer.render(persona(demo)).to_json()
    pinned = renderer.render(persona(demo), pinned=stored(fresh)).to_json()
    assert pinned.pop("sticky") is True
    assert pinned == fresh


def test_every_channel_takes_the_stored_atom_it_can_serve(demo: Project) -> None:
    renderer = campaign(demo)
    profile = persona(demo)
    fresh = renderer.render(profile).to_json()
    assert fresh["decisions"]["offer"] != "offer-20"
    assert fresh["decisions"]["cta"] != "cta-trail-guide"
    decisions = {**fresh["decisions"], "offer": "offer-20", "cta": "cta-trail-guide"}
    pin = stored(fresh, decisions=decisions)
    selection = renderer.select(profile, pinned=pin)
    assert selection.sticky is True
    assert selection.decisions["offer"] == "offer-20"
    assert selection.decisions["cta"] == "cta-trail-guide"
    for channel in ("email", "push", "sms", "web"):
        atoms = selection.atoms_for(channel)  # type: ignore[arg-type]
        offer = atoms["offer"]
        cta = atoms["cta"]
        assert offer is not None
        assert offer.id == "offer-20"
        assert cta is not None
        # cta-trail-guide serves email and web only: push and SMS take the next candidate.
        if channel in ("email", "web"):
            assert cta.id == "cta-trail-guide"
        else:
            assert cta.id == fresh["decisions"]["cta"]
    record = renderer.render(profile, pinned=pin).to_json()
    assert record["sticky"] is True
    assert record["decisions"] == decisions
    assert "SUMMER20" in record["channels"]["email"]["html"]
    assert record["channels"]["push"]["atoms"]["cta"] == fresh["decisions"]["cta"]


def test_stored_arms_are_kept_and_unknown_ones_are_not(demo: Project) -> None:
    renderer = campaign(demo)
    profile = persona(demo)
    fresh = renderer.render(profile).to_json()
    other = "b" if fresh["experiments"]["headline-test"] == "a" else "a"
    kept = renderer.render(profile, pinned=stored(fresh, experiments={"headline-test": other}))
    assert kept.experiments == {"headline-test": other}
    assert kept.sticky is True
    gone = renderer.render(profile, pinned=stored(fresh, experiments={"headline-test": "zz"}))
    assert gone.experiments == fresh["experiments"]
    assert gone.sticky is False
    # An experiment the stored decision did not know is assigned as usual.
    new = renderer.render(profile, pinned=stored(fresh, experiments={}))
    assert new.experiments == fresh["experiments"]
    assert new.sticky is True


def test_slots_stored_empty_or_added_since_are_decided_now(demo: Project) -> None:
    renderer = campaign(demo)
    profile = persona(demo)
    fresh = renderer.render(profile).to_json()
    partial = {"offer": "offer-20", "hero": None, "retired-slot": "offer-20"}
    result = renderer.render(profile, pinned=stored(fresh, decisions=partial))
    assert result.sticky is True
    assert result.decisions == {**fresh["decisions"], "offer": "offer-20"}


def test_a_stored_atom_that_no_longer_exists_is_decided_afresh(
    demo_project: Path,
) -> None:
    before = load_project(demo_project)
    fresh = campaign(before).render(persona(before)).to_json()
    decisions = {**fresh["decisions"], "offer": "offer-20"}
    pin = stored(fresh, decisions=decisions)
    (demo_project / "content_atoms" / "summer-sale" / "offers" / "offer-20.md").unlink()
    after = load_project(demo_project)
    result = campaign(after).render(persona(after), pinned=pin).to_json()
    assert result["sticky"] is False
    # The slot is decided as if nothing were stored; the other stored slots are kept.
    assert result["decisions"] == fresh["decisions"]
    assert all(out["status"] == "rendered" for out in result["channels"].values())


def test_consent_and_channel_rules_still_apply_to_a_pin(demo: Project) -> None:
    renderer = campaign(demo)
    profile = persona(demo, consent={"email": True, "sms": False, "push": True, "web": True})
    fresh = renderer.render(profile).to_json()
    record = renderer.render(profile, pinned=stored(fresh)).to_json()
    assert record["channels"]["sms"]["status"] == "skipped"
    assert "consent" in record["channels"]["sms"]["reason"]
    assert record["sticky"] is True


def test_pinned_raw_profiles_render_too(demo: Project) -> None:
    renderer = campaign(demo)
    raw = yaml.safe_load(MARGARET.read_text("utf-8"))
    fresh = renderer.render_raw(raw).to_json()
    again = renderer.render_raw(raw, pinned=stored(fresh))
    assert again.sticky is True
    assert again.decisions == fresh["decisions"]
