"""The validated project: frozen records that every later stage reads.

pydantic models (:mod:`atomcast.models`) check each file as it is read; what comes out of
loading are these plain frozen records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from atomcast.conditions import CompiledCondition
from atomcast.errors import Problem
from atomcast.models import Channel, Kind, ProjectConfig
from atomcast.schema import Profile, ProfileSchema
from atomcast.yamlsource import KeyPath, Located

CONFIG_FILE: Final = "atomcast.yaml"
ATOMS_DIR: Final = "content_atoms"
LAYOUTS_DIR: Final = "layouts"
PERSONAS_DIR: Final = "previews/profiles"
IMAGE_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg", ".webp"})
LAYOUT_SUFFIX: Final[dict[Channel, str]] = {
    "email": ".mjml",
    "push": ".yaml",
    "sms": ".txt",
    "web": ".html",
}
PUSH_LAYOUT_FIELDS: Final = ("title", "subtitle", "body", "image", "url")
#: What an atom's or the brand's templates may name: anything else is a typo.
ATOM_NAMES: Final = frozenset({"profile", "brand", "campaign", "locale"})
#: What a layout may name besides.
LAYOUT_NAMES: Final = ATOM_NAMES | {"slots", "channel", "unsubscribe_url", "preheader"}


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """A template with the file line its first line sits on, for error messages."""

    source: str
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class Atom:
    """A validated atom, ready for selection and rendering.

    :param fields: the kind's fields as written (templates not yet rendered).
    :param body: the Markdown body, when the file has one.
    :param image_path: the local image source, for image atoms with a file ``src``.
    """

    id: str
    kind: Kind
    path: str
    line: int
    locale: str
    priority: int
    weight: float
    segments: frozenset[str] | None
    when: CompiledCondition | None
    valid_from: dt.date | None
    valid_until: dt.date | None
    channels: frozenset[Channel]
    experiment: str | None
    arm: str | None
    tags: tuple[str, ...]
    fields: Mapping[str, Any]
    field_lines: Mapping[str, int]
    body: TemplateSource | None
    image_path: Path | None
    fingerprint: str

    def in_window(self, day: dt.date) -> bool:
        """Whether ``day`` (UTC) lies in the inclusive validity window."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        return not (self.valid_until is not None and day > self.valid_until)


@dataclass(frozen=True, slots=True)
class Layout:
    """A layout file: named template parts per channel.

    Email has ``subject``, ``preheader`` and ``body`` (MJML); push has ``title``,
    ``subtitle``, ``body``, ``image``, ``url``; SMS and web have ``body``.
    """

    channel: Channel
    name: str
    path: str
    parts: Mapping[str, TemplateSource]
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Persona:
    """A sample profile from ``previews/profiles``."""

    name: str
    path: str
    description: str
    raw: Mapping[str, Any]
    profile: Profile


@dataclass(frozen=True, slots=True)
class Segment:
    """A named segment of ``atomcast.yaml``, its condition compiled."""

    name: str
    condition: CompiledCondition
    line: int


@dataclass(frozen=True, slots=True)
class Project:
    """Everything loaded from one content project folder.

    :param segments: in dependency order, so a segment that uses ``$inSegment`` comes after
        the segments it names.
    :param problems: warnings (and, for a project loaded with ``strict=False``, errors).
    """

    root: Path
    config: ProjectConfig
    schema: ProfileSchema
    segments: tuple[Segment, ...]
    atoms: dict[str, Atom]
    layouts: dict[tuple[Channel, str], Layout]
    personas: dict[str, Persona]
    problems: list[Problem] = field(default_factory=list)
    source_lines: dict[str, Located] = field(default_factory=dict)
    #: Non-empty only for a project that ``check`` built around a faulty ``atomcast.yaml``:
    #: ``"config"`` plus the sections replaced by stand-ins (``brand``, ``profile``, ...).
    degraded: frozenset[str] = frozenset()

    def config_line(self, path: KeyPath) -> int:
        located = self.source_lines.get(CONFIG_FILE)
        return located.line_of(path) if located else 1

    def locale_chain(self, locale: str | None) -> tuple[str, ...]:
        """The profile's locale, its fallbacks in order, then the default; no repeats."""
        default = self.config.locales.default
        chain: list[str] = []
        if locale:
            chain.append(locale)
            chain.extend(self.config.locales.fallbacks.get(locale, ()))
            # "fr-CA" without declared fallbacks still falls back to "fr".
            base = locale.split("-")[0]
            if base != locale and locale not in self.config.locales.fallbacks:
                chain.append(base)
        chain.append(default)
        return tuple(dict.fromkeys(chain))

    def fingerprint(self, atom_ids: Iterable[str] = (), layouts: Iterable[Layout] = ()) -> str:
        """A hash of the config and of the given atoms and layouts (all when none given)."""
        digest = hashlib.sha256()
        config_path = self.root / CONFIG_FILE
        digest.update(config_path.read_bytes() if config_path.exists() else b"")
        logo = brand_asset(self.root, self.config.brand.logo_url)
        if logo is not None and logo.is_file():
            digest.update(b"\0logo:" + logo.read_bytes())
        ids = sorted(atom_ids) or sorted(self.atoms)
        for atom_id in ids:
            digest.update(f"\0atom:{atom_id}:{self.atoms[atom_id].fingerprint}".encode())
        chosen = list(layouts) or list(self.layouts.values())
        for layout in sorted(chosen, key=lambda item: (item.channel, item.name)):
            digest.update(f"\0layout:{layout.path}:{layout.fingerprint}".encode())
        return digest.hexdigest()


def brand_asset(root: Path, value: str | None) -> Path | None:
    """The project file a brand URL field names, when it names one rather than a URL.

    ``brand.logo_url: brand/logo.png`` is published into the assets folder at render time
    and reached through the assets base URL, like image atoms; an absolute URL stays as is.
    """
    if not value or "://" in value or value.startswith(("{{", "data:", "/", "//")):
        return None
    return root / value
