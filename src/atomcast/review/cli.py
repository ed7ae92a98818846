"""``atomcast diff`` and ``atomcast coverage`` (SPEC sections 6 and 7).

Exit status: 0; 1 for a project that does not load (coverage) or a ``--fail-on`` gate that
trips (diff); 2 for bad arguments (an unknown revision, a folder outside a repository, an
unknown campaign, a malformed ``--at``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from atomcast.cli_options import campaign_option, error_text, project_dir, reporting_errors
from atomcast.errors import ReviewError, UnknownCampaignError
from atomcast.review.population import DEFAULT_SAMPLE
from atomcast.selection import parse_instant

_profiles = click.option(
    "--profiles",
    "profiles",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Profile file (.jsonl, .csv or .parquet) whose first --sample records join.",
)
_sample = click.option(
    "--sample",
    default=DEFAULT_SAMPLE,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many records of --profiles to use.",
)
_at = click.option("--at", "at", default=None, help="Instant (ISO 8601; default now).")


#: Bad arguments exit 2, other atomcast errors 1; never a traceback for bad input.
review_errors = reporting_errors(usage=(ReviewError, UnknownCampaignError))


@click.command("coverage")
@project_dir
@campaign_option
@_profiles
@_sample
@_at
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (SPEC 7).")
@review_errors
def coverage_command(
    directory: Path,
    campaign: str,
    profiles: Path | None,
    sample: int,
    at: str | None,
    as_json: bool,
) -> None:
    """Where content is thin: how a population splits across atoms, per slot."""
    from atomcast.project import load_project
    from atomcast.review.coverage import compute_coverage
    from atomcast.review.coverage_text import print_coverage
    from atomcast.review.population import build_population

    instant = parse_instant(_checked_at(at))
    project = load_project(directory)
    if campaign not in project.config.campaigns:
        known = ", ".join(sorted(project.config.campaigns)) or "none"
        raise ReviewError(f"unknown campaign '{campaign}' (campaigns: {known})")
    population = build_population([project], campaign, profiles=profiles, sample=sample)
    report = compute_coverage(project, campaign, population, instant)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return
    from rich.console import Console

    print_coverage(Console(highlight=False, soft_wrap=False), report)


def _checked_at(at: str | None) -> str | None:
    """``--at`` as given, refused up front (exit 2) when it is not an instant."""
    try:
        parse_instant(at)
    except ValueError as exc:
        raise ReviewError(error_text(exc)) from None
    return at


@click.command("diff")
@project_dir
@click.option("--base", "base_rev", default=None, help="Git revision to compare with.")
@click.option("--head", "head_rev", default=None, help="Git revision (default: the files on disk).")
@click.option(
    "--base-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Compare with this project folder instead of a revision.",
)
@click.option("--campaign", "-c", "campaigns", multiple=True, help="Only these (repeatable).")
@_profiles
@_sample
@_at
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "change"]),
    default=None,
    help="Exit 1 when head adds a check error (error) or changes any output (change).",
)
@review_errors
def diff_command(
    directory: Path,
    base_rev: str | None,
    head_rev: str | None,
    base_dir: Path | None,
    campaigns: tuple[str, ...],
    profiles: Path | None,
    sample: int,
    at: str | None,
    output_format: str,
    fail_on: str | None,
) -> None:
    """What an edit does to every profile, before it ships (SPEC 6)."""
    from atomcast.review.diff_report import markdown_diff, print_diff
    from atomcast.review.run import run_diff

    if (base_rev is None) == (base_dir is None):
        raise ReviewError("give exactly one of --base REV and --base-dir PATH")
    report = run_diff(
        directory,
        base_rev=base_rev,
        base_dir=base_dir,
        head_rev=head_rev,
        campaigns=campaigns,
        profiles=profiles,
        sample=sample,
        at=parse_instant(_checked_at(at)),
    )
    if output_format == "json":
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    elif output_format == "markdown":
        click.echo(markdown_diff(report))
    else:
        from rich.console import Console

        print_diff(Console(highlight=False, soft_wrap=False), report)
    if (fail_on == "error" and report.errors_added) or (
        fail_on == "change" and report.output_changed
    ):
        sys.exit(1)
