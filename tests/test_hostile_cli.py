"""Malformed input at the command line: the attacks every command withstands (issue 9, 15).

Every command registered on ``atomcast`` is fed missing files, folders where files belong,
binary garbage, invalid UTF-8, empty files, bad ``--at`` values and unknown campaigns or
channels. The promise: an ``error:`` line (``PATH:LINE: error:`` when a file is at fault),
exit status 1 for bad input and 2 for bad usage, and never a traceback or an "internal
error" (which would be a bug of ours).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from atomcast.cli import main
from tests.conftest import DEMO_AT, MINI, ROOT, copy_project, first_fast, run_cli


def atomcast(*args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atomcast", *args],
        capture_output=True,
        text=isinstance(stdin, str) or stdin is None,
        check=False,
        input=stdin,
    )


@dataclass(frozen=True)
class Case:
    """One malformed invocation and what it must end in."""

    id: str
    args: tuple[str, ...]
    exit_code: int
    says: str


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of hostile inputs and broken projects, shared by the whole module."""
    root = tmp_path_factory.mktemp("hostile")
    copy_project(MINI, root / "proj")
    (root / "folder").mkdir()
    (root / "folder.yaml").mkdir()
    (root / "garbage.yaml").write_bytes(b"\xff\xfe\x00\x01garbage\x80\x81")
    (root / "garbage.json").write_bytes(b"\x00\x01\x02\x03")
    (root / "garbage.dat").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (root / "latin1.yaml").write_bytes("id: caf\u00e9\n".encode("latin-1"))
    (root / "empty.yaml").write_text("")
    (root / "empty.json").write_text("")
    (root / "empty.jsonl").write_text("")
    (root / "list.json").write_text("[1, 2, 3]")
    (root / "deep.json").write_text("[" * 50_000 + "]" * 50_000)
    (root / "deep.yaml").write_text("id: " + "[" * 50_000 + "]" * 50_000)
    lines = ["l0: &l0 [lol]"] + [
        f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 12)
    ]
    (root / "bomb.yaml").write_text("\n".join(lines) + "\n")
    (root / "nan.json").write_text('{"id": NaN}')
    (root / "control.yaml").write_text("id: \x07\x1b\n")
    (root / "not-parquet.parquet").write_text("not parquet")
    (root / "a-file").write_text("x")
    # Broken projects: each fails in a different way before anything renders.
    (root / "no-config").mkdir()
    garbage = root / "garbage-config"
    copy_project(MINI, garbage)
    (garbage / "atomcast.yaml").write_bytes(b"\x00\xff\xfe binary")
    empty = root / "empty-config"
    copy_project(MINI, empty)
    (empty / "atomcast.yaml").write_text("")
    config_dir = root / "config-is-folder"
    config_dir.mkdir()
    (config_dir / "atomcast.yaml").mkdir()
    bad_atom = root / "bad-atom"
    copy_project(MINI, bad_atom)
    (bad_atom / "content_atoms" / "x.md").write_bytes(b"---\nkind: headline\ntext: \xff\n---\n")
    return root


PROFILE_CASES = [
    ("missing-file", "missing.yaml", "error: {b}/missing.yaml: no such profile file"),
    ("folder", "folder", "error: {b}/folder: is a folder, not a profile file"),
    ("folder-named-yaml", "folder.yaml", "error: {b}/folder.yaml: is a folder"),
    ("binary-yaml", "garbage.yaml", "{b}/garbage.yaml:1: error: not UTF-8 text"),
    ("binary-json", "garbage.json", "{b}/garbage.json:1: error: malformed JSON"),
    ("latin1", "latin1.yaml", "{b}/latin1.yaml:1: error: not UTF-8 text"),
    ("empty-yaml", "empty.yaml", "{b}/empty.yaml:1: error: a profile must be a mapping"),
    ("empty-json", "empty.json", "{b}/empty.json:1: error: malformed JSON"),
    ("not-a-mapping", "list.json", "{b}/list.json:1: error: a profile must be a mapping"),
    ("deep-json", "deep.json", "{b}/deep.json:1: error: malformed JSON: nested more than"),
    ("deep-yaml", "deep.yaml", "{b}/deep.yaml:1: error: nested more than 64 levels deep"),
    ("alias-bomb", "bomb.yaml", "{b}/bomb.yaml:6: error: expands to more than"),
    ("nan", "nan.json", "{b}/nan.json:1: error: malformed JSON: NaN is not a JSON value"),
    ("control-chars", "control.yaml", "{b}/control.yaml:1: error: malformed YAML"),
]


def invoke(args: tuple[str, ...], stdin: str | None = None) -> tuple[int, str]:
    """Run the real command group in-process; an escaping exception fails the test."""
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


def assert_clean_failure(code: int, output: str, case: Case) -> None:
    assert code == case.exit_code, output
    assert "Traceback" not in output
    assert "internal error" not in output
    if case.exit_code == 1:
        assert any(line.startswith("error:") or ": error: " in line for line in output.splitlines())
    assert case.says in output, output


def _cases(b: Path) -> list[Case]:
    p = str(b / "proj")
    cases: list[Case] = []
    for command in ("render", "explain"):
        for name, file, says in PROFILE_CASES:
            cases.append(
                Case(
                    f"{command}-{name}",
                    (command, p, "-c", "sale", "-p", str(b / file)),
                    1,
                    says.format(b=b),
                )
            )
        cases += [
            Case(
                f"{command}-unknown-campaign",
                (command, p, "-c", "nope", "-p", "vip"),
                1,
                "error: unknown campaign 'nope' (campaigns: sale, transactional-notice)",
            ),
            Case(
                f"{command}-persona-typo",
                (command, p, "-c", "sale", "-p", "vpi"),
                1,
                "(did you mean 'vip'?); personas: anon, fr, vip",
            ),
            Case(
                f"{command}-bad-at",
                (command, p, "-c", "sale", "-p", "vip", "--at", "2026-13-45"),
                1,
                "error: --at '2026-13-45' is not an ISO 8601",
            ),
            Case(
                f"{command}-empty-at",
                (command, p, "-c", "sale", "-p", "vip", "--at", ""),
                1,
                "error: --at '' is not an ISO 8601",
            ),
            Case(
                f"{command}-inline-json-broken",
                (command, p, "-c", "sale", "-p", '{"id": '),
                1,
                "<inline profile>:1: error: malformed JSON",
            ),
            Case(f"{command}-no-campaign", (command, p, "-p", "vip"), 2, "Missing option"),
            Case(
                f"{command}-project-is-a-file",
                (command, str(b / "a-file"), "-c", "s", "-p", "v"),
                2,
                "is a file",
            ),
        ]
    cases += [
        Case(
            "render-unknown-channel",
            ("render", p, "-c", "sale", "-p", "vip", "--channel", "fax"),
            2,
            "'fax' is not one of",
        ),
        Case(
            "render-bad-indent",
            ("render", p, "-c", "sale", "-p", "vip", "--indent", "x"),
            2,
            "'x' is not a valid integer",
        ),
        Case("check-project-is-a-file", ("check", str(b / "a-file")), 2, "is a file"),
        Case("check-unknown-option", ("check", p, "--frobnicate"), 2, "No such option"),
        Case("unknown-command", ("frobnicate",), 2, "No such command"),
    ]
    out = str(b / "out")
    batch = ("batch", p, "-c", "sale", "-o", out, "--workers", "1", "--progress", "none")
    cases += [
        Case(
            "batch-missing-profiles",
            (*batch, "-p", str(b / "missing.jsonl")),
            1,
            "cannot read the profiles",
        ),
        Case("batch-profiles-folder", (*batch, "-p", str(b / "folder")), 2, "is a directory"),
        Case(
            "batch-binary-unknown-format",
            (*batch, "-p", str(b / "garbage.dat")),
            1,
            "cannot tell the format",
        ),
        Case(
            "batch-not-parquet",
            (*batch, "-p", str(b / "not-parquet.parquet")),
            1,
            "not a readable Parquet file",
        ),
        Case(
            "batch-unknown-campaign",
            ("batch", p, "-c", "nope", "-o", out, "-p", str(b / "empty.jsonl")),
            1,
            "error: unknown campaign 'nope'",
        ),
        Case(
            "batch-bad-at",
            (*batch, "-p", str(b / "empty.jsonl"), "--at", "soon"),
            1,
            "error: --at 'soon' is not an ISO 8601",
        ),
        Case(
            "batch-unknown-channel",
            (*batch, "-p", str(b / "empty.jsonl"), "--channels", "fax"),
            2,
            "unknown channel 'fax'",
        ),
        Case(
            "batch-out-is-a-file",
            ("batch", p, "-c", "sale", "-o", str(b / "a-file"), "-p", str(b / "empty.jsonl")),
            2,
            "is a file",
        ),
        Case(
            "batch-bad-workers",
            (*batch, "-p", str(b / "empty.jsonl"), "--workers", "0"),
            2,
            "0 is not in the range",
        ),
    ]
    cases += [
        Case("preview-bad-port", ("preview", p, "--port", "http"), 2, "not a valid integer"),
        Case(
            "preview-bad-at",
            ("preview", p, "--at", "yesterday"),
            1,
            "error: --at 'yesterday' is not an ISO 8601",
        ),
        Case(
            "preview-export-to-a-file",
            ("preview", p, "--export", str(b / "a-file")),
            2,
            "is a file",
        ),
        Case(
            "preview-export-unknown-campaign",
            ("preview", p, "--export", str(b / "export"), "--campaign", "nope"),
            1,
            "error: unknown campaign 'nope'",
        ),
    ]
    cases += [
        Case("serve-bad-port", ("serve", p, "--port", "http"), 2, "not a valid integer"),
        Case("serve-bad-workers", ("serve", p, "--workers", "0"), 2, "0 is not in the range"),
        Case(
            "serve-public-without-keys",
            ("serve", p, "--port", "0", "--host", "0.0.0.0"),
            1,
            "error: refusing to listen on 0.0.0.0 without API keys",
        ),
        Case("serve-bad-store", ("serve", p, "--port", "0", "--store", "ftp://x"), 1, "error:"),
    ]
    demo = str(ROOT)
    plan = ("results", demo, "-c", "summer-sale", "--plan", "--metric")
    # diff and coverage follow SPEC 6: a bad argument, --at included, is exit status 2.
    cases += [
        Case("init-into-a-file", ("init", str(b / "a-file")), 2, "is a file"),
        Case("init-over-a-project", ("init", p), 1, "would overwrite atomcast.yaml"),
        Case("init-unwritable", ("init", "/proc/atomcast-init"), 1, "cannot write the project"),
        Case("schema-unknown-kind", ("schema", p, "--kind", "nope"), 2, "'nope' is not one of"),
        Case(
            "schema-personas-of-no-project",
            ("schema", str(b / "absent"), "--kind", "persona"),
            1,
            "error: no project at",
        ),
        Case("diff-outside-git", ("diff", p, "--base", "HEAD"), 2, "not inside a git repository"),
        Case("diff-no-base", ("diff", p), 2, "give exactly one of --base REV and --base-dir"),
        Case("diff-missing-base-dir", ("diff", p, "--base-dir", str(b / "absent")), 2, "absent"),
        Case("diff-bad-at", ("diff", p, "--base-dir", p, "--at", "soon"), 2, "--at 'soon'"),
        Case("diff-bad-format", ("diff", p, "--base-dir", p, "--format", "xml"), 2, "'xml'"),
        Case("coverage-unknown-campaign", ("coverage", p, "-c", "nope"), 2, "unknown campaign"),
        Case("coverage-bad-at", ("coverage", p, "-c", "sale", "--at", "never"), 2, "--at 'never'"),
        Case(
            "coverage-profiles-folder",
            ("coverage", p, "-c", "sale", "--profiles", str(b / "folder")),
            2,
            "is a directory",
        ),
        Case(
            "results-no-log",
            ("results", demo, "-c", "summer-sale", "-d", str(b / "folder")),
            1,
            "no decision log",
        ),
        Case(
            "results-log-not-parquet",
            ("results", demo, "-c", "summer-sale", "-d", str(b / "not-parquet.parquet")),
            1,
            "not a decision log",
        ),
        Case(
            "results-log-garbage",
            ("results", demo, "-c", "summer-sale", "-d", str(b / "garbage.dat")),
            1,
            "not a decision log",
        ),
        Case(
            "results-no-metrics",
            ("results", p, "-c", "sale", "-d", str(b / "folder")),
            1,
            "declares no metrics",
        ),
        Case(
            "results-plan-rate-out-of-range",
            (*plan, "purchased", "--baseline", "2", "--profiles", "10"),
            1,
            "--baseline must be a rate between 0 and 1",
        ),
        Case(
            "results-plan-unknown-metric",
            (*plan, "nope", "--baseline", "0.05", "--profiles", "1000"),
            1,
            "unknown metric 'nope'",
        ),
    ]
    # Broken projects, through every command that loads one.
    projects = [
        ("missing-folder", b / "absent", f"error: no project at {b / 'absent'} (no such folder)"),
        (
            "no-config",
            b / "no-config",
            f"error: no project at {b / 'no-config'} (no atomcast.yaml)",
        ),
        ("config-is-folder", b / "config-is-folder", "(no atomcast.yaml)"),
        ("binary-config", b / "garbage-config", "atomcast.yaml:1: error: not UTF-8 text"),
        ("empty-config", b / "empty-config", "atomcast.yaml:1: error: atomcast.yaml must be a"),
        ("invalid-utf8-atom", b / "bad-atom", "content_atoms/x.md:1: error: not UTF-8 text"),
    ]
    for name, project, says in projects:
        root = str(project)
        cases += [
            Case(f"check-{name}", ("check", root), 1, says),
            Case(f"render-{name}", ("render", root, "-c", "sale", "-p", "vip"), 1, says),
            Case(f"explain-{name}", ("explain", root, "-c", "sale", "-p", "vip"), 1, says),
            Case(
                f"batch-{name}",
                ("batch", root, "-c", "sale", "-o", out, "-p", str(b / "empty.jsonl")),
                1,
                says,
            ),
            Case(f"preview-export-{name}", ("preview", root, "--export", str(b / "exp")), 1, says),
            Case(f"coverage-{name}", ("coverage", root, "-c", "sale"), 1, says),
            Case(f"serve-{name}", ("serve", root, "--port", "0"), 1, says),
        ]
    return cases


#: Commands whose malformed inputs this module covers; a new command must join the list.
COVERED = {
    "check",
    "render",
    "explain",
    "batch",
    "preview",
    "init",
    "schema",
    "diff",
    "coverage",
    "results",
    "serve",
}


def test_every_registered_command_is_covered() -> None:
    assert set(main.commands) == COVERED, (
        "a command was added to atomcast: feed it malformed input in this module too"
    )


def test_every_command_fails_cleanly_on_malformed_input(bad: Path) -> None:
    cases = _cases(bad)
    assert {c.args[0] for c in cases} >= COVERED
    failures = []
    for case in cases:
        code, output = invoke(case.args)
        try:
            assert_clean_failure(code, output, case)
        except AssertionError as exc:
            failures.append(f"{case.id}: {exc}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    "case_id",
    first_fast(
        ["render-binary-yaml", "check-missing-folder", "batch-missing-profiles", "render-deep-json"]
    ),
)
def test_the_same_through_a_real_process(case_id: str, bad: Path) -> None:
    (case,) = [c for c in _cases(bad) if c.id == case_id]
    result = atomcast(*case.args)
    assert_clean_failure(result.returncode, result.stderr + result.stdout, case)


# -- 15. --profile from stdin, inline JSON, persona typos ------------------------------------


@pytest.mark.parametrize("command", ["render", "explain"])
@pytest.mark.parametrize(
    "stdin",
    first_fast(
        [
            '{"id": "s-1", "consent": {"sms": true}}',
            "id: s-1\nconsent: {sms: true}\n",
            '  \n{"id": "s-1", "consent": {"sms": true}}\n',
        ]
    ),
)
def test_profile_from_stdin(command: str, stdin: str) -> None:
    extra = ("--channel", "sms") if command == "render" else ("--json",)
    result = atomcast(
        command, str(MINI), "-c", "sale", "-p", "-", "--at", DEMO_AT, *extra, stdin=stdin
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["profile_id"] == "s-1"


@pytest.mark.parametrize("command", ["render", "explain"])
def test_inline_json_profile(command: str) -> None:
    extra = ("--channel", "sms") if command == "render" else ("--json",)
    result = run_cli(
        command,
        str(MINI),
        "-c",
        "sale",
        "-p",
        '{"id": "i-1", "first_name": "Ana"}',
        "--at",
        DEMO_AT,
        *extra,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["profile_id"] == "i-1"


@pytest.mark.parametrize(
    ("stdin", "says"),
    first_fast(
        [
            (b"", "<stdin>:1: error: a profile must be a mapping"),
            (b"\xff\xfe", "<stdin>: not UTF-8 text"),
            (b'{"id": ', "<stdin>:1: error: malformed JSON"),
            (b"id: [unclosed\n", "<stdin>:1: error: malformed YAML"),
            (b'{"id": "x", "lifetime_value": "lots"}', "<stdin>:1: error: lifetime_value"),
        ]
    ),
)
def test_bad_stdin_profiles_are_errors(stdin: bytes, says: str) -> None:
    result = run_cli("render", str(MINI), "-c", "sale", "-p", "-", stdin=stdin)
    assert result.returncode == 1
    stderr = result.stderr
    assert says in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("typo", "suggested"),
    [("vpi", "'vip'"), ("VIP", "'vip'"), ("fr-ca", "'fr'"), ("anonn", "'anon'")],
)
def test_a_persona_typo_suggests_the_nearest_names(typo: str, suggested: str) -> None:
    code, output = invoke(("render", str(MINI), "-c", "sale", "-p", typo))
    assert code == 1
    assert f"error: no persona or profile file named '{typo}' (did you mean {suggested}" in output
    assert "personas: anon, fr, vip" in output


def test_a_persona_name_still_wins_over_nothing(tmp_path: Path) -> None:
    project = copy_project(MINI, tmp_path / "p")
    code, output = invoke(("render", str(project), "-c", "sale", "-p", "vip", "--at", DEMO_AT))
    assert code == 0, output
    assert '"profile_id": "p-vip"' in output
