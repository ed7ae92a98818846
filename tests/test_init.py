"""``atomcast init``: the starter project passes check, renders every persona everywhere,
and a second init never overwrites anything. Real folders; ``init`` in a real subprocess,
the other commands through click in this process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atomcast.errors import InitError
from atomcast.models import CHANNELS
from atomcast.preview.export import export_site
from atomcast.project import load_project
from atomcast.render import Renderer
from atomcast.starter import init_project
from tests.conftest import run_cli

from .test_cli import atomcast


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("init") / "coffee"
    result = atomcast("init", str(target))
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    return target


def test_init_then_check_exits_zero(starter: Path) -> None:
    result = run_cli("check", str(starter))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s), 0 warning(s)" in result.stderr


def test_starter_is_what_the_issue_asks_for(starter: Path) -> None:
    project = load_project(starter)
    config = project.config
    assert len(config.locales.fallbacks) + 1 >= 2
    assert len(config.segments) == 2
    (campaign,) = config.campaigns.values()
    assert set(campaign.channels) == set(CHANNELS)
    assert campaign.experiments
    assert 12 <= len(project.atoms) <= 20
    assert len(project.personas) == 3
    # The image was drawn at init time, and the editor schema written beside the config.
    assert (starter / "content_atoms/images/hero-spring.png").stat().st_size > 1000
    assert (starter / "brand/logo.png").is_file()
    schema = json.loads((starter / "atomcast.schema.json").read_text(encoding="utf-8"))
    assert set(schema["properties"]) == {
        "brand",
        "locales",
        "profile",
        "segments",
        "campaigns",
        "assets",
        "metrics",
        "limits",
    }
    first = (starter / "atomcast.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./atomcast.schema.json"


def test_every_persona_renders_on_every_channel(starter: Path, tmp_path: Path) -> None:
    project = load_project(starter)
    renderer = Renderer(project, assets_dir=tmp_path / "assets")
    campaign = renderer.campaign("spring-launch")
    for persona in project.personas.values():
        result = campaign.render(persona.profile)
        for channel, output in result.channels.items():
            data = output.to_json()
            assert data["status"] in ("rendered", "skipped"), (persona.name, channel, data)
            if data["status"] == "skipped":
                assert data["reason"].startswith("no consent"), data
            assert not data.get("warnings"), (persona.name, channel, data["warnings"])
    rendered = {
        (p.name, ch)
        for p in project.personas.values()
        for ch, out in campaign.render(p.profile).channels.items()
        if out.to_json()["status"] == "rendered"
    }
    assert {ch for _, ch in rendered} == set(CHANNELS)


@pytest.mark.slow
def test_render_command_works_for_each_persona(starter: Path) -> None:
    for persona in ("vip-ana", "cart-leo", "new-mia"):
        result = atomcast("render", str(starter), "-c", "spring-launch", "-p", persona)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["channels"]["email"]["status"] == "rendered"
        html = data["channels"]["email"]["html"]
        # A system font stack: MJML adds no web-font link, so the email fetches no font.
        assert "fonts.googleapis" not in html
        assert "prefers-color-scheme: dark" in html


def test_preview_export_of_the_starter(starter: Path, tmp_path: Path) -> None:
    result = export_site(starter, tmp_path / "site")
    # Personas, then a synthetic row per segment and per experiment arm; four channels each.
    assert result.cells % 4 == 0
    assert result.cells >= (3 + 2 + 2) * 4


def test_second_init_refuses_and_changes_nothing(starter: Path) -> None:
    config = starter / "atomcast.yaml"
    before = config.read_bytes()
    result = run_cli("init", str(starter))
    assert result.returncode == 1
    assert "would overwrite" in result.stderr
    assert "atomcast.yaml" in result.stderr
    assert "Traceback" not in result.stderr
    assert config.read_bytes() == before


def test_init_into_a_folder_with_one_clashing_file_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "layouts/sms").mkdir(parents=True)
    (tmp_path / "layouts/sms/launch.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("unrelated", encoding="utf-8")
    with pytest.raises(InitError, match=r"layouts/sms/launch\.txt"):
        init_project(tmp_path)
    assert not (tmp_path / "atomcast.yaml").exists()
    assert (tmp_path / "layouts/sms/launch.txt").read_text(encoding="utf-8") == "mine"


def test_init_into_an_unrelated_folder_keeps_its_files(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("hello", encoding="utf-8")
    result = init_project(tmp_path)
    assert "atomcast.yaml" in result.files
    assert (tmp_path / "README.txt").read_text(encoding="utf-8") == "hello"
