"""The command line as people run it, on the demo and fixture projects: real subprocesses
for the entry point and the exit status, the rest through click in this process (run_cli)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_AT, MINI, ROOT, run_cli


def atomcast(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atomcast", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


def test_explain_text_names_winner_and_failing_clause() -> None:
    result = atomcast(
        "explain",
        str(ROOT),
        "-c",
        "summer-sale",
        "-p",
        str(ROOT / "previews/profiles/fr-ca-julien-cart.yaml"),
        "--at",
        DEMO_AT,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "slot headline" in out
    assert "locale chain fr-CA > fr > en-US" in out
    assert "chosen" in out
    assert "needs any of vip; profile is in" in out
    assert "web: skipped (no consent: consent.web is not true)" in out


def test_explain_json_agrees_with_render() -> None:
    persona = str(ROOT / "previews/profiles/vip-margaret.yaml")
    explained = json.loads(
        run_cli(
            "explain", str(ROOT), "-c", "summer-sale", "-p", persona, "--at", DEMO_AT, "--json"
        ).stdout
    )
    rendered = json.loads(
        run_cli("render", str(ROOT), "-c", "summer-sale", "-p", persona, "--at", DEMO_AT).stdout
    )
    assert {s["slot"]: s["chosen"] for s in explained["slots"]} == rendered["decisions"]
    assert explained["experiments"] == rendered["experiments"]
    for slot in explained["slots"]:
        for candidate in slot["candidates"]:
            assert {"atom", "path", "eligible", "outcome", "checks"} <= set(candidate)


def test_render_accepts_a_persona_name_and_json_profiles(tmp_path: Path) -> None:
    by_name = run_cli(
        "render", str(ROOT), "-c", "summer-sale", "-p", "vip-margaret", "--at", DEMO_AT
    )
    assert by_name.returncode == 0, by_name.stderr
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"id": "j-1", "consent": {"sms": True}}))
    as_json = run_cli(
        "render", str(MINI), "-c", "sale", "-p", str(profile), "--channel", "sms", "--at", DEMO_AT
    )
    record = json.loads(as_json.stdout)
    assert list(record["channels"]) == ["sms"]
    assert record["channels"]["sms"]["status"] == "rendered"


@pytest.mark.slow
def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    unknown = atomcast("render", str(MINI), "-c", "nope", "-p", "vip")
    assert unknown.returncode == 1
    assert "unknown campaign 'nope' (campaigns: sale, transactional-notice)" in unknown.stderr
    bad_at = atomcast("render", str(MINI), "-c", "sale", "-p", "vip", "--at", "yesterday")
    assert bad_at.returncode == 1
    assert "--at 'yesterday' is not an ISO 8601 date or datetime" in bad_at.stderr
    malformed = tmp_path / "bad.json"
    malformed.write_text('{"id": "x",\n "first_name": }')
    broken = atomcast("render", str(MINI), "-c", "sale", "-p", str(malformed))
    assert broken.returncode == 1
    assert f"{malformed}:2: error: malformed JSON" in broken.stderr
    for result in (unknown, bad_at, broken):
        assert "Traceback" not in result.stderr


def test_the_program_exits_with_its_commands_status_and_all_its_output() -> None:
    """``run()`` leaves without the interpreter's teardown: the status must still be the
    command's, and output written to a pipe must all arrive."""
    schema = atomcast("schema", str(ROOT), "--kind", "atom")
    assert schema.returncode == 0, schema.stderr
    assert len(schema.stdout) > 5_000  # under the 8 KiB buffer: only a flush sends it
    json.loads(schema.stdout)
    usage = atomcast("render", "--no-such-option")
    assert usage.returncode == 2
    assert "No such option" in usage.stderr
    failed = atomcast("render", str(MINI), "-c", "nope", "-p", "vip")
    assert failed.returncode == 1
    assert failed.stderr.strip()
    assert atomcast("--version").stdout.startswith("python -m atomcast, version ")


def test_render_on_broken_project_prints_problems(mini_project: Path) -> None:
    atom = mini_project / "content_atoms" / "cta-shop.md"
    atom.write_text(atom.read_text().replace("https://", "http://"))
    result = atomcast("render", str(mini_project), "-c", "sale", "-p", "vip")
    assert result.returncode == 1
    assert "content_atoms/cta-shop.md:4: error: cta url must be https" in result.stderr


def test_make_demo_command_output() -> None:
    """What `make demo` runs: readable, and about the persona it names."""
    result = run_cli(
        "explain",
        ".",
        "--campaign",
        "summer-sale",
        "--profile",
        "previews/profiles/vip-margaret.yaml",
        "--at",
        DEMO_AT,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("profile p-001 · campaign summer-sale")
    assert "headline-vip-summer" in result.stdout
