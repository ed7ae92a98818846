"""Stage 1: load a content project from disk and validate all of it.

:func:`load_project` reads ``atomcast.yaml``, every atom, layout and persona, checks each
against the models and against each other, and reports *every* problem as a
:class:`~atomcast.errors.Problem` with the file and line of the offending key. Conditions are
checked against the profile schema and compiled here, once, so that later stages only call
them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pydantic import ValidationError

from atomcast.errors import NoProjectError, Problem, ProjectError
from atomcast.models import ProjectConfig
from atomcast.project.atoms import load_atoms, shape_check_atoms
from atomcast.project.config import (
    check_assets,
    check_brand,
    check_campaigns,
    check_preview_styles,
    load_segments,
    partial_config,
    profile_schema,
)
from atomcast.project.context import LoadContext
from atomcast.project.layouts import load_layouts
from atomcast.project.model import CONFIG_FILE, Project
from atomcast.project.personas import load_personas
from atomcast.yamlsource import Located, YamlSyntaxError, load_yaml


def _load(ctx: LoadContext) -> Project | None:
    """The project, or ``None`` when ``atomcast.yaml`` does not load cleanly.

    With a faulty ``atomcast.yaml`` the sections that do validate are still used to check
    atoms, layouts and personas (``ctx.partial`` holds that project), so an editor sees
    every mistake at once.

    :raises NoProjectError: when the folder is missing or holds no ``atomcast.yaml``.
    """
    root = ctx.root
    config_path = root / CONFIG_FILE
    if not root.is_dir():
        raise NoProjectError(root, "not a folder" if root.exists() else "no such folder")
    if not config_path.is_file():
        raise NoProjectError(root, f"no {CONFIG_FILE}")
    text = ctx.read_text(config_path)
    if text is None:
        return None
    try:
        located = load_yaml(text)
    except YamlSyntaxError as exc:
        ctx.problems.add(config_path, exc.line, str(exc))
        shape_check_atoms(ctx)
        return None
    ctx.source_lines[CONFIG_FILE] = located
    if not isinstance(located.data, dict):
        ctx.problems.add(config_path, 1, "atomcast.yaml must be a mapping")
        shape_check_atoms(ctx)
        return None
    try:
        config = ProjectConfig.model_validate(located.data)
    except ValidationError as exc:
        ctx.validation_problems(exc, located, config_path)
        ctx.partial = _load_all(ctx, partial_config(ctx, located.data), located)
        return None
    return _load_all(ctx, config, located)


def _load_all(ctx: LoadContext, config: ProjectConfig, located: Located) -> Project:
    config_path = ctx.root / CONFIG_FILE
    schema = profile_schema(config)
    segments = load_segments(ctx, config, schema, located, config_path)
    layouts = load_layouts(ctx, schema)
    atoms = load_atoms(ctx, config, schema)
    check_campaigns(ctx, config, located, config_path, atoms, layouts)
    personas = load_personas(ctx, schema)
    check_brand(ctx, config, schema, located, config_path)
    check_assets(ctx, config, located, config_path)
    check_preview_styles(ctx)
    return Project(
        root=ctx.root,
        config=config,
        schema=schema,
        segments=segments,
        atoms=atoms,
        layouts=layouts,
        personas=personas,
        problems=ctx.problems.items,
        source_lines=ctx.source_lines,
    )


def load_project(root: Path | str = ".", *, strict: bool = True) -> Project:
    """Load and validate the content project in ``root``.

    :param strict: raise when any error is found; with ``False`` the project is returned with
        the faulty atoms, layouts or personas left out and every problem in
        :attr:`Project.problems` (what ``atomcast check`` and the preview need).
    :raises ProjectError: with every problem, when the project cannot be used.
    """
    ctx = LoadContext(Path(root))
    project = _load(ctx)
    if project is None or (strict and ctx.problems.has_errors):
        raise ProjectError(ctx.problems.items)
    return project


def collect_problems(
    root: Path | str = ".", *, partial: bool = False
) -> tuple[Project | None, list[Problem]]:
    """Load leniently and return the project (when the config loads) with every problem.

    :param partial: with a faulty ``atomcast.yaml``, return the project built from the
        sections that did load (its :attr:`Project.degraded` names the stand-ins) instead of
        ``None``, for checks that can still run on it.
    :raises NoProjectError: when ``root`` is not a project folder at all.
    """
    ctx = LoadContext(Path(root))
    project = _load(ctx)
    if project is None and partial and ctx.partial is not None:
        project = dataclasses.replace(ctx.partial, degraded=frozenset(ctx.degraded) | {"config"})
    return project, sorted(ctx.problems.items)
