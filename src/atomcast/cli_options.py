"""Command-line options every command spells the same way (SPEC 4: the project folder is the
first optional argument of every command; ``--campaign``/``-c`` names one campaign).

A module of its own so that the commands living beside their stage (``batch/cli.py``,
``results/cli.py``, ``review/cli.py``) share them without importing ``atomcast.cli``, which
imports them.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["campaign_option", "project_dir"]

#: ``[DIRECTORY]``: the content project, the current folder by default.
project_dir = click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
)

#: ``--campaign/-c NAME``, required.
campaign_option = click.option("--campaign", "-c", required=True, help="Campaign name.")
