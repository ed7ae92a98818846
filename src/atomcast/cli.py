"""The ``atomcast`` command line (SPEC section 4).

Bad input never produces a traceback: every :class:`~atomcast.errors.AtomcastError` becomes
a message (``PATH:LINE: error: ...`` where a file is at fault) and exit status 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import click
from rich.console import Console

from atomcast.errors import AtomcastError, ProfileError, ProjectError
from atomcast.models import CHANNELS
from atomcast.project import Project, load_project
from atomcast.schema import Profile, validate_profile
from atomcast.selection import parse_instant
from atomcast.yamlsource import YamlSyntaxError, load_yaml

P = ParamSpec("P")
R = TypeVar("R")

project_dir = click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
)


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn atomcast's own errors into messages and exit status 1, never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ProjectError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            sys.exit(1)
        except (AtomcastError, ValueError) as exc:
            message = str(exc)
            # Errors about a file already read "PATH:LINE: error: ..."; others get the prefix.
            _fail(message if ": error: " in message else f"error: {message}")
            raise AssertionError("unreachable") from None
        except Exception as exc:
            # A bug of ours, not bad input: say so plainly; ATOMCAST_DEBUG shows the traceback.
            if os.environ.get("ATOMCAST_DEBUG"):
                raise
            _fail(
                f"internal error: {exc.__class__.__name__}: {exc} (set ATOMCAST_DEBUG=1 "
                "for a traceback, and please report it)"
            )
            raise AssertionError("unreachable") from None

    return wrapper


def load_profile_file(project: Project, path: Path) -> Profile:
    """A profile from a .yaml or .json file, or a persona name; validated against the schema.

    :raises ProfileError: with ``PATH:LINE`` of the offending attribute.
    """
    if not path.exists() and path.stem in project.personas and len(path.parts) == 1:
        return project.personas[path.stem].profile
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc.strerror}") from None
    lines: Mapping[tuple[str | int, ...], int] = {}
    if path.suffix == ".json":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"{path}:{exc.lineno}: error: malformed JSON: {exc.msg}") from None
    else:
        try:
            located = load_yaml(text)
        except YamlSyntaxError as exc:
            raise ProfileError(f"{path}:{exc.line}: error: {exc}") from None
        raw, lines = located.data, located.lines
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}:1: error: a profile must be a mapping of attributes")
    raw = {k: v for k, v in raw.items() if not str(k).startswith("_")}
    try:
        return validate_profile(project.schema, raw)
    except ProfileError as exc:
        key = tuple(exc.field.split(".")) if exc.field else ()
        line = 1
        while key:
            if key in lines:
                line = lines[key]
                break
            key = key[:-1]
        raise ProfileError(f"{path}:{line}: error: {exc}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="atomcast")
def main() -> None:
    """atomcast: atomic content assembled per profile into email, push, SMS and web."""


@main.command()
@project_dir
@reports_errors
def check(directory: Path) -> None:
    """Load and validate everything; one PATH:LINE line per problem."""
    from atomcast.check import check_project, summarise

    problems = check_project(directory)
    for problem in problems:
        click.echo(str(problem))
    errors, warnings = summarise(problems)
    click.echo(f"{errors} error(s), {warnings} warning(s)", err=True)
    sys.exit(1 if errors else 0)


def _campaign_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option("--campaign", "-c", required=True, help="Campaign name.")(func)


def _profile_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--profile",
        "-p",
        "profile_path",
        required=True,
        type=click.Path(path_type=Path),
        help="Profile file (.yaml or .json) or a persona name.",
    )(func)


def _at_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--at", "at", default=None, help="Instant for date windows (ISO 8601; default now)."
    )(func)


@main.command()
@project_dir
@_campaign_option
@_profile_option
@click.option(
    "--channel",
    "channels",
    multiple=True,
    type=click.Choice(CHANNELS),
    help="Render only these channels (repeatable).",
)
@_at_option
@click.option("--indent", default=2, show_default=True, help="JSON indent (0 for one line).")
@reports_errors
def render(
    directory: Path,
    campaign: str,
    profile_path: Path,
    channels: tuple[str, ...],
    at: str | None,
    indent: int,
) -> None:
    """Render one profile: SPEC section 5 JSON on stdout."""
    from atomcast.render import Renderer

    project = load_project(directory)
    profile = load_profile_file(project, profile_path)
    renderer = Renderer(project).campaign(campaign, at=at, channels=channels)
    result = renderer.render(profile).to_json()
    click.echo(json.dumps(result, indent=indent or None, ensure_ascii=False))


@main.command()
@project_dir
@_campaign_option
@_profile_option
@_at_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "show_all", is_flag=True, help="Show every check of every candidate.")
@reports_errors
def explain(
    directory: Path,
    campaign: str,
    profile_path: Path,
    at: str | None,
    as_json: bool,
    show_all: bool,
) -> None:
    """Why each atom was chosen or not: every candidate, every clause."""
    from atomcast.explain import explain as build_explanation
    from atomcast.explain_text import print_explanation

    project = load_project(directory)
    profile = load_profile_file(project, profile_path)
    explanation = build_explanation(project, profile, campaign, parse_instant(at))
    if as_json:
        click.echo(json.dumps(explanation.to_json(), indent=2, ensure_ascii=False))
        return
    console = Console(highlight=False, soft_wrap=True)
    print_explanation(console, explanation, verbose=show_all)


from atomcast.preview.cli import preview_command  # noqa: E402  (registered last, see below)

# The preview pulls in Starlette and uvicorn only when it runs; the command itself is light.
main.add_command(preview_command)

from atomcast.batch.cli import batch_command  # noqa: E402  (registered last, like preview)

# Batch imports pyarrow and Dask only when a run needs them; the command itself is light.
main.add_command(batch_command)

from atomcast.results.cli import results_command  # noqa: E402  (registered last, like batch)

# DuckDB, numpy and scipy are imported only when results run.
main.add_command(results_command)
