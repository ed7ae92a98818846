"""The ``atomcast`` command line (SPEC section 4).

Bad input never produces a traceback: every :class:`~atomcast.errors.AtomcastError` becomes
a message (``PATH:LINE: error: ...`` where a file is at fault) and exit status 1.
"""

from __future__ import annotations

import atexit
import contextlib
import difflib
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from atomcast.cli_options import campaign_option, project_dir, reports_errors
from atomcast.errors import (
    InputTooLargeError,
    ProfileError,
)
from atomcast.models import CHANNELS
from atomcast.paths import MAX_FILE_BYTES, read_limited
from atomcast.project import Project, load_project
from atomcast.schema import Profile, validate_profile
from atomcast.selection import parse_instant
from atomcast.yamlsource import MAX_DEPTH, YamlSyntaxError, deeper_than, load_yaml

P = ParamSpec("P")
R = TypeVar("R")


def _no_json_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _parse_json(text: str, where: str) -> object:
    try:
        value = json.loads(text, parse_constant=_no_json_constant)
    except json.JSONDecodeError as exc:
        raise ProfileError(
            f"{where}:{exc.lineno}: error: malformed JSON: {exc.msg} (column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:
        # RecursionError: the C decoder refuses very deep nesting by raising it.
        reason = (
            f"nested more than {MAX_DEPTH} levels deep"
            if isinstance(exc, RecursionError)
            else str(exc)
        )
        raise ProfileError(f"{where}:1: error: malformed JSON: {reason}") from None
    if deeper_than(value, MAX_DEPTH):
        raise ProfileError(f"{where}:1: error: nested more than {MAX_DEPTH} levels deep")
    return value


def _read_profile_source(project: Project, spec: str) -> tuple[str, str, bool]:
    """``(where, text, is_json)`` for ``--profile``: ``-``, inline JSON or a file.

    :raises ProfileError: when it cannot be read; a name that is neither a file nor a
        persona gets the nearest persona names.
    """
    if spec == "-":
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ProfileError(f"<stdin>: larger than {MAX_FILE_BYTES // 2**20} MiB")
        where = "<stdin>"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProfileError(
                f"{where}: not UTF-8 text: {exc.reason} at byte {exc.start}"
            ) from None
        return where, text, text.lstrip().startswith("{")
    if spec.lstrip().startswith("{"):
        return "<inline profile>", spec, True
    path = Path(spec)
    if not path.exists():
        if len(path.parts) == 1 and path.suffix not in (".json", ".yaml", ".yml"):
            names = sorted(project.personas)
            by_lower = {name.lower(): name for name in names}
            close = [
                by_lower[match]
                for match in difflib.get_close_matches(spec.lower(), by_lower, n=3, cutoff=0.5)
            ]
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            listed = ", ".join(names) if names else "none in previews/profiles"
            raise ProfileError(
                f"no persona or profile file named {spec!r}{hint}; personas: {listed}"
            )
        raise ProfileError(f"{spec}: no such profile file")
    if path.is_dir():
        raise ProfileError(f"{spec}: is a folder, not a profile file")
    try:
        text = read_limited(path).decode("utf-8")
    except InputTooLargeError:
        raise ProfileError(f"{spec}: larger than {MAX_FILE_BYTES // 2**20} MiB") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(
            f"{spec}:1: error: not UTF-8 text: {exc.reason} at byte {exc.start}"
        ) from None
    except OSError as exc:
        raise ProfileError(f"{spec}: cannot read profile: {exc.strerror}") from None
    return spec, text, path.suffix == ".json"


def load_profile_file(project: Project, spec: str | Path) -> Profile:
    """A profile for ``--profile``: a .yaml or .json file, a persona name, ``-`` (stdin) or
    inline JSON (``'{"id": "p-1"}'``); validated against the schema.

    :raises ProfileError: with ``PATH:LINE`` of the offending attribute.
    """
    spec = str(spec)
    path = Path(spec)
    if not path.exists() and spec in project.personas and len(path.parts) == 1:
        return project.personas[spec].profile
    if not path.exists() and path.stem in project.personas and len(path.parts) == 1:
        return project.personas[path.stem].profile
    where, text, is_json = _read_profile_source(project, spec)
    lines: Mapping[tuple[str | int, ...], int] = {}
    if is_json:
        raw = _parse_json(text, where)
    else:
        try:
            located = load_yaml(text)
        except YamlSyntaxError as exc:
            raise ProfileError(f"{where}:{exc.line}: error: {exc}") from None
        raw, lines = located.data, located.lines
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}:1: error: a profile must be a mapping of attributes")
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
        raise ProfileError(f"{where}:{line}: error: {exc}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="atomcast")
def main() -> None:
    """atomcast: atomic content assembled per profile into email, push, SMS and web."""


#: The exit status of the command :func:`run` ran, once it ended with one.
_status: int | None = None


def run() -> None:
    """The ``atomcast`` program: :func:`main` in a process of its own (the console script
    and ``python -m atomcast``; tests call :func:`main` in-process).

    Once the command has ended with a status and every exit handler has run, the process
    leaves without the interpreter's teardown, a last collection and the freeing of every
    object one by one: 75 ms, more than a small batch takes to render and 2% of a
    60,000-profile one, for memory the system takes back anyway.
    """
    global _status
    # Registered before any handler the command registers (multiprocessing's, Pillow's):
    # handlers run last-registered first, so this one runs after them.
    atexit.register(_leave)
    try:
        main()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            _status = exc.code or 0
        raise


def _leave() -> None:
    if _status is None:  # an error escaped the command: the interpreter's own exit
        return
    if "logging" in sys.modules:  # its handler was registered before this one: runs after
        import logging

        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing left to say
            stream.flush()
    os._exit(_status)


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


def _profile_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--profile",
        "-p",
        "profile_path",
        required=True,
        help="Profile file (.yaml or .json), a persona name, '-' to read it from stdin, or "
        'inline JSON (\'{"id": "p-1"}\').',
    )(func)


def _at_option(func: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--at", "at", default=None, help="Instant for date windows (ISO 8601; default now)."
    )(func)


@main.command()
@project_dir
@campaign_option
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
    profile_path: str,
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
@campaign_option
@_profile_option
@_at_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "show_all", is_flag=True, help="Show every check of every candidate.")
@reports_errors
def explain(
    directory: Path,
    campaign: str,
    profile_path: str,
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
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    print_explanation(console, explanation, verbose=show_all)


@main.command()
@click.argument(
    "directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
)
@reports_errors
def init(directory: Path) -> None:
    """Start a project: a small valid one to change (never overwrites a file)."""
    from atomcast.starter import init_project

    result = init_project(directory)
    click.echo(f"wrote {len(result.files)} files into {result.root}")
    shown = "" if str(directory) == "." else f" {directory}"
    click.echo(f"next: atomcast check{shown}   then: atomcast preview{shown}")


@main.command()
@project_dir
@click.option(
    "--kind",
    type=click.Choice(["config", "atom", "persona"]),
    default="config",
    show_default=True,
    help="atomcast.yaml, atom front matter, or the persona files of DIRECTORY's project.",
)
@click.option(
    "--markdown", is_flag=True, help="Print docs/reference.md instead (slow: runs check)."
)
@reports_errors
def schema(directory: Path, kind: str, markdown: bool) -> None:
    """JSON Schema for editor completion (YAML language server), or the reference page."""
    from atomcast import reference

    if markdown:
        from atomcast.reference_page import reference_markdown

        click.echo(reference_markdown(), nl=False)
        return
    if kind == "atom":
        data = reference.atom_json_schema()
    elif kind == "persona":
        data = reference.persona_json_schema(load_project(directory).schema)
    else:
        data = reference.project_json_schema()
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


from atomcast.preview.cli import preview_command  # noqa: E402  (registered last, see below)

# The preview pulls in Starlette and uvicorn only when it runs; the command itself is light.
main.add_command(preview_command)

from atomcast.batch.cli import batch_command  # noqa: E402  (registered last, like preview)

# Batch imports pyarrow and Dask only when a run needs them; the command itself is light.
main.add_command(batch_command)

from atomcast.review.cli import coverage_command, diff_command  # noqa: E402  (like preview)

# Change review: the commands import the renderer and git plumbing only when they run.
main.add_command(diff_command)
main.add_command(coverage_command)

from atomcast.results.cli import results_command  # noqa: E402  (registered last, like batch)

# DuckDB, numpy and scipy are imported only when results run.
main.add_command(results_command)

from atomcast.serve.cli import serve_command  # noqa: E402  (registered last, like preview)

# The decision service imports uvicorn, prometheus-client and the store only when it runs.
main.add_command(serve_command)
