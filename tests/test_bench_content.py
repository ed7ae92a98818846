"""The benchmark's second content project and its instruments stay valid.

``benchmarks/content/pantry`` is only used by ``benchmarks/batch.py``; these tests keep it
from rotting (it must pass ``atomcast check`` and render every persona), keep the seeded
profile generators inside their schemas, and keep the naive pipeline doing the same work as
``atomcast batch`` (same decisions, statuses and texts), so that the comparison stays fair.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from atomcast.project import load_project
from atomcast.render import Renderer
from atomcast.schema import validate_profile
from tests.conftest import ROOT, copy_project

sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_profiles import (
    demo_profile,
    generator_for,
    pantry_profile,
    schema_generator,
    write_profiles,
)

PANTRY = ROOT / "benchmarks" / "content" / "pantry"
PANTRY_AT = "2026-03-10T12:00:00Z"
ATOMCAST = Path(sys.executable).with_name("atomcast")


def test_pantry_passes_check() -> None:
    result = subprocess.run(
        [str(ATOMCAST), "check", str(PANTRY)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s), 0 warning(s)" in result.stderr


def test_pantry_personas_render_every_channel_the_same_with_and_without_memo() -> None:
    project = load_project(PANTRY)
    renderer = Renderer(project)
    fast = renderer.campaign("weekly-box", at=PANTRY_AT)
    plain = renderer.campaign("weekly-box", at=PANTRY_AT, memoise=False)
    assert set(project.personas) == {"en-anna", "de-jonas", "mx-lucia", "at-empty"}
    for name, persona in sorted(project.personas.items()):
        record = fast.render(persona.profile).to_json()
        assert record == plain.render(persona.profile).to_json(), name
        statuses = {channel: out["status"] for channel, out in record["channels"].items()}
        assert "error" not in statuses.values(), (name, record)


def test_pantry_locales_fall_back_through_the_base_language() -> None:
    project = load_project(PANTRY)
    campaign = Renderer(project).campaign("weekly-box", at=PANTRY_AT)
    jonas = campaign.render(project.personas["de-jonas"].profile).to_json()
    assert jonas["decisions"]["headline"] == "headline-lapsed-de"
    assert jonas["decisions"]["offer"] == "offer-winback-de"
    assert jonas["decisions"]["body"] == "body-menu"  # no German body: en-GB
    lucia = campaign.render(project.personas["mx-lucia"].profile).to_json()
    assert lucia["decisions"]["headline"] == "headline-menu-es"
    assert lucia["channels"]["web"]["html"].count("Lucía") == 1


def test_optional_attributes_print_nothing_when_empty() -> None:
    project = load_project(PANTRY)
    campaign = Renderer(project).campaign("weekly-box", at=PANTRY_AT)
    record = campaign.render(project.personas["at-empty"].profile).to_json()
    sms = record["channels"]["sms"]
    assert sms["status"] == "rendered"
    assert sms["text"].startswith("Larder & Co: Lieferung gratis.")


@pytest.mark.parametrize(
    ("name", "folder"), [("demo", ROOT), ("pantry", PANTRY), ("schema-only", PANTRY)]
)
def test_generated_profiles_are_valid_for_their_schema(name: str, folder: Path) -> None:
    schema = load_project(folder).schema
    generate = schema_generator(schema) if name == "schema-only" else generator_for(name, schema)
    rng = random.Random(3)
    for index in range(400):
        raw = generate(rng, index)
        profile = validate_profile(schema, raw)
        assert set(profile.attributes) == set(raw)


def test_generators_are_seeded() -> None:
    first = [pantry_profile(random.Random(9), i) for i in range(5)]
    again = [pantry_profile(random.Random(9), i) for i in range(5)]
    assert first == again
    assert demo_profile(random.Random(1), 0) == demo_profile(random.Random(1), 0)


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "campaign", "at"),
    [("pantry", "weekly-box", PANTRY_AT), ("demo", "summer-sale", "2026-07-15T12:00:00Z")],
)
def test_naive_pipeline_does_the_same_work_as_atomcast_batch(
    tmp_path: Path, name: str, campaign: str, at: str
) -> None:
    folder = copy_project(PANTRY if name == "pantry" else ROOT, tmp_path / name)
    profiles = tmp_path / "profiles.jsonl"
    write_profiles(profiles, generator_for(name, load_project(folder).schema), 40, seed=5)
    out = tmp_path / "out"
    options = ["-c", campaign, "-p", str(profiles), "--at", at, "-w", "1"]
    subprocess.run(
        [str(ATOMCAST), "batch", str(folder), *options, "-o", str(out), "--progress", "none"],
        check=True,
        capture_output=True,
    )
    naive_out = tmp_path / "naive.jsonl"
    script = str(ROOT / "benchmarks" / "naive_pipeline.py")
    naive = subprocess.run(
        [sys.executable, script, str(folder), *options, "-o", str(naive_out)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert json.loads(naive.stdout) == {"rendered": 40, "rejected": 0}
    mine, theirs = _lines(out / "rendered.jsonl"), _lines(naive_out)
    assert [r["profile_id"] for r in mine] == [r["profile_id"] for r in theirs]
    for ours, naive_record in zip(mine, theirs, strict=True):
        for key in ("segments", "experiments", "decisions"):
            assert ours[key] == naive_record[key]
        channels = ours["channels"]
        other = naive_record["channels"]
        assert isinstance(channels, dict)
        assert isinstance(other, dict)
        assert {k: v["status"] for k, v in channels.items()} == {
            k: v["status"] for k, v in other.items()
        }
        for channel, field in (("email", "subject"), ("email", "text"), ("sms", "text")):
            if channels[channel]["status"] == "rendered":
                assert channels[channel][field] == other[channel][field], (channel, field)
        if channels["email"]["status"] == "rendered":
            # Same MJML output give or take the preview text atomcast inserts.
            size, naive_size = len(channels["email"]["html"]), len(other["email"]["html"])
            assert abs(size - naive_size) < 0.1 * size


@pytest.mark.slow
def test_batch_benchmark_runs_end_to_end_and_summarises_in_json(tmp_path: Path) -> None:
    options = ["--profiles", "60", "--startup-runs", "1", "--json", "--tmp", str(tmp_path)]
    options += ["--rounds", "2"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "batch.py"), "--project", "pantry", *options],
        check=True,
        capture_output=True,
        text=True,
    )
    summary = json.loads(result.stdout)
    assert summary["profiles"] == 60
    assert summary["atomcast"]["bytes"] > 0
    assert summary["naive"]["bytes"] > 0
    assert summary["floor"]["bytes"] == summary["atomcast"]["bytes"]
    assert set(summary["ratios"]) == {
        "naive_over_atomcast_wall",
        "naive_over_atomcast_cpu",
        "atomcast_over_floor_wall",
        "median_round_naive_over_atomcast_wall",
        "median_round_naive_over_atomcast_cpu",
    }
    # Each side's best round: no ratio from a run better than any measured.
    rounds = summary["rounds"]
    assert len(rounds) == 2
    assert summary["atomcast"]["cpu_s"] == min(r["atomcast_cpu_s"] for r in rounds)
    assert summary["naive"]["cpu_s"] == min(r["naive_cpu_s"] for r in rounds)
    assert "batch_10_cpu_s" in summary["startup"]
    assert list(tmp_path.iterdir()) == []  # generated files removed
