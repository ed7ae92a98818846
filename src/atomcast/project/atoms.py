"""Atoms: one Markdown file each, its front matter validated by :class:`AtomSpec`, then
checked by the rules of its kind and the rules every atom shares."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from atomcast.conditions import CompiledCondition, compile_condition, normalize_condition
from atomcast.errors import InputTooLargeError, relative_path
from atomcast.models import (
    CHANNELS,
    REQUIRED_FIELDS,
    TEMPLATE_FIELDS,
    AtomSpec,
    Kind,
    ProjectConfig,
)
from atomcast.paths import name_problem, read_limited
from atomcast.project.context import LoadContext, file_fingerprint, locale_problem, too_large
from atomcast.project.model import ATOMS_DIR, IMAGE_SUFFIXES, Atom, TemplateSource
from atomcast.schema import ProfileSchema
from atomcast.yamlsource import Located, YamlSyntaxError, split_front_matter

#: The fields an atom carries to rendering, whatever its kind.
ATOM_FIELDS: Final = (
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


@dataclass(frozen=True, slots=True)
class AtomFile:
    """One atom file whose front matter validated."""

    file: Path
    rel: str
    spec: AtomSpec
    meta: Located
    body: str
    body_line: int
    data: bytes

    def line(self, *key: str | int) -> int:
        return self.meta.line_of(key)


@dataclass(frozen=True, slots=True)
class AtomScope:
    """What every atom is checked against."""

    config: ProjectConfig
    schema: ProfileSchema
    segment_names: frozenset[str]
    experiments: Mapping[str, frozenset[str]]
    known_locales: frozenset[str]

    @classmethod
    def of(cls, config: ProjectConfig, schema: ProfileSchema) -> AtomScope:
        known = {config.locales.default, *config.locales.fallbacks}
        for chain in config.locales.fallbacks.values():
            known.update(chain)
        return cls(
            config=config,
            schema=schema,
            # Every declared name counts: a segment with a broken condition has its own error.
            segment_names=frozenset(config.segments),
            experiments={
                exp_name: frozenset(exp.variants)
                for campaign in config.campaigns.values()
                for exp_name, exp in campaign.experiments.items()
            },
            known_locales=frozenset(known),
        )


# -- the rules of each kind ---------------------------------------------------------------

KindRule = Callable[[LoadContext, AtomFile], Path | None]
"""Reports what a kind requires beyond its fields; returns the atom's local image file."""


def _no_more(ctx: LoadContext, atom: AtomFile) -> Path | None:
    return None


def _body_rule(ctx: LoadContext, atom: AtomFile) -> Path | None:
    if not atom.body.strip():
        ctx.problems.add(
            atom.file, atom.line("kind"), "body atom needs a Markdown body after the front matter"
        )
    return None


def _cta_rule(ctx: LoadContext, atom: AtomFile) -> Path | None:
    url = atom.spec.url
    if url and not url.startswith(("https://", "{{")):
        ctx.problems.add(atom.file, atom.line("url"), f"cta url must be https, got {url!r}")
    return None


def _image_rule(ctx: LoadContext, atom: AtomFile) -> Path | None:
    src = atom.spec.src
    if not src or src.startswith("https://"):
        return None
    where = atom.line("src")
    if "://" in src or src.startswith(("/", "data:")):
        ctx.problems.add(
            atom.file,
            where,
            f"image src must be a file beside the atom or https URL, got {src!r}",
        )
        return None
    candidate = (atom.file.parent / src).resolve()
    if not candidate.is_relative_to(ctx.root.resolve()):
        ctx.problems.add(atom.file, where, "image src points outside the project")
    elif not candidate.is_file():
        ctx.problems.add(atom.file, where, f"image file not found: {src}")
    elif candidate.suffix.lower() not in IMAGE_SUFFIXES:
        ctx.problems.add(atom.file, where, f"image must be png, jpg, jpeg or webp: {src}")
    else:
        return candidate
    return None


KIND_RULES: Final[Mapping[Kind, KindRule]] = {
    "headline": _no_more,
    "body": _body_rule,
    "image": _image_rule,
    "offer": _no_more,
    "cta": _cta_rule,
    "snippet": _no_more,
}


# -- the rules every atom shares ------------------------------------------------------------


def _check_required(ctx: LoadContext, atom: AtomFile) -> None:
    spec = atom.spec
    for required in REQUIRED_FIELDS[spec.kind]:
        if getattr(spec, required) in (None, ""):
            ctx.problems.add(atom.file, atom.line("kind"), f"{spec.kind} atom needs '{required}'")


def _check_link_and_window(ctx: LoadContext, atom: AtomFile) -> None:
    spec = atom.spec
    if spec.link and not spec.link.startswith(("https://", "{{", "/")):
        ctx.problems.add(atom.file, atom.line("link"), f"link must be https, got {spec.link!r}")
    if spec.valid_from and spec.valid_until and spec.valid_until < spec.valid_from:
        ctx.problems.add(
            atom.file,
            atom.line("valid_until"),
            f"valid_until {spec.valid_until} is before valid_from {spec.valid_from}",
        )


def _templates(ctx: LoadContext, atom: AtomFile, schema: ProfileSchema) -> TemplateSource | None:
    """Check every template field; the body's template when it has one that parses."""
    for name in (*TEMPLATE_FIELDS, "url", "link"):
        value = getattr(atom.spec, name)
        if isinstance(value, str):
            ctx.check_template(value, atom.rel, atom.line(name), name, schema)
    if atom.body.strip() and ctx.check_template(
        atom.body, atom.rel, atom.body_line, "body", schema, "html"
    ):
        return TemplateSource(atom.body, atom.rel, atom.body_line)
    return None


def _check_segments(ctx: LoadContext, atom: AtomFile, scope: AtomScope) -> None:
    for index, segment in enumerate(atom.spec.segments or ()):
        if segment not in scope.segment_names:
            close = difflib.get_close_matches(segment, sorted(scope.segment_names), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            ctx.problems.add(
                atom.file, atom.line("segments", index), f"unknown segment '{segment}'{hint}"
            )


def _when(ctx: LoadContext, atom: AtomFile, scope: AtomScope) -> CompiledCondition | None:
    when = atom.spec.when
    if when is None or not ctx.check_condition(
        when, scope.schema, scope.segment_names, atom.meta, ("when",), atom.file, "when"
    ):
        return None
    return compile_condition(normalize_condition(when, scope.schema))


def _variant(ctx: LoadContext, atom: AtomFile, scope: AtomScope) -> tuple[str | None, str | None]:
    if not atom.spec.variant:
        return None, None
    experiment, arm = atom.spec.variant.split(":", 1)
    if experiment not in scope.experiments:
        if "campaigns" not in ctx.degraded:
            ctx.problems.add(atom.file, atom.line("variant"), f"unknown experiment '{experiment}'")
    elif arm not in scope.experiments[experiment]:
        arms = ", ".join(sorted(scope.experiments[experiment]))
        ctx.problems.add(
            atom.file,
            atom.line("variant"),
            f"experiment '{experiment}' has no variant '{arm}' (it has {arms})",
        )
    return experiment, arm


def _locale(ctx: LoadContext, atom: AtomFile, scope: AtomScope) -> str:
    written = atom.spec.locale
    locale = written or scope.config.locales.default
    bad_locale = locale_problem(written) if written is not None else None
    if bad_locale:
        ctx.problems.add(atom.file, atom.line("locale"), bad_locale)
    known = scope.known_locales
    reachable = known | {tag.split("-")[0] for tag in known}
    if (
        not bad_locale
        and "locales" not in ctx.degraded
        and locale not in reachable
        and "-" in locale
    ):
        ctx.problems.add(
            atom.file,
            atom.line("locale"),
            f"locale '{locale}' is neither the default nor in any fallback chain: "
            "only profiles with exactly this locale can get this atom",
            "warning",
        )
    return locale


def build_atom(ctx: LoadContext, atom: AtomFile, atom_id: str, scope: AtomScope) -> Atom:
    """The atom, with every problem of it reported (the caller drops it on errors)."""
    spec = atom.spec
    _check_required(ctx, atom)
    image_path = KIND_RULES[spec.kind](ctx, atom)
    _check_link_and_window(ctx, atom)
    body = _templates(ctx, atom, scope.schema)
    _check_segments(ctx, atom, scope)
    when = _when(ctx, atom, scope)
    experiment, arm = _variant(ctx, atom, scope)
    locale = _locale(ctx, atom, scope)
    data = atom.data + (image_path.read_bytes() if image_path is not None else b"")
    fields = {name: getattr(spec, name) for name in ATOM_FIELDS}
    return Atom(
        id=atom_id,
        kind=spec.kind,
        path=atom.rel,
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
        field_lines={name: atom.line(name) for name in fields if name in atom.meta.data},
        body=body,
        image_path=image_path,
        fingerprint=file_fingerprint(data),
    )


# -- the files ------------------------------------------------------------------------------


def atom_files(ctx: LoadContext) -> list[Path]:
    """The atom files inside the project (links out reported)."""
    folder = ctx.root / ATOMS_DIR
    if not folder.is_dir() or ctx.escapes(folder, f"the {ATOMS_DIR} folder"):
        return []
    # rglob does not descend into linked folders; a link out is still worth an error.
    for entry in sorted(folder.rglob("*")):
        if entry.is_symlink() and entry.is_dir():
            ctx.escapes(entry, "linked folder")
    files = sorted(p for p in folder.rglob("*.md") if p.is_file())
    return [file for file in files if not ctx.escapes(file, "atom")]


def parse_atom(ctx: LoadContext, file: Path) -> AtomFile | None:
    """The atom file with its front matter validated, or ``None`` with the problems reported."""
    try:
        data = read_limited(file)
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        ctx.problems.add(file, 1, f"not UTF-8 text: {exc.reason} at byte {exc.start}")
        return None
    except InputTooLargeError:
        ctx.problems.add(file, 1, too_large())
        return None
    except OSError as exc:
        ctx.problems.add(file, 1, f"cannot read atom: {exc.strerror}")
        return None
    try:
        front = split_front_matter(text)
    except YamlSyntaxError as exc:
        ctx.problems.add(file, exc.line, str(exc))
        return None
    meta = front.meta
    if not isinstance(meta.data, dict) or not meta.data:
        ctx.problems.add(file, 1, "an atom needs YAML front matter between '---' lines")
        return None
    rel = relative_path(file, ctx.root)
    ctx.source_lines[rel] = meta
    try:
        spec = AtomSpec.model_validate(meta.data)
    except ValidationError as exc:
        ctx.validation_problems(exc, meta, file)
        return None
    return AtomFile(file, rel, spec, meta, front.body.strip("\n"), front.body_line, data)


def shape_check_atoms(ctx: LoadContext) -> None:
    """Check each atom file on its own (no config to check it against)."""
    for file in atom_files(ctx):
        parse_atom(ctx, file)


def load_atoms(ctx: LoadContext, config: ProjectConfig, schema: ProfileSchema) -> dict[str, Atom]:
    """Every atom without errors, by id; duplicate ids are reported at both files."""
    scope = AtomScope.of(config, schema)
    atoms: dict[str, Atom] = {}
    first_seen: dict[str, tuple[str, int]] = {}
    for file in atom_files(ctx):
        parsed = parse_atom(ctx, file)
        if parsed is None:
            continue
        spec, rel = parsed.spec, parsed.rel
        atom_id = spec.id or file.stem
        id_line = parsed.line("id") if spec.id else 1
        mark = len(ctx.problems.items)
        if atom_id in first_seen:
            first_rel, first_line = first_seen[atom_id]
            ctx.problems.add(
                file,
                id_line,
                f"duplicate atom id '{atom_id}' (also defined in {first_rel}:{first_line})",
            )
            # The first file is as much at fault: the editor may want to rename either.
            ctx.problems.add(
                first_rel,
                first_line,
                f"duplicate atom id '{atom_id}' (also defined in {rel}:{id_line})",
            )
            continue
        first_seen[atom_id] = (rel, id_line)
        bad_id = name_problem(atom_id, what="atom id", colon=True)
        if bad_id:
            hint = "" if spec.id else " (the id is the file name; give the atom an 'id')"
            ctx.problems.add(file, id_line, bad_id + hint)
            continue
        atom = build_atom(ctx, parsed, atom_id, scope)
        if not ctx.problems.errors_since(mark):
            atoms[atom_id] = atom
    return atoms
