"""Stage 1: the content project, loaded from disk and validated as a whole.

:mod:`.load` drives the load; :mod:`.config` checks ``atomcast.yaml`` (segments, campaigns,
brand), :mod:`.atoms` the atoms (one small rule per kind), :mod:`.layouts` and
:mod:`.personas` the other files; :mod:`.context` holds the problems found so far and
:mod:`.model` the frozen records every later stage reads. pydantic models
(:mod:`atomcast.models`) validate each file at the boundary.
"""

from atomcast.project.context import BCP47, locale_problem
from atomcast.project.load import collect_problems, load_project
from atomcast.project.model import (
    ATOM_NAMES,
    ATOMS_DIR,
    CONFIG_FILE,
    IMAGE_SUFFIXES,
    LAYOUT_NAMES,
    LAYOUT_SUFFIX,
    LAYOUTS_DIR,
    PERSONAS_DIR,
    PUSH_LAYOUT_FIELDS,
    Atom,
    Layout,
    Persona,
    Project,
    Segment,
    TemplateSource,
    brand_asset,
)

__all__ = [
    "ATOMS_DIR",
    "ATOM_NAMES",
    "BCP47",
    "CONFIG_FILE",
    "IMAGE_SUFFIXES",
    "LAYOUTS_DIR",
    "LAYOUT_NAMES",
    "LAYOUT_SUFFIX",
    "PERSONAS_DIR",
    "PUSH_LAYOUT_FIELDS",
    "Atom",
    "Layout",
    "Persona",
    "Project",
    "Segment",
    "TemplateSource",
    "brand_asset",
    "collect_problems",
    "load_project",
    "locale_problem",
]
