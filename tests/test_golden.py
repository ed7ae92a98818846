"""Golden files: the demo project's rendered output for every persona, campaign and channel.

A change in any rendered byte shows up as a diff in review. Refresh on purpose with
``make golden`` (``ATOMCAST_UPDATE_GOLDEN=1``) and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from atomcast.project import load_project
from atomcast.render import Renderer
from tests.conftest import DEMO_AT, ROOT

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("ATOMCAST_UPDATE_GOLDEN") == "1"
PROJECT = load_project(ROOT)
CASES = [
    (campaign, persona)
    for campaign in sorted(PROJECT.config.campaigns)
    for persona in sorted(PROJECT.personas)
]


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    return Renderer(PROJECT, assets_dir=tmp_path_factory.mktemp("assets"))


def _compare(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run `make golden` to create it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path} differs: run `make golden` if the change is intended"


@pytest.mark.parametrize(("campaign", "persona"), CASES, ids=[f"{c}/{p}" for c, p in CASES])
def test_golden(renderer: Renderer, campaign: str, persona: str) -> None:
    result = renderer.campaign(campaign, at=DEMO_AT).render(PROJECT.personas[persona].profile)
    record = result.to_json()
    folder = GOLDEN / campaign / persona
    channels = record.pop("channels")
    _compare(folder / "record.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    for channel, output in channels.items():
        html = output.pop("html", None) if channel in ("email", "web") else None
        _compare(
            folder / f"{channel}.json", json.dumps(output, indent=2, ensure_ascii=False) + "\n"
        )
        if html is not None:
            _compare(folder / f"{channel}.html", html + "\n")


def test_no_stale_golden_files() -> None:
    """A golden folder for a persona or campaign that no longer exists is a leftover."""
    expected = {f"{c}/{p}" for c, p in CASES}
    found = {
        f"{folder.parent.name}/{folder.name}" for folder in GOLDEN.glob("*/*") if folder.is_dir()
    }
    assert found <= expected, f"stale golden folders: {sorted(found - expected)}"
