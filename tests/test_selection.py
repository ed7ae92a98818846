"""Selection rules of SPEC section 3 on the small fixture project."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from atomcast.explain import explain
from atomcast.project import Project, load_project
from atomcast.schema import validate_profile
from atomcast.selection import HOLDOUT, Selector, parse_instant, unit_hash
from tests.conftest import MINI

SUMMER = parse_instant("2026-07-15T12:00:00Z")
WINTER = parse_instant("2026-01-15")
ALL_CONSENT = {"email": True, "push": True, "sms": True, "web": True}


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(MINI)


def profile(project: Project, **attributes: object):  # type: ignore[no-untyped-def]
    raw = {"id": "p-1", "consent": ALL_CONSENT, **attributes}
    return validate_profile(project.schema, raw)


def test_segments_are_sorted_and_build_on_each_other(project: Project) -> None:
    selector = Selector(project)
    selection = selector.select(profile(project, lifetime_value=6000, cart_total=5), "sale", WINTER)
    assert selection.segments == ("big_vip", "cart_abandoner", "vip")


def test_highest_priority_wins(project: Project) -> None:
    selection = Selector(project).select(profile(project, lifetime_value=2000), "sale", WINTER)
    assert selection.decisions["headline"] == "headline-vip"


def test_date_window_follows_at(project: Project) -> None:
    selector = Selector(project)
    p = profile(project)
    assert selector.select(p, "sale", SUMMER).decisions["offer"] == "offer-summer"
    assert selector.select(p, "sale", WINTER).decisions["offer"] != "offer-summer"
    # Windows are inclusive whole UTC days.
    assert (
        selector.select(p, "sale", parse_instant("2026-08-31T23:59:59Z")).decisions["offer"]
        == "offer-summer"
    )
    assert (
        selector.select(p, "sale", parse_instant("2026-09-01T00:00:00Z")).decisions["offer"]
        != "offer-summer"
    )


def test_locale_fallback_uses_most_specific_locale_with_a_candidate(project: Project) -> None:
    selector = Selector(project)
    french = selector.select(profile(project, locale="fr-CA"), "sale", WINTER)
    # No fr-CA headline exists, so fr is used even though en-US has higher priorities.
    assert french.slots["headline"].locale == "fr"
    assert french.decisions["headline"] == "headline-fr"
    # Offers exist only in en-US: the chain ends at the default locale.
    assert french.slots["offer"].locale == "en-US"


def test_weighted_choice_is_deterministic_and_weighted(project: Project) -> None:
    selector = Selector(project)
    picks = Counter()
    for index in range(4000):
        p = validate_profile(project.schema, {"id": f"p-{index}", "consent": ALL_CONSENT})
        first = selector.select(p, "sale", WINTER).decisions["offer"]
        again = selector.select(p, "sale", WINTER).decisions["offer"]
        assert first == again
        picks[first] += 1
    # offer-10 has weight 3 and offer-15 weight 1: expect roughly 75% / 25%.
    share = picks["offer-10"] / (picks["offer-10"] + picks["offer-15"])
    assert 0.70 < share < 0.80, picks


def test_decisions_are_the_same_in_another_process(project: Project) -> None:
    """Same inputs, same output in any process: no salted hash() anywhere."""
    code = (
        "from atomcast.project import load_project\n"
        "from atomcast.schema import validate_profile\n"
        "from atomcast.selection import Selector, parse_instant\n"
        f"p = load_project({str(MINI)!r})\n"
        "s = Selector(p)\n"
        "for i in range(50):\n"
        "    prof = validate_profile(p.schema, {'id': f'p-{i}', 'consent': {'email': True}})\n"
        "    sel = s.select(prof, 'sale', parse_instant('2026-01-15'))\n"
        "    print(sel.decisions, dict(sel.experiments))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


def test_experiment_arms_and_holdout(project: Project) -> None:
    selector = Selector(project)
    arms = Counter()
    for index in range(3000):
        p = validate_profile(project.schema, {"id": f"x-{index}", "consent": ALL_CONSENT})
        selection = selector.select(p, "sale", WINTER)
        arm = selection.experiments["headline-test"]
        arms[arm] += 1
        headline = selection.decisions["headline"]
        if arm == HOLDOUT:
            assert headline == "headline-generic"
        else:
            assert headline == f"headline-{arm}"
    assert 0.07 < arms[HOLDOUT] / 3000 < 0.13
    assert abs(arms["a"] - arms["b"]) < 250


def test_same_atom_in_every_channel_and_next_candidate_for_the_rest(project: Project) -> None:
    selector = Selector(project)
    # cart_total > 50 makes offer-20 eligible; it serves only email and web.
    selection = selector.select(profile(project, cart_total=80), "sale", WINTER)
    offer = selection.slots["offer"]
    assert offer.chosen is not None
    assert offer.by_channel["email"] == offer.chosen
    for channel in ("email", "web", "push", "sms"):
        atom = offer.by_channel[channel]
        assert atom is not None
        assert channel in atom.channels
    if offer.chosen.id == "offer-20":
        assert offer.by_channel["sms"] is not None
        assert offer.by_channel["sms"].id != "offer-20"


def test_consent_skips_channels_unless_transactional(project: Project) -> None:
    selector = Selector(project)
    p = validate_profile(project.schema, {"id": "p-no", "consent": {"email": True}})
    marketing = selector.select(p, "sale", WINTER)
    assert marketing.channels["email"].state == "ready"
    assert marketing.channels["sms"].state == "skipped"
    assert "no consent" in (marketing.channels["sms"].reason or "")
    transactional = selector.select(p, "transactional-notice", WINTER)
    assert transactional.channels["sms"].state == "ready"


def test_required_slot_without_candidate_skips_channel(mini_project: Path) -> None:
    (mini_project / "content_atoms" / "cta-shop.md").unlink()
    project = load_project(mini_project)
    selection = Selector(project).select(
        validate_profile(project.schema, {"id": "p", "consent": ALL_CONSENT}), "sale", WINTER
    )
    assert selection.channels["email"].state == "skipped"
    assert selection.channels["email"].reason == "no eligible atom for required slot 'cta'"


def test_fallback_fills_required_slot(mini_project: Path) -> None:
    for name in ("offer-10", "offer-15", "offer-20", "offer-summer"):
        (mini_project / "content_atoms" / f"{name}.md").unlink()
    project = load_project(mini_project)
    p = validate_profile(project.schema, {"id": "p", "consent": ALL_CONSENT})
    # offer-default is also an ordinary candidate, so make it ineligible to see the fallback.
    atom_file = mini_project / "content_atoms" / "offer-default.md"
    atom_file.write_text(
        atom_file.read_text().replace("kind: offer", "kind: offer\nsegments: [vip]")
    )
    project = load_project(mini_project)
    selection = Selector(project).select(p, "sale", WINTER)
    assert selection.decisions["offer"] == "offer-default"
    assert selection.slots["offer"].fallback_used == frozenset({"email", "push", "sms", "web"})


def test_unit_hash_is_stable() -> None:
    # A change here changes every profile's atoms in production: treat as a breaking change.
    assert unit_hash("p-001", "summer-sale", "headline") == pytest.approx(
        unit_hash("p-001", "summer-sale", "headline")
    )
    assert 0 <= unit_hash("a") < 1


def test_explain_agrees_with_selection(project: Project) -> None:
    selector = Selector(project)
    for index in range(200):
        raw = {
            "id": f"e-{index}",
            "locale": ["en-US", "fr-CA", "fr", "de"][index % 4],
            "lifetime_value": index * 37 % 3000,
            "cart_total": index % 120,
            "consent": ALL_CONSENT,
        }
        p = validate_profile(project.schema, raw)
        for at in (SUMMER, WINTER):
            selection = selector.select(p, "sale", at)
            explanation = explain(project, p, "sale", at, selector)
            for slot in explanation.slots:
                chosen = [c.atom for c in slot.candidates if c.outcome == "chosen"]
                decided = selection.decisions[slot.slot]
                ranked = selection.slots[slot.slot].ranked
                assert chosen == ([decided] if ranked else [])
                eligible = {
                    c.atom for c in slot.candidates if c.eligible and c.locale == slot.locale_used
                }
                assert {a.id for a in ranked} == eligible


def test_explain_names_the_failing_clause_and_value(project: Project) -> None:
    p = profile(project, cart_total=20)
    explanation = explain(project, p, "sale", WINTER)
    offer = next(s for s in explanation.slots if s.slot == "offer")
    candidate = next(c for c in offer.candidates if c.atom == "offer-20")
    when = next(check for check in candidate.checks if check.name == "when")
    assert not when.passed
    leaf = when.clauses[0]
    assert (leaf.path, leaf.operator, leaf.expected, leaf.actual) == ("cart_total", "$gt", 50, 20)
