"""``atomcast coverage``: every number equals a brute-force count over the same population."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from atomcast.project import load_project
from atomcast.render import Renderer
from atomcast.review.coverage import campaign_atoms, compute_coverage
from atomcast.review.population import build_population
from atomcast.schema import validate_profile
from atomcast.selection import parse_instant
from tests.batch_fixtures import make_profiles, write_jsonl
from tests.conftest import DEMO_AT, ROOT, population


def atomcast(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atomcast", *args], capture_output=True, text=True, check=False
    )


def brute_force(project_dir: Path, campaign: str, raws: list[dict[str, Any]]) -> dict[str, Any]:
    """Render every profile with the plain renderer and count by hand."""
    project = load_project(project_dir)
    renderer = Renderer(project).campaign(campaign, at=DEMO_AT, memoise=False)
    default = project.config.locales.default
    atoms: dict[str, Counter[str]] = {slot: Counter() for slot in renderer.config.slots}
    empty: Counter[str] = Counter()
    by_locale: dict[str, dict[str, Counter[str]]] = {s: {} for s in renderer.config.slots}
    by_segment: dict[str, dict[str, Counter[str]]] = {s: {} for s in renderer.config.slots}
    channels: dict[str, Counter[tuple[str, str | None]]] = {}
    missing: Counter[str] = Counter()
    mixed = 0
    chosen_anywhere: set[str] = set()
    for raw in raws:
        profile = validate_profile(project.schema, raw)
        for name in project.schema.attributes:
            if profile.attributes.get(name) is None:
                missing[name] += 1
        result = renderer.render(profile).to_json()
        locale = profile.attributes.get("locale") or default
        locales = set()
        for slot, atom_id in result["decisions"].items():
            if atom_id is None:
                empty[slot] += 1
                continue
            chosen_anywhere.add(atom_id)
            locales.add(project.atoms[atom_id].locale)
            atoms[slot][atom_id] += 1
            by_locale[slot].setdefault(locale, Counter())[atom_id] += 1
            for segment in result["segments"]:
                by_segment[slot].setdefault(segment, Counter())[atom_id] += 1
        mixed += len(locales) > 1
        for channel, output in result["channels"].items():
            if channel in renderer.config.channels:
                key = (output["status"], output.get("reason"))
                channels.setdefault(channel, Counter())[key] += 1
                chosen_anywhere.update(a for a in output.get("atoms", {}).values() if a)
    never = {a.id for a in campaign_atoms(project, campaign)} - chosen_anywhere
    return {
        "atoms": atoms,
        "empty": empty,
        "by_locale": by_locale,
        "by_segment": by_segment,
        "channels": channels,
        "missing": missing,
        "mixed": mixed,
        "never": never,
    }


def test_coverage_equals_brute_force_count(tmp_path: Path) -> None:
    records = make_profiles(population(400), seed=11)
    profiles = write_jsonl(tmp_path / "profiles.jsonl", records)
    sample = len(records) * 3 // 4
    project = load_project(ROOT)
    for campaign in ("summer-sale", "cabin-season"):
        members = build_population([project], campaign, profiles=profiles, sample=sample)
        report = compute_coverage(project, campaign, members, parse_instant(DEMO_AT))
        raws = [dict(member.raw) for member in members.members]
        assert report.profiles == len(raws)
        assert sum(m.kind == "record" for m in members.members) == sample
        expected = brute_force(ROOT, campaign, raws)
        data = report.to_json()
        assert data["profiles"] == len(raws)
        for slot, coverage in data["slots"].items():
            assert coverage["atoms"] == dict(expected["atoms"][slot])
            assert coverage["empty"] == expected["empty"][slot]
            assert coverage["by_locale"] == {
                k: dict(v) for k, v in expected["by_locale"][slot].items()
            }
            assert coverage["by_segment"] == {
                k: dict(v) for k, v in expected["by_segment"][slot].items()
            }
        for channel, counts in expected["channels"].items():
            got = data["channels"][channel]
            assert got["rendered"] == counts[("rendered", None)]
            skipped = {r: n for (s, r), n in counts.items() if s == "skipped"}
            errors = {r: n for (s, r), n in counts.items() if s == "error"}
            assert got["skipped"] == skipped
            assert got["error"] == errors
        assert {k: v["missing"] for k, v in data["attributes"].items() if v["missing"]} == dict(
            expected["missing"]
        )
        assert data["mixed_locale"]["profiles"] == expected["mixed"]
        assert {item["atom"] for item in data["never_selected"]} == expected["never"]
        whys = {item["why"] for item in data["never_selected"]}
        assert whys <= {"no profile is eligible", "outranked", "no population profile reaches it"}


def test_fallback_and_empty_are_counted(mini_project: Path) -> None:
    project = load_project(mini_project)
    campaign = next(iter(project.config.campaigns))
    population = build_population([project], campaign)
    report = compute_coverage(project, campaign, population, parse_instant(DEMO_AT))
    selector = Renderer(project).selector
    at = parse_instant(DEMO_AT)
    for slot, coverage in report.slots.items():
        fallback = 0
        for member in population.members:
            selection = selector.select(validate_profile(project.schema, member.raw), campaign, at)
            fallback += bool(selection.slots[slot].fallback_used)
        assert coverage.fallback == fallback


@pytest.mark.slow
def test_coverage_cli_json_text_and_errors(tmp_path: Path) -> None:
    profiles = write_jsonl(tmp_path / "p.jsonl", [*make_profiles(50), "{not json"])
    done = atomcast(
        "coverage", str(ROOT), "-c", "summer-sale", "--at", DEMO_AT, "--json",
        "--profiles", str(profiles),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) >= {
        "campaign", "at", "profiles", "slots", "never_selected", "mixed_locale", "channels",
        "attributes",
    }  # fmt: skip
    assert data["at"] == DEMO_AT
    # Personas, one synthetic profile per segment and arm, the 50 readable records.
    assert data["profiles"] > 50 + len(load_project(ROOT).personas)
    text = atomcast("coverage", str(ROOT), "-c", "summer-sale", "--at", DEMO_AT)
    assert text.returncode == 0, text.stderr
    assert "slot headline" in text.stdout
    assert "channels" in text.stdout
    unknown = atomcast("coverage", str(ROOT), "-c", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: unknown campaign 'nope'")
    bad_at = atomcast("coverage", str(ROOT), "-c", "summer-sale", "--at", "soon")
    assert bad_at.returncode == 2
    assert "error:" in bad_at.stderr
