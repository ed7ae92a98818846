"""``atomcast results``: the decision log joined with outcome events (SPEC 8)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from atomcast.cli_options import campaign_option, exit_with, project_dir, reports_errors
from atomcast.errors import AtomcastError


@click.command("results")
@project_dir
@campaign_option
@click.option(
    "--decisions",
    "-d",
    type=click.Path(path_type=Path),
    help="The batch output folder holding decisions.parquet (or the file itself).",
)
@click.option(
    "--events",
    "-e",
    "events",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Outcome events: .jsonl, .csv or .parquet (repeatable).",
)
@click.option(
    "--metric", "-m", "metrics", multiple=True, help="Metric of atomcast.yaml (default: all)."
)
@click.option("--json", "as_json", is_flag=True, help="SPEC 8 JSON on stdout.")
@click.option(
    "--by",
    "by",
    type=click.Choice(["segment"]),
    default=None,
    help="Break each experiment's arms down by segment.",
)
@click.option("--plan", is_flag=True, help="Size a test before it runs (no log needed).")
@click.option("--baseline", type=float, help="--plan: the metric's baseline rate (or mean).")
@click.option("--profiles", type=int, help="--plan: profiles the campaign will reach.")
@click.option("--lift", type=float, help="--plan: a relative lift to size for (0.05 = +5%).")
@click.option("--stddev", type=float, help="--plan: standard deviation of a value metric.")
@reports_errors
def results_command(
    directory: Path,
    campaign: str,
    decisions: Path | None,
    events: tuple[Path, ...],
    metrics: tuple[str, ...],
    as_json: bool,
    by: str | None,
    plan: bool,
    baseline: float | None,
    profiles: int | None,
    lift: float | None,
    stddev: float | None,
) -> None:
    """Lift per experiment arm (with 95% CI and SRM check) and per atom, from the decision
    log and outcome events; or, with --plan, the minimum detectable effect of a test."""
    from rich.console import Console

    from atomcast.project import load_project

    console = Console(highlight=False, soft_wrap=True)
    try:
        project = load_project(directory)
        if plan:
            from atomcast.results.plan import plan_test, render_plan

            if baseline is None or profiles is None or len(metrics) != 1:
                raise click.UsageError("--plan needs --metric M (one), --baseline and --profiles")
            sized = plan_test(
                project, campaign, metrics[0], baseline, profiles, lift=lift, stddev=stddev
            )
            if as_json:
                click.echo(json.dumps(sized.to_json(), indent=2))
            else:
                render_plan(sized, console)
            return
        if decisions is None:
            raise click.UsageError("--decisions OUT is required (or use --plan)")
        from atomcast.results.analyse import analyse
        from atomcast.results.report import render_text

        report = analyse(project, campaign, decisions, events, metrics, by_segment=by == "segment")
    except (AtomcastError, ValueError) as exc:
        exit_with(exc)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        render_text(report, console)


__all__ = ["results_command"]
