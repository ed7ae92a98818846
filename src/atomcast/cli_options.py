"""Command-line options every command spells the same way (SPEC 4: the project folder is the
first optional argument of every command; ``--campaign``/``-c`` names one campaign).

A module of its own so that the commands living beside their stage (``batch/cli.py``,
``results/cli.py``, ``review/cli.py``) share them without importing ``atomcast.cli``, which
imports them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from atomcast.errors import AtomcastError, BatchError, ParameterError, ProjectError

__all__ = ["campaign_option", "error_text", "exit_with", "project_dir"]

#: ``[DIRECTORY]``: the content project, the current folder by default.
project_dir = click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
)

#: ``--campaign/-c NAME``, required.
campaign_option = click.option("--campaign", "-c", required=True, help="Campaign name.")


def error_text(exc: BaseException) -> str:
    """``exc`` as a command line words it: the library names an argument (``at``), the
    command its option (``--at 'soon' is not an ISO 8601 date or datetime``)."""
    if isinstance(exc, ParameterError):
        return f"--{exc.parameter.replace('_', '-')} {exc.reason}"
    if isinstance(exc, BatchError):
        return exc.worded(flags=True)
    return str(exc)


def exit_with(exc: AtomcastError | ValueError) -> NoReturn:
    """Report ``exc`` on stderr and exit with status 1: a :class:`ProjectError` as its
    problems, one a line; anything else as one ``error:`` line."""
    if isinstance(exc, ProjectError):
        for problem in exc.problems:
            click.echo(str(problem), err=True)
    else:
        click.echo(f"error: {error_text(exc)}", err=True)
    sys.exit(1)
