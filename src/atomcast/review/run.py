"""The diff as a whole: read both sides (git revisions or folders), build the populations,
compare."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

from atomcast.errors import ReviewError
from atomcast.review.diff import DiffReport, Side, campaign_names, diff_sides, load_side
from atomcast.review.gitsource import repository_of, revision_tree
from atomcast.review.population import DEFAULT_SAMPLE, build_population, sample_records

WORKING_TREE = "working tree"


@contextlib.contextmanager
def _side(
    directory: Path, rev: str | None, folder: Path | None, assets: Path | None = None
) -> Iterator[Side]:
    if folder is not None:
        if not folder.is_dir():
            raise ReviewError(f"{folder}: no such folder")
        yield load_side(folder, str(folder))
    elif rev is not None:
        with revision_tree(directory, rev) as revision:
            yield load_side(revision.root, revision.short, assets)
    else:
        yield load_side(directory, WORKING_TREE)


def _assets_of(directory: Path, side: Side) -> Path | None:
    """The working tree's renditions folder, shared by sides read from git."""
    if side.project is None:
        return None
    return directory / side.project.config.assets.dir


def run_diff(
    directory: Path,
    *,
    base_rev: str | None = None,
    base_dir: Path | None = None,
    head_rev: str | None = None,
    campaigns: Sequence[str] = (),
    profiles: Path | None = None,
    sample: int = DEFAULT_SAMPLE,
    at: dt.datetime,
) -> DiffReport:
    """Compare the project in ``directory`` (or ``head_rev`` of it) with ``base_rev`` of it
    or with the folder ``base_dir``.

    :raises ReviewError: for a folder outside a repository, an unknown revision or a
        campaign neither side declares.
    """
    if not directory.is_dir():
        raise ReviewError(f"{directory}: no such folder")
    if base_rev is not None or head_rev is not None:
        repository_of(directory)  # a clear error before anything is read
    with contextlib.ExitStack() as stack:
        head = stack.enter_context(_side(directory, head_rev, None))
        assets = _assets_of(directory, head)
        if head_rev is not None:
            head = Side(head.label, head.project, head.problems, assets)
        base = stack.enter_context(_side(directory, base_rev, base_dir, assets))
        known = campaign_names(base.project, head.project)
        for name in campaigns:
            if name not in known:
                listed = ", ".join(sorted(known)) or "none"
                raise ReviewError(f"unknown campaign '{name}' (campaigns: {listed})")
        chosen = list(dict.fromkeys(campaigns)) or known
        projects = [p for p in (head.project, base.project) if p is not None]
        records = (
            sample_records(profiles, projects[0].schema, sample)
            if profiles is not None and projects
            else None
        )
        populations = {name: build_population(projects, name, records=records) for name in chosen}
        return diff_sides(base, head, populations, at)
