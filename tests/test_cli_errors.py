"""Every command words errors the same way (``atomcast.cli_options.reporting_errors``): an
``error:`` line, or ``PATH:LINE: error:`` as a file's own message has it, escaped; status 1,
or 2 for bad arguments; a bug of ours as an "internal error" line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from atomcast.cli import main
from atomcast.cli_options import reporting_errors, reports_errors
from atomcast.errors import BatchError, ProjectError, ReviewError
from tests.conftest import ROOT


def _command(raised: BaseException, usage: tuple[type[ReviewError], ...] = ()) -> click.Command:
    @click.command()
    @reporting_errors(usage=usage)
    def command() -> None:
        raise raised

    return command


def _run(command: click.Command) -> tuple[int, str]:
    result = CliRunner().invoke(command, [])
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("raised", "status", "says"),
    [
        (BatchError("the profiles are gone"), 1, "error: the profiles are gone\n"),
        (ValueError("no such instant"), 1, "error: no such instant\n"),
        (BatchError("a.yaml:3: error: bad key"), 1, "a.yaml:3: error: bad key\n"),
        (BatchError("name\x1b[31m\nnext"), 1, "error: name\\x1b[31m\\nnext\n"),
        (RuntimeError("a bug"), 1, "internal error: RuntimeError: a bug (set ATOMCAST_DEBUG=1"),
    ],
)
def test_errors_become_one_escaped_line(raised: BaseException, status: int, says: str) -> None:
    code, err = _run(_command(raised))
    assert code == status
    assert err.startswith(says)
    assert "Traceback" not in err


def test_bad_arguments_exit_2_and_click_words_its_own() -> None:
    assert _run(_command(ReviewError("--base and --base-rev"), usage=(ReviewError,))) == (
        2,
        "error: --base and --base-rev\n",
    )
    code, err = _run(_command(click.UsageError("--plan needs --metric")))
    assert code == 2
    assert "Error: --plan needs --metric" in err


def test_a_project_error_is_its_problems(tmp_path: Path) -> None:
    (tmp_path / "atomcast.yaml").write_text("campaigns: [\n")
    from atomcast.project import load_project

    with pytest.raises(ProjectError) as caught:
        load_project(tmp_path)
    code, err = _run(_command(caught.value))
    assert code == 1
    assert err.splitlines() == [str(problem) for problem in caught.value.problems]


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMCAST_DEBUG", "1")
    result = CliRunner().invoke(_command(RuntimeError("a bug")), [])
    assert isinstance(result.exception, RuntimeError)


def test_the_stage_commands_report_as_the_core_ones(tmp_path: Path) -> None:
    """batch, results, preview and serve word a file's error as check does: escaped."""
    missing = tmp_path / "gone\x1b[2J.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "batch",
            str(ROOT),
            "-c",
            "summer-sale",
            "--profiles",
            str(missing),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code != 0
    assert "\x1b" not in result.stderr
    assert "\\x1b[2J" in result.stderr
    assert "Traceback" not in result.stderr


def test_reports_errors_is_the_plain_reporter() -> None:
    code, err = _run(_command(BatchError("x")))
    assert (code, err) == (1, "error: x\n")
    assert callable(reports_errors)
