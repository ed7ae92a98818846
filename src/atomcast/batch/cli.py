"""``atomcast batch``: render every profile of a file (SPEC section 4)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from atomcast.batch.formats import OUTPUT_FORMATS
from atomcast.batch.progress import PROGRESS_MODES, make_progress
from atomcast.batch.summary import channel_errors
from atomcast.cli_options import campaign_option, exit_with, project_dir, reports_errors
from atomcast.errors import AtomcastError, printable
from atomcast.models import CHANNELS

#: ``atomcast.batch.job.ENGINES``, spelled here so that ``--help`` stays light.
ENGINE_CHOICES = ("local", "dask")


def _channels(values: tuple[str, ...]) -> tuple[str, ...]:
    """``--channels email,sms`` and ``--channels email --channels sms`` alike."""
    found: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if not name:
                continue
            if name not in CHANNELS:
                raise click.BadParameter(
                    f"unknown channel {name!r} (channels: {', '.join(CHANNELS)})",
                    param_hint="--channels",
                )
            if name not in found:
                found.append(name)
    return tuple(found)


@click.command("batch")
@project_dir
@campaign_option
@click.option(
    "--profiles",
    "-p",
    "profiles",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Profiles: .jsonl (.ndjson), .csv or .parquet.",
)
@click.option(
    "--out",
    "-o",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: rendered.jsonl, rejects.jsonl, manifest.json.",
)
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: the number of CPUs).",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINE_CHOICES),
    default="local",
    show_default=True,
    help="Where to run.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Dask scheduler (tcp://host:8786); default: a private LocalCluster.",
)
@click.option(
    "--channels",
    "--channel",
    "channels",
    multiple=True,
    metavar="CH[,CH...]",
    help="Render only these channels (repeatable or comma-separated).",
)
@click.option("--at", "at", default=None, help="Instant for date windows (ISO 8601; default now).")
@click.option("--resume", is_flag=True, help="Finish an interrupted run in OUT.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(OUTPUT_FORMATS),
    default="jsonl",
    show_default=True,
    help="Format of the rendered records.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=None,
    help="Records per chunk (default 2000; a resume keeps the interrupted run's).",
)
@click.option(
    "--progress",
    "progress_mode",
    type=click.Choice(PROGRESS_MODES),
    default="auto",
    show_default=True,
    help="Bar on a terminal, a log line every few seconds otherwise.",
)
@click.option(
    "--store",
    "store",
    default=None,
    metavar="URL",
    help="Also store each profile's decision: sqlite:///PATH or postgresql://... (resume "
    "with the same URL).",
)
@reports_errors
def batch_command(
    directory: Path,
    campaign: str,
    profiles: Path,
    out: Path,
    workers: int | None,
    engine: str,
    scheduler: str | None,
    channels: tuple[str, ...],
    at: str | None,
    resume: bool,
    output_format: str,
    chunk_size: int | None,
    progress_mode: str,
    store: str | None,
) -> None:
    """Render every profile of a file into OUT (rendered, rejects, manifest).

    Every input record ends in exactly one of OUT/rendered.jsonl or OUT/rejects.jsonl, in
    input order. A run that is killed can be finished with --resume.
    """
    from atomcast.batch.guard import refuse_if_locked
    from atomcast.batch.job import BatchJob, interrupted_run
    from atomcast.batch.storing import check_store_url

    # A job started in the background by a shell (`atomcast batch ... &`) inherits SIGINT
    # ignored, and Python then leaves it so: Ctrl-C or `kill -INT` would not stop it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    wanted = _channels(channels)
    try:
        check_store_url(store)  # a typo in the URL is refused before anything is rendered
        refuse_if_locked(out)  # before the project loads: a busy OUT is refused at once
        if resume and at is None:
            previous = interrupted_run(out)
            at = previous.at if previous is not None else None
        job = BatchJob(directory, campaign, at=at, channels=wanted)
        progress = make_progress(progress_mode)  # type: ignore[arg-type]
        report = job.run(
            profiles,
            out,
            workers=workers or os.cpu_count() or 1,
            engine=engine,  # type: ignore[arg-type]
            scheduler=scheduler,
            output_format=output_format,  # type: ignore[arg-type]
            chunk_size=chunk_size,
            resume=resume,
            progress=progress,
            store=store,
        )
    except (AtomcastError, ValueError) as exc:
        exit_with(exc)
    except OSError as exc:  # the engine words its own; this is for anything it missed
        where = exc.filename if exc.filename is not None else out
        click.echo(
            printable(
                f"error: {where}: {exc.strerror or exc}; finished chunks are kept: rerun "
                "with --resume to finish the run"
            ),
            err=True,
        )
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted: finished chunks are kept; rerun with --resume", err=True)
        sys.exit(130)
    if report.already_complete:
        click.echo(f"{out}: this run is already complete; nothing to do", err=True)
    if progress_mode != "none":
        from atomcast.batch.terminal import print_summary

        print_summary(report.manifest)
    errors = channel_errors(report.manifest)
    shown = ", ".join(f"{name} {count}" for name, count in errors.items())
    click.echo(
        f"{report.profiles_in} profiles: {report.rendered} rendered, {report.rejected} "
        f"rejected{f'; channel errors: {shown}' if errors else ''} -> {report.rendered_path}",
        err=True,
    )


__all__ = ["batch_command"]
