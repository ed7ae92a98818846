"""Command-line options every command spells the same way (SPEC 4: the project folder is the
first optional argument of every command; ``--campaign``/``-c`` names one campaign).

A module of its own so that the commands living beside their stage (``batch/cli.py``,
``results/cli.py``, ``review/cli.py``) share them without importing ``atomcast.cli``, which
imports them.
"""

from __future__ import annotations

from pathlib import Path

import click

from atomcast.errors import BatchError, ParameterError

__all__ = ["campaign_option", "error_text", "project_dir"]

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
