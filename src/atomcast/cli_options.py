"""Command-line options every command spells the same way (SPEC 4: the project folder is the
first optional argument of every command; ``--campaign``/``-c`` names one campaign).

A module of its own so that the commands living beside their stage (``batch/cli.py``,
``results/cli.py``, ``review/cli.py``) share them without importing ``atomcast.cli``, which
imports them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import NoReturn, ParamSpec, TypeVar

import click

from atomcast.errors import AtomcastError, BatchError, ParameterError, ProjectError, printable

__all__ = [
    "USAGE_STATUS",
    "campaign_option",
    "error_text",
    "exit_with",
    "project_dir",
    "reporting_errors",
    "reports_errors",
]

P = ParamSpec("P")
R = TypeVar("R")

#: The exit status of bad arguments (click's own for its usage errors).
USAGE_STATUS = 2

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


def exit_with(exc: AtomcastError | ValueError, status: int = 1) -> NoReturn:
    """Report ``exc`` on stderr and exit with ``status``: a :class:`ProjectError` as its
    problems, one a line; anything else as one line, ``error: `` first unless it already
    reads ``PATH:LINE: error: ...``. Escaped (:func:`~atomcast.errors.printable`): a
    message may quote a file name or a value from the input."""
    if isinstance(exc, ProjectError):
        for problem in exc.problems:
            click.echo(str(problem), err=True)
    else:
        message = error_text(exc)
        click.echo(printable(message if ": error: " in message else f"error: {message}"), err=True)
    sys.exit(status)


def reporting_errors(
    usage: tuple[type[AtomcastError], ...] = (),
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A command decorator: atomcast's own errors become messages and exit status 1
    (``usage``: errors that mean bad arguments, exit 2), never a traceback; any other
    exception is a bug of ours and says so (``ATOMCAST_DEBUG=1`` shows its traceback).
    click's usage errors go on to click, which words them."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except click.ClickException:
                raise
            except usage as exc:
                exit_with(exc, USAGE_STATUS)
            except (AtomcastError, ValueError) as exc:
                exit_with(exc)
            except Exception as exc:
                if os.environ.get("ATOMCAST_DEBUG"):
                    raise
                click.echo(
                    printable(
                        f"internal error: {exc.__class__.__name__}: {exc} (set "
                        "ATOMCAST_DEBUG=1 for a traceback, and please report it)"
                    ),
                    err=True,
                )
                sys.exit(1)

        return wrapper

    return decorate


#: :func:`reporting_errors` of a command without errors of its own for bad arguments.
reports_errors = reporting_errors()
