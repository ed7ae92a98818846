"""Stage 1: load a content project from disk and validate all of it.

:func:`load_project` reads ``atomcast.yaml``, every atom, layout and persona, checks each
against the models and against each other, and reports *every* problem as a
:class:`~atomcast.errors.Problem` with the file and line of the offending key. Conditions are
checked against the profile schema and compiled here, once, so that later stages only call
them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, ValidationError

from atomcast.conditions import (
    CompiledCondition,
    check_condition,
    compile_condition,
    normalize_condition,
)
from atomcast.errors import (
    InputTooLargeError,
    NoProjectError,
    Problem,
    ProfileError,
    ProjectError,
    Severity,
    relative_path,
)
from atomcast.models import (
    CHANNELS,
    REQUIRED_FIELDS,
    TEMPLATE_FIELDS,
    AssetsConfig,
    AtomSpec,
    AttributeConfig,
    BrandConfig,
    CampaignConfig,
    Channel,
    Kind,
    LocalesConfig,
    ProjectConfig,
)
from atomcast.paths import confined, name_problem, read_limited
from atomcast.schema import AttributeSpec, Profile, ProfileSchema, validate_profile
from atomcast.templating import analyse
from atomcast.yamlsource import KeyPath, Located, YamlSyntaxError, load_yaml, split_front_matter

CONFIG_FILE = "atomcast.yaml"
ATOMS_DIR = "content_atoms"
LAYOUTS_DIR = "layouts"
PERSONAS_DIR = "previews/profiles"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
LAYOUT_SUFFIX: dict[Channel, str] = {
    "email": ".mjml",
    "push": ".yaml",
    "sms": ".txt",
    "web": ".html",
}
PUSH_LAYOUT_FIELDS = ("title", "subtitle", "body", "image", "url")
#: What a template may name besides ``profile``: anything else is a typo.
#: What an atom's or the brand's templates may name: anything else is a typo.
ATOM_NAMES = frozenset({"profile", "brand", "campaign", "locale"})
#: What a layout may name besides.
LAYOUT_NAMES = ATOM_NAMES | {"slots", "channel", "unsubscribe_url", "preheader"}
#: A BCP 47 language tag (RFC 5646 ``langtag``, without grandfathered tags): ``fr``,
#: ``fr-CA``, ``zh-Hant-TW``, ``es-419``. ``fr_FR`` is not one and matches no profile.
BCP47 = re.compile(
    r"(?i)[a-z]{2,3}(?:-[a-z]{3}){0,3}"
    r"(?:-[a-z]{4})?(?:-(?:[a-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"
    r"(?:-[a-wyz0-9](?:-[a-z0-9]{2,8})+)*(?:-x(?:-[a-z0-9]{1,8})+)?"
)


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
    name: str
    condition: CompiledCondition
    line: int


@dataclass(slots=True)
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


class _Problems:
    """Collects problems with paths made relative to the project root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items: list[Problem] = []

    def add(self, path: Path | str, line: int, message: str, severity: Severity = "error") -> None:
        shown = relative_path(path, self.root) if isinstance(path, Path) else path
        self.items.append(Problem(shown, max(line, 1), severity, message))

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.items)


def _describe_loc(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc if part != "[key]") or "(document)"


def _pydantic_problems(
    error: ValidationError, located: Located, path: Path, problems: _Problems, prefix: KeyPath = ()
) -> None:
    for item in error.errors(include_url=False):
        loc = tuple(part for part in item["loc"] if part != "[key]")
        # model_validator errors carry no field; point at the mapping that holds them.
        keypath: KeyPath = prefix + tuple(p for p in loc if isinstance(p, str | int))
        line = located.line_of(keypath)
        kind = item["type"]
        where = _describe_loc(loc)
        if kind == "extra_forbidden":
            message = f"unknown field '{loc[-1]}'" + (
                f" in {_describe_loc(loc[:-1])}" if len(loc) > 1 else ""
            )
            siblings = _model_fields_at(error, loc)
            close = difflib.get_close_matches(str(loc[-1]), siblings, n=1)
            if close:
                message += f" (did you mean '{close[0]}'?)"
        elif kind == "missing":
            message = f"{where}: required field is missing"
        elif kind == "literal_error":
            expected = item.get("ctx", {}).get("expected", "")
            message = f"{where}: {item['input']!r} is not allowed; expected {expected}"
        elif kind == "value_error":
            message = f"{where}: {str(item['msg']).removeprefix('Value error, ')}"
        else:
            message = f"{where}: {item['msg']} (got {item['input']!r})"
        problems.add(path, line, message)


def _model_fields_at(error: ValidationError, loc: tuple[str | int, ...]) -> list[str]:
    # The error does not say which model rejected the key; the common models cover typos.
    from atomcast import models

    candidates: list[type[BaseModel]] = [
        models.ProjectConfig,
        models.BrandConfig,
        models.LocalesConfig,
        models.AttributeConfig,
        models.CampaignConfig,
        models.ChannelConfig,
        models.SlotConfig,
        models.ExperimentConfig,
        models.AtomSpec,
        models.AssetsConfig,
        models.MetricConfig,
    ]
    names: list[str] = []
    for model in candidates:
        names.extend(model.model_fields)
    return names


def _read_text(path: Path, problems: _Problems) -> str | None:
    try:
        return read_limited(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.add(path, 1, f"not UTF-8 text: {exc.reason} at byte {exc.start}")
    except InputTooLargeError:
        problems.add(path, 1, _too_large(path))
    except OSError as exc:
        problems.add(path, 1, f"cannot read: {exc.strerror}")
    return None


def _too_large(path: Path) -> str:
    from atomcast.paths import MAX_FILE_BYTES

    return f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: not read"


def locale_problem(locale: str) -> str | None:
    """Why ``locale`` is not a BCP 47 tag, with the likely intended tag; ``None`` when it is."""
    if BCP47.fullmatch(locale):
        return None
    fixed = locale.replace("_", "-")
    hint = f" (did you mean '{fixed}'?)" if fixed != locale and BCP47.fullmatch(fixed) else ""
    return (
        f"locale {locale!r} is not a BCP 47 tag{hint}: profiles carry tags such as 'fr-CA', "
        "so it would never match"
    )


def _attribute_spec(name: str, config: AttributeConfig) -> AttributeSpec:
    return AttributeSpec(
        name=name,
        type=config.type,
        required=config.required,
        sensitive=config.sensitive,
        description=config.description,
        properties={k: _attribute_spec(k, v) for k, v in config.properties.items()},
    )


def _check_template(
    source: str,
    path: str,
    line: int,
    what: str,
    schema: ProfileSchema,
    problems: _Problems,
    mode: str = "text",
    names: frozenset[str] = ATOM_NAMES,
) -> bool:
    """Parse a template and check its names and profile references; True when it parses."""
    try:
        analysis = analyse(source, "html" if mode == "html" else "text")
    except TemplateSyntaxError as exc:
        problems.add(path, line + (exc.lineno or 1) - 1, f"{what}: template error: {exc.message}")
        return False
    references = analysis.references
    for name in sorted(analysis.names - names):
        close = difflib.get_close_matches(name, sorted(names), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        problems.add(
            path,
            line,
            f"{what}: unknown variable '{name}'{hint}; templates here see "
            f"{', '.join(sorted(names))}",
        )
    sensitive = schema.sensitive_names
    for ref in references:
        ref_line = line + ref.line - 1
        spec = schema.resolve(ref.attribute)
        if spec is False:
            known = difflib.get_close_matches(ref.attribute, list(schema.attributes), n=1)
            hint = f" (did you mean '{known[0]}'?)" if known else ""
            problems.add(
                path,
                ref_line,
                f"{what}: profile.{ref.attribute} is not in the profile schema{hint}",
            )
        elif ref.printed and ref.attribute.split(".")[0] in sensitive:
            problems.add(
                path,
                ref_line,
                f"{what}: prints sensitive attribute profile.{ref.attribute}; "
                "sensitive attributes may be used in rules, never printed",
            )
    return True


def _condition_problems(
    condition: Any,
    schema: ProfileSchema,
    segment_names: Iterable[str],
    located: Located,
    prefix: KeyPath,
    path: Path,
    what: str,
    problems: _Problems,
    ignore: frozenset[str] = frozenset(),
) -> bool:
    issues = check_condition(condition, schema, list(segment_names))
    if ignore:
        # Attributes whose own declaration failed: that error is reported once, at it.
        issues = [i for i in issues if not ignore.intersection(map(str, i.where))]
    for issue in issues:
        line = located.line_of(prefix + tuple(issue.where))
        problems.add(path, line, f"{what}: {issue}")
    return not issues


def _file_fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems = _Problems(root)
        self.source_lines: dict[str, Located] = {}
        self.broken_layouts: set[tuple[str, str]] = set()
        #: Sections of a faulty atomcast.yaml replaced by stand-ins (brand, profile, ...).
        self.degraded: set[str] = set()
        #: Profile attributes whose declaration failed: uses of them are not reported again.
        self.unknown_attributes: set[str] = set()
        #: With a faulty atomcast.yaml: the project built from what did load, for ``check``.
        self.partial: Project | None = None
        self.root_resolved = root.resolve()

    def escapes(self, path: Path, what: str) -> bool:
        """Whether ``path`` resolves outside the project; reported as an error when so."""
        if confined(self.root_resolved, path) is not None:
            return False
        try:
            target = str(path.resolve())
        except (OSError, RuntimeError):
            target = "a symlink loop"
        try:
            shown = path.relative_to(self.root).as_posix()
        except ValueError:
            shown = path.as_posix()
        self.problems.add(
            shown,
            1,
            f"{what} resolves outside the project (to {target}): not read; project files "
            "must lie inside the project folder",
        )
        return True

    def load(self) -> Project | None:
        """The project, or ``None`` when ``atomcast.yaml`` does not load cleanly.

        With a faulty ``atomcast.yaml`` the sections that do validate are still used to check
        atoms, layouts and personas (:attr:`partial` holds that project), so an editor sees
        every mistake at once.

        :raises NoProjectError: when the folder is missing or holds no ``atomcast.yaml``.
        """
        config_path = self.root / CONFIG_FILE
        if not self.root.is_dir():
            reason = "not a folder" if self.root.exists() else "no such folder"
            raise NoProjectError(self.root, reason)
        if not config_path.is_file():
            raise NoProjectError(self.root, f"no {CONFIG_FILE}")
        text = _read_text(config_path, self.problems)
        if text is None:
            return None
        try:
            located = load_yaml(text)
        except YamlSyntaxError as exc:
            self.problems.add(config_path, exc.line, str(exc))
            self._shape_check_atoms()
            return None
        self.source_lines[CONFIG_FILE] = located
        if not isinstance(located.data, dict):
            self.problems.add(config_path, 1, "atomcast.yaml must be a mapping")
            self._shape_check_atoms()
            return None
        try:
            config = ProjectConfig.model_validate(located.data)
        except ValidationError as exc:
            _pydantic_problems(exc, located, config_path, self.problems)
            self.partial = self._load_all(self._partial_config(located.data), located)
            return None
        return self._load_all(config, located)

    def _partial_config(self, data: Mapping[str, Any]) -> ProjectConfig:
        """The sections of a faulty ``atomcast.yaml`` that validate on their own.

        A broken campaign is left out; a broken brand or profile schema is replaced by a
        stand-in and named in :attr:`degraded`, so that checks relying on it stay quiet
        rather than report the config's one mistake again on every file.
        """
        parts: dict[str, Any] = {}
        sections: dict[str, type[BaseModel]] = {
            "brand": BrandConfig,
            "locales": LocalesConfig,
            "assets": AssetsConfig,
        }
        for key, model in sections.items():
            if key not in data:
                continue
            try:
                parts[key] = model.model_validate(data[key])
            except ValidationError:
                self.degraded.add(key)
        if "brand" not in parts:
            self.degraded.add("brand")
            parts["brand"] = BrandConfig(
                name="", from_email="", unsubscribe_url="https://invalid.example/"
            )
        profile: dict[str, AttributeConfig] = {}
        raw_profile = data.get("profile")
        for name, spec in (raw_profile if isinstance(raw_profile, dict) else {}).items():
            try:
                profile[str(name)] = AttributeConfig.model_validate(spec)
            except ValidationError:
                self.unknown_attributes.add(str(name))
        if not isinstance(raw_profile, dict):
            self.degraded.add("profile")
        # An attribute that failed is still declared: an untyped object admits any use.
        for name in self.unknown_attributes:
            profile[name] = AttributeConfig(type="object")
        profile.setdefault("id", AttributeConfig(type="string"))
        parts["profile"] = profile
        segments = data.get("segments")
        parts["segments"] = segments if isinstance(segments, dict) else {}
        campaigns: dict[str, CampaignConfig] = {}
        raw_campaigns = data.get("campaigns")
        for name, campaign in (raw_campaigns if isinstance(raw_campaigns, dict) else {}).items():
            try:
                campaigns[str(name)] = CampaignConfig.model_validate(campaign)
            except ValidationError:
                self.degraded.add("campaigns")
        parts["campaigns"] = campaigns
        try:
            return ProjectConfig.model_validate(parts)
        except ValidationError:
            # Attribute names the config refuses: keep only the valid ones.
            self.degraded.add("profile")
            parts["profile"] = {
                k: v for k, v in profile.items() if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", k)
            }
            parts["profile"].setdefault("id", AttributeConfig(type="string"))
        try:
            return ProjectConfig.model_validate(parts)
        except ValidationError:
            self.degraded.update(("profile", "campaigns", "segments"))
            return ProjectConfig(
                brand=parts["brand"], profile={"id": AttributeConfig(type="string")}
            )

    def _load_all(self, config: ProjectConfig, located: Located) -> Project:
        config_path = self.root / CONFIG_FILE
        schema = ProfileSchema({k: _attribute_spec(k, v) for k, v in config.profile.items()})
        segments = self._segments(config, schema, located, config_path)
        layouts = self._layouts(schema)
        # Every declared name counts: a segment with a broken condition has its own error.
        atoms = self._atoms(config, schema, set(config.segments))
        self._campaigns(config, located, config_path, atoms, layouts)
        personas = self._personas(schema)
        self._brand(config, schema, located, config_path)
        self._assets(config, located, config_path)
        self._preview_styles()
        return Project(
            root=self.root,
            config=config,
            schema=schema,
            segments=segments,
            atoms=atoms,
            layouts=layouts,
            personas=personas,
            problems=self.problems.items,
            source_lines=self.source_lines,
        )

    # -- atomcast.yaml ---------------------------------------------------------------------

    def _brand(
        self, config: ProjectConfig, schema: ProfileSchema, located: Located, path: Path
    ) -> None:
        for name in ("unsubscribe_url", "sms_footer", "name"):
            value = getattr(config.brand, name)
            if value:
                _check_template(
                    value,
                    CONFIG_FILE,
                    located.line_of(("brand", name)),
                    f"brand.{name}",
                    schema,
                    self.problems,
                )
        if not config.brand.unsubscribe_url.startswith(("https://", "{{")):
            self.problems.add(
                path,
                located.line_of(("brand", "unsubscribe_url")),
                "brand.unsubscribe_url must be an https URL (List-Unsubscribe needs it)",
            )
        if "locales" not in self.degraded:
            self._locale_tags(config, located, path)
        logo = brand_asset(self.root, config.brand.logo_url)
        if logo is not None:
            where = located.line_of(("brand", "logo_url"))
            resolved = logo.resolve()
            if not resolved.is_relative_to(self.root.resolve()):
                self.problems.add(path, where, "brand.logo_url points outside the project")
            elif not resolved.is_file():
                self.problems.add(
                    path,
                    where,
                    f"brand.logo_url: file not found: {config.brand.logo_url} (a path is "
                    "relative to the project folder; a URL starts with https://)",
                )
            elif resolved.suffix.lower() not in IMAGE_SUFFIXES | {".svg", ".gif"}:
                self.problems.add(
                    path, where, "brand.logo_url must be a png, jpg, jpeg, webp, gif or svg file"
                )
        known = {config.locales.default, *config.locales.fallbacks}
        for locale, chain in config.locales.fallbacks.items():
            for index, fallback in enumerate(chain):
                if fallback == locale:
                    self.problems.add(
                        path,
                        located.line_of(("locales", "fallbacks", locale, index)),
                        f"locales.fallbacks.{locale}: a locale cannot fall back to itself",
                    )
            known.update(chain)

    def _locale_tags(self, config: ProjectConfig, located: Located, path: Path) -> None:
        tags: list[tuple[str, KeyPath]] = [(config.locales.default, ("locales", "default"))]
        for locale, chain in config.locales.fallbacks.items():
            tags.append((locale, ("locales", "fallbacks", locale)))
            tags.extend(
                (fallback, ("locales", "fallbacks", locale, index))
                for index, fallback in enumerate(chain)
            )
        for tag, key in tags:
            problem = locale_problem(tag)
            if problem:
                self.problems.add(path, located.line_of(key), f"locales: {problem}")

    def _assets(self, config: ProjectConfig, located: Located, path: Path) -> None:
        """``assets.dir`` is written by every render: it must stay inside the project."""
        if "assets" in self.degraded:
            return
        folder = Path(config.assets.dir)
        if folder.is_absolute() or confined(self.root_resolved, folder) is None:
            self.problems.add(
                path,
                located.line_of(("assets", "dir")),
                f"assets.dir {config.assets.dir!r} lies outside the project (an absolute path, "
                "'..' or a symlink): renders write image renditions there, so it must be a "
                "folder inside the project",
            )

    def _preview_styles(self) -> None:
        """``previews/*.css`` is served by the preview: never a link to a file elsewhere."""
        folder = self.root / PERSONAS_DIR.split("/")[0]
        if not folder.is_dir() or self.escapes(folder, "the previews folder"):
            return
        for file in sorted(folder.glob("*.css")):
            self.escapes(file, "stylesheet")

    def _segments(
        self, config: ProjectConfig, schema: ProfileSchema, located: Located, path: Path
    ) -> tuple[Segment, ...]:
        names = set(config.segments)
        valid: dict[str, CompiledCondition] = {}
        for name, condition in config.segments.items():
            ok = _condition_problems(
                condition,
                schema,
                names,
                located,
                ("segments", name),
                path,
                f"segment '{name}'",
                self.problems,
                frozenset(self.unknown_attributes),
            )
            if ok:
                valid[name] = compile_condition(normalize_condition(condition, schema))
        # Segments may build on each other with $inSegment: order them, refuse cycles.
        ordered: list[Segment] = []
        state: dict[str, int] = {}

        def visit(name: str, trail: tuple[str, ...]) -> None:
            if state.get(name) == 2 or name not in valid:
                return
            if state.get(name) == 1:
                cycle = " -> ".join((*trail[trail.index(name) :], name))
                self.problems.add(
                    path, located.line_of(("segments", name)), f"segments refer in a cycle: {cycle}"
                )
                return
            state[name] = 1
            for used in sorted(valid[name].segments_used):
                visit(used, (*trail, name))
            state[name] = 2
            ordered.append(Segment(name, valid[name], located.line_of(("segments", name))))

        for name in valid:
            visit(name, ())
        return tuple(ordered)

    def _campaigns(
        self,
        config: ProjectConfig,
        located: Located,
        path: Path,
        atoms: Mapping[str, Atom],
        layouts: Mapping[tuple[Channel, str], Layout],
    ) -> None:
        for name, campaign in config.campaigns.items():
            base: KeyPath = ("campaigns", name)
            bad_name = name_problem(name, what="campaign name")
            if bad_name:
                self.problems.add(path, located.line_of(base), bad_name)
            if (
                "sms" in campaign.channels
                and not campaign.transactional
                and "brand" not in self.degraded
                and not config.brand.sms_footer.strip()
            ):
                self.problems.add(
                    path,
                    located.line_of((*base, "channels", "sms")),
                    f"compliance: campaign '{name}' is marketing (not transactional: true) and "
                    "sends SMS, but brand.sms_footer is empty: every marketing SMS needs an "
                    "opt-out such as 'Reply STOP to opt out'",
                )
            for channel, channel_config in campaign.channels.items():
                key = (channel, channel_config.layout)
                # A layout that exists but failed to load has its own errors already.
                if key not in layouts and key not in self.broken_layouts:
                    expected = (
                        f"{LAYOUTS_DIR}/{channel}/{channel_config.layout}{LAYOUT_SUFFIX[channel]}"
                    )
                    self.problems.add(
                        path,
                        located.line_of((*base, "channels", channel, "layout")),
                        f"campaign '{name}': layout '{channel_config.layout}' for {channel} "
                        f"does not exist (expected {expected})",
                    )
                if channel_config.max_segments is not None and channel != "sms":
                    self.problems.add(
                        path,
                        located.line_of((*base, "channels", channel, "max_segments")),
                        f"campaign '{name}': max_segments applies to sms only",
                        "warning",
                    )
            for slot_name, slot in campaign.slots.items():
                if slot.fallback is None:
                    continue
                line = located.line_of((*base, "slots", slot_name, "fallback"))
                atom = atoms.get(slot.fallback)
                if atom is None:
                    close = difflib.get_close_matches(slot.fallback, list(atoms), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    self.problems.add(
                        path,
                        line,
                        f"campaign '{name}': slot '{slot_name}' falls back to atom "
                        f"'{slot.fallback}', which does not exist{hint}",
                    )
                elif atom.kind not in slot.kinds:
                    self.problems.add(
                        path,
                        line,
                        f"campaign '{name}': fallback '{slot.fallback}' is a {atom.kind}, "
                        f"but slot '{slot_name}' takes {', '.join(slot.kinds)}",
                    )
            self._experiments(name, campaign, located, path, atoms)

    def _experiments(
        self,
        name: str,
        campaign: CampaignConfig,
        located: Located,
        path: Path,
        atoms: Mapping[str, Atom],
    ) -> None:
        base: KeyPath = ("campaigns", name, "experiments")
        slots_seen: dict[str, str] = {}
        for exp_name, experiment in campaign.experiments.items():
            if experiment.slot not in campaign.slots:
                self.problems.add(
                    path,
                    located.line_of((*base, exp_name, "slot")),
                    f"experiment '{exp_name}': slot '{experiment.slot}' is not a slot of "
                    f"campaign '{name}'",
                )
            elif experiment.slot in slots_seen:
                self.problems.add(
                    path,
                    located.line_of((*base, exp_name, "slot")),
                    f"experiment '{exp_name}': slot '{experiment.slot}' already has experiment "
                    f"'{slots_seen[experiment.slot]}'",
                )
            slots_seen.setdefault(experiment.slot, exp_name)
            for arm in experiment.variants:
                if not any(a.experiment == exp_name and a.arm == arm for a in atoms.values()):
                    self.problems.add(
                        path,
                        located.line_of((*base, exp_name, "variants", arm)),
                        f"experiment '{exp_name}': no atom carries variant '{exp_name}:{arm}'",
                        "warning",
                    )

    # -- atoms -----------------------------------------------------------------------------

    def _atom_files(self) -> list[Path]:
        folder = self.root / ATOMS_DIR
        if not folder.is_dir() or self.escapes(folder, f"the {ATOMS_DIR} folder"):
            return []
        # rglob does not descend into linked folders; a link out is still worth an error.
        for entry in sorted(folder.rglob("*")):
            if entry.is_symlink() and entry.is_dir():
                self.escapes(entry, "linked folder")
        files = sorted(p for p in folder.rglob("*.md") if p.is_file())
        return [file for file in files if not self.escapes(file, "atom")]

    def _shape_check_atoms(self) -> None:
        for file in self._atom_files():
            self._parse_atom(file)

    def _parse_atom(self, file: Path) -> tuple[AtomSpec, Located, str, int, bytes] | None:
        try:
            data = read_limited(file)
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.problems.add(file, 1, f"not UTF-8 text: {exc.reason} at byte {exc.start}")
            return None
        except InputTooLargeError:
            self.problems.add(file, 1, _too_large(file))
            return None
        except OSError as exc:
            self.problems.add(file, 1, f"cannot read atom: {exc.strerror}")
            return None
        try:
            front = split_front_matter(text)
        except YamlSyntaxError as exc:
            self.problems.add(file, exc.line, str(exc))
            return None
        meta = front.meta
        if not isinstance(meta.data, dict) or not meta.data:
            self.problems.add(file, 1, "an atom needs YAML front matter between '---' lines")
            return None
        self.source_lines[relative_path(file, self.root)] = meta
        try:
            spec = AtomSpec.model_validate(meta.data)
        except ValidationError as exc:
            _pydantic_problems(exc, meta, file, self.problems)
            return None
        return spec, meta, front.body, front.body_line, data

    def _atoms(
        self, config: ProjectConfig, schema: ProfileSchema, segment_names: set[str]
    ) -> dict[str, Atom]:
        atoms: dict[str, Atom] = {}
        first_seen: dict[str, tuple[str, int]] = {}
        experiments = {
            exp_name: set(exp.variants)
            for campaign in config.campaigns.values()
            for exp_name, exp in campaign.experiments.items()
        }
        known_locales = {config.locales.default, *config.locales.fallbacks}
        for chain in config.locales.fallbacks.values():
            known_locales.update(chain)
        for file in self._atom_files():
            parsed = self._parse_atom(file)
            if parsed is None:
                continue
            spec, meta, body_text, body_line, data = parsed
            rel = relative_path(file, self.root)
            atom_id = spec.id or file.stem
            id_line = meta.line_of(("id",)) if spec.id else 1
            before = len(self.problems.items)
            if atom_id in first_seen:
                first_rel, first_line = first_seen[atom_id]
                self.problems.add(
                    file,
                    id_line,
                    f"duplicate atom id '{atom_id}' (also defined in {first_rel}:{first_line})",
                )
                # The first file is as much at fault: the editor may want to rename either.
                self.problems.add(
                    first_rel,
                    first_line,
                    f"duplicate atom id '{atom_id}' (also defined in {rel}:{id_line})",
                )
                continue
            first_seen[atom_id] = (rel, id_line)
            bad_id = name_problem(atom_id, what="atom id", colon=True)
            if bad_id:
                hint = "" if spec.id else " (the id is the file name; give the atom an 'id')"
                self.problems.add(file, id_line, bad_id + hint)
                continue
            atom = self._build_atom(
                file,
                rel,
                atom_id,
                spec,
                meta,
                body_text,
                body_line,
                data,
                schema,
                segment_names,
                experiments,
                known_locales,
                config,
            )
            errors_added = any(p.is_error for p in self.problems.items[before:])
            if atom is not None and not errors_added:
                atoms[atom_id] = atom
        return atoms

    def _build_atom(
        self,
        file: Path,
        rel: str,
        atom_id: str,
        spec: AtomSpec,
        meta: Located,
        body_text: str,
        body_line: int,
        data: bytes,
        schema: ProfileSchema,
        segment_names: set[str],
        experiments: Mapping[str, set[str]],
        known_locales: set[str],
        config: ProjectConfig,
    ) -> Atom | None:
        def line(*key: str | int) -> int:
            return meta.line_of(key)

        for required in REQUIRED_FIELDS[spec.kind]:
            if getattr(spec, required) in (None, ""):
                self.problems.add(file, line("kind"), f"{spec.kind} atom needs '{required}'")
        body = body_text.strip("\n")
        if spec.kind == "body" and not body.strip():
            self.problems.add(
                file, line("kind"), "body atom needs a Markdown body after the front matter"
            )
        if spec.kind == "cta" and spec.url and not spec.url.startswith(("https://", "{{")):
            self.problems.add(file, line("url"), f"cta url must be https, got {spec.url!r}")
        if spec.link and not spec.link.startswith(("https://", "{{", "/")):
            self.problems.add(file, line("link"), f"link must be https, got {spec.link!r}")
        if spec.valid_from and spec.valid_until and spec.valid_until < spec.valid_from:
            self.problems.add(
                file,
                line("valid_until"),
                f"valid_until {spec.valid_until} is before valid_from {spec.valid_from}",
            )
        image_path: Path | None = None
        if spec.kind == "image" and spec.src:
            if spec.src.startswith("https://"):
                pass
            elif "://" in spec.src or spec.src.startswith(("/", "data:")):
                self.problems.add(
                    file,
                    line("src"),
                    f"image src must be a file beside the atom or https URL, got {spec.src!r}",
                )
            else:
                candidate = (file.parent / spec.src).resolve()
                if not candidate.is_relative_to(self.root.resolve()):
                    self.problems.add(file, line("src"), "image src points outside the project")
                elif not candidate.is_file():
                    self.problems.add(file, line("src"), f"image file not found: {spec.src}")
                elif candidate.suffix.lower() not in IMAGE_SUFFIXES:
                    self.problems.add(
                        file, line("src"), f"image must be png, jpg, jpeg or webp: {spec.src}"
                    )
                else:
                    image_path = candidate
                    data += candidate.read_bytes()
        for name in (*TEMPLATE_FIELDS, "url", "link"):
            value = getattr(spec, name)
            if isinstance(value, str):
                _check_template(value, rel, line(name), name, schema, self.problems)
        body_source: TemplateSource | None = None
        if body.strip() and _check_template(
            body, rel, body_line, "body", schema, self.problems, "html"
        ):
            body_source = TemplateSource(body, rel, body_line)
        for index, segment in enumerate(spec.segments or ()):
            if segment not in segment_names:
                close = difflib.get_close_matches(segment, list(segment_names), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.problems.add(
                    file, line("segments", index), f"unknown segment '{segment}'{hint}"
                )
        when: CompiledCondition | None = None
        if spec.when is not None and _condition_problems(
            spec.when,
            schema,
            segment_names,
            meta,
            ("when",),
            file,
            "when",
            self.problems,
            frozenset(self.unknown_attributes),
        ):
            when = compile_condition(normalize_condition(spec.when, schema))
        experiment = arm = None
        if spec.variant:
            experiment, arm = spec.variant.split(":", 1)
            if experiment not in experiments:
                if "campaigns" not in self.degraded:
                    self.problems.add(file, line("variant"), f"unknown experiment '{experiment}'")
            elif arm not in experiments[experiment]:
                arms = ", ".join(sorted(experiments[experiment]))
                self.problems.add(
                    file,
                    line("variant"),
                    f"experiment '{experiment}' has no variant '{arm}' (it has {arms})",
                )
        locale = spec.locale or config.locales.default
        bad_locale = locale_problem(spec.locale) if spec.locale is not None else None
        if bad_locale:
            self.problems.add(file, line("locale"), bad_locale)
        reachable = known_locales | {known.split("-")[0] for known in known_locales}
        if (
            not bad_locale
            and "locales" not in self.degraded
            and locale not in reachable
            and "-" in locale
        ):
            self.problems.add(
                file,
                line("locale"),
                f"locale '{locale}' is neither the default nor in any fallback chain: "
                "only profiles with exactly this locale can get this atom",
                "warning",
            )
        fields = {
            name: getattr(spec, name)
            for name in (
                "text",
                "short",
                "src",
                "alt",
                "focal",
                "link",
                "title",
                "code",
                "discount",
                "amount",
                "expires",
                "terms",
                "label",
                "url",
            )
        }
        return Atom(
            id=atom_id,
            kind=spec.kind,
            path=rel,
            line=1,
            locale=locale,
            priority=spec.priority,
            weight=spec.weight,
            segments=frozenset(spec.segments) if spec.segments is not None else None,
            when=when,
            valid_from=spec.valid_from,
            valid_until=spec.valid_until,
            channels=frozenset(spec.channels or CHANNELS),
            experiment=experiment,
            arm=arm,
            tags=tuple(spec.tags),
            fields=fields,
            field_lines={name: line(name) for name in fields if name in meta.data},
            body=body_source,
            image_path=image_path,
            fingerprint=_file_fingerprint(data),
        )

    # -- layouts ---------------------------------------------------------------------------

    def _layouts(self, schema: ProfileSchema) -> dict[tuple[Channel, str], Layout]:
        layouts: dict[tuple[Channel, str], Layout] = {}
        top = self.root / LAYOUTS_DIR
        if top.is_dir() and self.escapes(top, f"the {LAYOUTS_DIR} folder"):
            return layouts
        for channel in CHANNELS:
            folder = top / channel
            if not folder.is_dir() or self.escapes(folder, f"the {LAYOUTS_DIR}/{channel} folder"):
                continue
            for file in sorted(folder.iterdir()):
                if not file.is_file() or file.name.startswith("."):
                    continue
                if self.escapes(file, "layout"):
                    self.broken_layouts.add((channel, file.stem))
                    continue
                if file.suffix != LAYOUT_SUFFIX[channel]:
                    self.problems.add(
                        file,
                        1,
                        f"{channel} layouts end in {LAYOUT_SUFFIX[channel]}; this file is ignored",
                        "warning",
                    )
                    continue
                layout = self._layout(channel, file, schema)
                if layout is not None:
                    layouts[(channel, file.stem)] = layout
                else:
                    self.broken_layouts.add((channel, file.stem))
        return layouts

    def _layout(self, channel: Channel, file: Path, schema: ProfileSchema) -> Layout | None:
        text = _read_text(file, self.problems)
        if text is None:
            return None
        rel = relative_path(file, self.root)
        parts: dict[str, TemplateSource] = {}
        mode = "html" if channel in ("email", "web") else "text"
        before = len(self.problems.items)
        if channel == "email":
            try:
                front = split_front_matter(text)
            except YamlSyntaxError as exc:
                self.problems.add(file, exc.line, str(exc))
                return None
            meta = front.meta
            if not isinstance(meta.data, dict):
                self.problems.add(file, 1, "email layout front matter must be a mapping")
                return None
            for key, value in meta.data.items():
                if key not in ("subject", "preheader"):
                    self.problems.add(
                        file,
                        meta.line_of((key,)),
                        f"unknown front matter field '{key}' "
                        "(email layouts take subject and preheader)",
                    )
                elif not isinstance(value, str):
                    self.problems.add(file, meta.line_of((key,)), f"{key} must be a string")
                else:
                    parts[key] = TemplateSource(value, rel, meta.line_of((key,)))
            if "subject" not in parts:
                self.problems.add(file, 1, "email layout needs a 'subject' in its front matter")
            parts["body"] = TemplateSource(front.body, rel, front.body_line)
        elif channel == "push":
            try:
                located = load_yaml(text)
            except YamlSyntaxError as exc:
                self.problems.add(file, exc.line, str(exc))
                return None
            if not isinstance(located.data, dict):
                self.problems.add(file, 1, "push layout must be a mapping of title, body, ...")
                return None
            for key, value in located.data.items():
                if key not in PUSH_LAYOUT_FIELDS:
                    close = difflib.get_close_matches(key, PUSH_LAYOUT_FIELDS, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    self.problems.add(
                        file, located.line_of((key,)), f"unknown push field '{key}'{hint}"
                    )
                elif value is not None:
                    parts[key] = TemplateSource(str(value), rel, located.line_of((key,)))
            for key in ("title", "body"):
                if key not in parts:
                    self.problems.add(file, 1, f"push layout needs '{key}'")
        else:
            parts["body"] = TemplateSource(text, rel, 1)
        for key, part in parts.items():
            part_mode = mode if key == "body" or channel == "web" else "text"
            _check_template(
                part.source, rel, part.line, key, schema, self.problems, part_mode, LAYOUT_NAMES
            )
        if any(p.is_error for p in self.problems.items[before:]):
            return None
        return Layout(channel, file.stem, rel, parts, _file_fingerprint(text.encode()))

    # -- personas --------------------------------------------------------------------------

    def _personas(self, schema: ProfileSchema) -> dict[str, Persona]:
        folder = self.root / PERSONAS_DIR
        personas: dict[str, Persona] = {}
        if not folder.is_dir() or self.escapes(folder, f"the {PERSONAS_DIR} folder"):
            return personas
        for file in sorted(folder.iterdir()):
            if file.suffix not in (".yaml", ".yml") or not file.is_file():
                continue
            if self.escapes(file, "persona"):
                continue
            bad_name = name_problem(file.stem, what="persona name")
            if bad_name:
                self.problems.add(file, 1, f"{bad_name} (rename the file)")
                continue
            text = _read_text(file, self.problems)
            if text is None:
                continue
            try:
                located = load_yaml(text)
            except YamlSyntaxError as exc:
                self.problems.add(file, exc.line, str(exc))
                continue
            if not isinstance(located.data, dict):
                self.problems.add(file, 1, "a persona must be a mapping of profile attributes")
                continue
            raw = {k: v for k, v in located.data.items() if not k.startswith("_")}
            persona_locale = raw.get("locale")
            if isinstance(persona_locale, str) and locale_problem(persona_locale):
                self.problems.add(
                    file,
                    located.line_of(("locale",)),
                    f"persona: {locale_problem(persona_locale)}",
                    "warning",
                )
            for key in raw:
                if key not in schema.attributes:
                    self.problems.add(
                        file,
                        located.line_of((key,)),
                        f"'{key}' is not in the profile schema and is ignored",
                        "warning",
                    )
            try:
                profile = validate_profile(schema, raw)
            except ProfileError as exc:
                key_path = tuple((exc.field or "").split(".")) if exc.field else ()
                self.problems.add(file, located.line_of(key_path), f"persona: {exc}")
                continue
            description = str(located.data.get("_description", ""))
            personas[file.stem] = Persona(
                file.stem, relative_path(file, self.root), description, raw, profile
            )
        return personas


def load_project(root: Path | str = ".", *, strict: bool = True) -> Project:
    """Load and validate the content project in ``root``.

    :param strict: raise when any error is found; with ``False`` the project is returned with
        the faulty atoms, layouts or personas left out and every problem in
        :attr:`Project.problems` (what ``atomcast check`` and the preview need).
    :raises ProjectError: with every problem, when the project cannot be used.
    """
    loader = _Loader(Path(root))
    project = loader.load()
    if project is None or (strict and loader.problems.has_errors):
        raise ProjectError(loader.problems.items)
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
    loader = _Loader(Path(root))
    project = loader.load()
    if project is None and partial and loader.partial is not None:
        project = loader.partial
        project.degraded = frozenset(loader.degraded) | {"config"}
    return project, sorted(loader.problems.items)
