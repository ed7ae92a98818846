"""atomcast: personalised campaigns from content atoms, one profile at a time or millions.

The public Python API, importable from ``atomcast`` itself::

    from atomcast import load_project, Renderer, BatchJob, render_batch

    project = load_project(".")                       # raises ProjectError with every problem
    record = Renderer(project).campaign("summer-sale", at="2026-07-15").render_raw(profile)

Everything atomcast raises on purpose derives from :class:`AtomcastError` (the tree is in
:mod:`atomcast.errors`, imported here eagerly since it depends on nothing). The stages load
on first use: importing one stage (``atomcast.errors``, ``atomcast.conditions``) then does
not pull in every other one (Jinja, MJML, pyarrow...), and the stages, which themselves
import ``atomcast``, stay free of an import cycle through this module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from atomcast.errors import (
    AtomcastError,
    BatchError,
    ConditionError,
    LimitError,
    NoProjectError,
    ParameterError,
    Problem,
    ProfileError,
    ProjectError,
    RenderError,
    UnknownCampaignError,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from atomcast.batch import BatchJob, render_batch
    from atomcast.check import check_project
    from atomcast.conditions import check_condition, compile_condition
    from atomcast.project import Atom, Layout, Project, collect_problems, load_project
    from atomcast.render import CampaignRenderer, Renderer, render_profile
    from atomcast.selection import Selector, parse_instant

#: Public name -> the module that defines it, imported on first access.
_LAZY: dict[str, str] = {
    "Atom": "atomcast.project",
    "BatchJob": "atomcast.batch",
    "CampaignRenderer": "atomcast.render",
    "Layout": "atomcast.project",
    "Project": "atomcast.project",
    "Renderer": "atomcast.render",
    "Selector": "atomcast.selection",
    "check_condition": "atomcast.conditions",
    "check_project": "atomcast.check",
    "collect_problems": "atomcast.project",
    "compile_condition": "atomcast.conditions",
    "load_project": "atomcast.project",
    "parse_instant": "atomcast.selection",
    "render_batch": "atomcast.batch",
    "render_profile": "atomcast.render",
}

__all__ = [
    "Atom",
    "AtomcastError",
    "BatchError",
    "BatchJob",
    "CampaignRenderer",
    "ConditionError",
    "Layout",
    "LimitError",
    "NoProjectError",
    "ParameterError",
    "Problem",
    "ProfileError",
    "Project",
    "ProjectError",
    "RenderError",
    "Renderer",
    "Selector",
    "UnknownCampaignError",
    "__version__",
    "check_condition",
    "check_project",
    "collect_problems",
    "compile_condition",
    "load_project",
    "parse_instant",
    "render_batch",
    "render_profile",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'atomcast' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
