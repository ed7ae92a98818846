"""Golden files: the demo project's rendered output for every persona, campaign and channel.

A change in any rendered byte shows up as a diff in review. Refresh on purpose with
``make golden`` (``ATOMCAST_UPDATE_GOLDEN=1``) and read the diff before committing it.

Every email of a campaign carries the same MJML ``<head>`` (about 2.7 kB of CSS): it is
stored once per campaign under ``golden/_shared/`` and each ``email.html`` names it with an
include line, so a change to the head is one diff, not fourteen. The comparison expands the
include first and stays byte-exact on the whole output.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from atomcast.project import load_project
from atomcast.render import Renderer
from tests.conftest import DEMO_AT, ROOT, add_demo_renditions

GOLDEN = Path(__file__).resolve().parent / "golden"
SHARED = GOLDEN / "_shared"
UPDATE = os.environ.get("ATOMCAST_UPDATE_GOLDEN") == "1"
HEAD = re.compile(r"<head>.*?</head>", re.DOTALL)
INCLUDE = re.compile(r"<!-- golden-include: _shared/([\w.-]+) -->")
PROJECT = load_project(ROOT)
CASES = [
    (campaign, persona)
    for campaign in sorted(PROJECT.config.campaigns)
    for persona in sorted(PROJECT.personas)
]


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    return Renderer(PROJECT, assets_dir=add_demo_renditions(tmp_path_factory.mktemp("assets")))


#: shared fragments written by this ``make golden`` run: the first email of a campaign sets
#: its head; one whose head differs keeps it inline rather than overwrite the shared copy
_WRITTEN: dict[str, str] = {}


def _read_shared(name: str) -> str:
    path = SHARED / name
    assert path.exists(), f"{path} is missing: run `make golden` to create it"
    # The file ends with one newline for editors' sake; the fragment itself does not.
    return path.read_text(encoding="utf-8").removesuffix("\n")


def _expand(stored: str) -> str:
    return INCLUDE.sub(lambda m: _read_shared(m.group(1)), stored)


def _share_head(actual: str, name: str) -> str:
    """``actual`` with its ``<head>`` replaced by an include of ``_shared/name`` (written on
    the first use in this run), or unchanged when its head is not the shared one."""
    head = HEAD.search(actual)
    if head is None or INCLUDE.search(actual):
        return actual
    if name not in _WRITTEN:
        SHARED.mkdir(parents=True, exist_ok=True)
        (SHARED / name).write_text(head.group() + "\n", encoding="utf-8")
        _WRITTEN[name] = head.group()
    if _WRITTEN[name] != head.group():
        return actual
    return f"{actual[: head.start()]}<!-- golden-include: _shared/{name} -->{actual[head.end() :]}"


def _compare(path: Path, actual: str, shared_head: str | None = None) -> None:
    if UPDATE:
        stored = _share_head(actual, shared_head) if shared_head else actual
        assert _expand(stored) == actual, f"{path}: the include would not restore the output"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(stored, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run `make golden` to create it"
    expected = _expand(path.read_text(encoding="utf-8"))
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
            shared = f"{campaign}.email-head.html" if channel == "email" else None
            _compare(folder / f"{channel}.html", html + "\n", shared)


def test_no_stale_golden_files() -> None:
    """A golden folder for a persona or campaign that no longer exists is a leftover."""
    expected = {f"{c}/{p}" for c, p in CASES}
    found = {
        f"{folder.parent.name}/{folder.name}" for folder in GOLDEN.glob("*/*") if folder.is_dir()
    }
    assert found <= expected, f"stale golden folders: {sorted(found - expected)}"
    included = {
        name for path in GOLDEN.glob("*/*/*.html") for name in INCLUDE.findall(path.read_text())
    }
    shared = {path.name for path in SHARED.glob("*")}
    assert shared <= included, f"shared golden fragments no file includes: {shared - included}"


def test_expanded_golden_is_the_whole_output() -> None:
    """The include stands for the head exactly: no fragment is missing, none is left over."""
    for path in GOLDEN.glob("*/*/email.html"):
        expanded = _expand(path.read_text(encoding="utf-8"))
        assert expanded.startswith("<!doctype html>")
        assert "golden-include" not in expanded
        assert expanded.count("<head>") == expanded.count("</head>") == 1
