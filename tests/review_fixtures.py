"""Shared by the change-review tests: git repositories made in the test, and the brute-force
diff (render every member at both sides with the plain renderer, compare by hand)."""

from __future__ import annotations

import random
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atomcast.channels.registry import CHANNEL_ORDER
from atomcast.errors import ProfileError
from atomcast.project import Project, collect_problems
from atomcast.render import Renderer
from atomcast.review.diff import DiffReport
from atomcast.review.population import Member, Population, build_population
from atomcast.schema import validate_profile
from atomcast.selection import parse_instant

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=GIT_ENV
    )
    return done.stdout.strip()


def init_repo(repo: Path) -> None:
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "base")


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def snapshot(source: Path, target: Path) -> Path:
    """A copy of the project's files (what the brute force renders as one side)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".git", ".atomcast-cache"))
    return target


def mini_records(count: int, seed: int) -> Population:
    """Profiles of the mini schema, repeating first names so that grouping is exercised."""
    rng = random.Random(seed)
    members = []
    for index in range(count):
        raw: dict[str, Any] = {"id": f"r-{index:04d}"}
        if rng.random() < 0.8:
            raw["first_name"] = rng.choice(["Ana", "Bo", "Chloé", "Dev"])
        raw["locale"] = rng.choice(["en-US", "fr-CA", "fr", "de"])
        raw["lifetime_value"] = rng.choice([0, 500, 1000, 6000])
        raw["cart_total"] = rng.choice([0, 0, 40])
        raw["consent"] = {ch: rng.random() < 0.7 for ch in CHANNEL_ORDER}
        members.append(Member(f"record:{index + 1}", "record", str(index + 1), raw))
    return Population(tuple(members))


@dataclass
class Expected:
    decisions_changed: int = 0
    transitions: Counter[tuple[str, str | None, str | None]] = field(default_factory=Counter)
    output_changed: Counter[str] = field(default_factory=Counter)
    status_changed: Counter[str] = field(default_factory=Counter)
    personas: dict[str, tuple[dict[str, list[str | None]], list[str]]] = field(default_factory=dict)


def _render_all(
    project: Project, campaign: str, at: str, members: tuple[Member, ...]
) -> list[dict[str, Any] | str]:
    renderer = Renderer(project).campaign(campaign, at=at, memoise=False)
    found: list[dict[str, Any] | str] = []
    for member in members:
        try:
            profile = validate_profile(project.schema, member.raw)
        except ProfileError as exc:
            found.append(f"profile does not fit the schema: {exc}")
            continue
        found.append(renderer.render(profile).to_json())
    return found


def brute_force(
    base_root: Path, head_root: Path, campaign: str, at: str, records: Population | None = None
) -> tuple[Expected, int]:
    """Render every member at both sides and compare (decisions and every channel)."""
    base, _ = collect_problems(base_root)
    head, _ = collect_problems(head_root)
    assert base is not None
    assert head is not None
    population = build_population([head, base], campaign, records=records)
    before = _render_all(base, campaign, at, population.members)
    after = _render_all(head, campaign, at, population.members)
    expected = Expected()
    for member, old, new in zip(population.members, before, after, strict=True):
        old_decisions = old["decisions"] if isinstance(old, dict) else {}
        new_decisions = new["decisions"] if isinstance(new, dict) else {}
        slots: dict[str, list[str | None]] = {}
        for slot in dict.fromkeys([*old_decisions, *new_decisions]):
            pair = (old_decisions.get(slot), new_decisions.get(slot))
            if pair[0] != pair[1]:
                slots[slot] = list(pair)
                expected.transitions[(slot, *pair)] += 1
        expected.decisions_changed += bool(slots)
        channels = []
        for channel in CHANNEL_ORDER:
            old_out = _channel(old, channel)
            new_out = _channel(new, channel)
            if old_out != new_out:
                channels.append(channel)
                expected.output_changed[channel] += 1
                expected.status_changed[channel] += old_out["status"] != new_out["status"]
        if member.persona is not None and (slots or channels):
            expected.personas[member.persona] = (slots, channels)
    return expected, len(population)


def _channel(result: dict[str, Any] | str, channel: str) -> dict[str, Any]:
    if isinstance(result, str):
        return {"status": "error", "reason": result, "warnings": []}
    output: dict[str, Any] = result["channels"][channel]
    return output


def assert_matches(report: DiffReport, campaign: str, expected: Expected, profiles: int) -> None:
    """The diff says exactly what the brute force found, and nothing else."""
    found = report.campaigns[campaign]
    assert found.profiles == profiles
    assert found.decisions_changed == expected.decisions_changed
    transitions = Counter(
        {
            (slot, t.before, t.after): t.profiles
            for slot, change in found.slots.items()
            for t in change.transitions
        }
    )
    assert transitions == expected.transitions
    for channel in CHANNEL_ORDER:
        change = found.channels.get(channel)
        assert (change.output_changed if change else 0) == expected.output_changed[channel], channel
        assert (change.status_changed if change else 0) == expected.status_changed[channel], channel
    personas = {
        p.member.persona: ({s: list(pair) for s, pair in p.slots.items()}, list(p.channels))
        for p in found.personas
    }
    assert personas == expected.personas
    changed = expected.decisions_changed > 0 or sum(expected.output_changed.values()) > 0
    assert found.status == ("changed" if changed else "unchanged")


def instant(at: str) -> Any:
    return parse_instant(at)
