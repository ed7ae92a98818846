"""``atomcast check``: every load problem plus warnings for atoms nobody can ever get.

The reachability warnings are the ones that can be *shown* cheaply, without solving
conditions in general: no campaign takes the atom's kind or channels; its ``segments`` all
contradict its own ``when`` on a numeric range; a higher-priority atom that everyone gets
always outranks it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atomcast.errors import LimitError, Problem, RenderError
from atomcast.limits import WATCHDOG, Expired, using
from atomcast.project import Atom, Project, collect_problems
from atomcast.selection import slot_tags

_BOUND_OPERATORS = {"$gt", "$gte", "$lt", "$lte", "$eq"}


@dataclass(frozen=True, slots=True)
class Interval:
    """A numeric range with open or closed ends, enough to spot ``$gte 1000`` vs ``$lt 50``."""

    low: float = -math.inf
    low_open: bool = True
    high: float = math.inf
    high_open: bool = True

    def meet(self, other: Interval) -> Interval:
        if (other.low, not other.low_open) > (self.low, not self.low_open):
            low, low_open = other.low, other.low_open
        else:
            low, low_open = self.low, self.low_open
        if (other.high, other.high_open) < (self.high, self.high_open):
            high, high_open = other.high, other.high_open
        else:
            high, high_open = self.high, self.high_open
        return Interval(low, low_open, high, high_open)

    @property
    def empty(self) -> bool:
        if self.low > self.high:
            return True
        return self.low == self.high and (self.low_open or self.high_open)


def numeric_bounds(condition: Any) -> dict[str, Interval]:
    """Ranges implied by the top-level, implicitly AND-ed numeric clauses of a condition.

    Anything this does not understand contributes no bound, so the result is always implied
    by the condition (never stricter), which is what makes a contradiction proof sound.
    """
    bounds: dict[str, Interval] = {}
    if not isinstance(condition, Mapping):
        return bounds
    for key, clause in condition.items():
        if key == "$and" and isinstance(clause, list):
            for part in clause:
                for name, interval in numeric_bounds(part).items():
                    bounds[name] = bounds.get(name, Interval()).meet(interval)
            continue
        if key.startswith("$"):
            continue
        interval = Interval()
        if isinstance(clause, int | float) and not isinstance(clause, bool):
            interval = Interval(clause, False, clause, False)
        elif isinstance(clause, Mapping) and all(op in _BOUND_OPERATORS for op in clause):
            for op, value in clause.items():
                if not isinstance(value, int | float) or isinstance(value, bool):
                    break
                step = {
                    "$gt": Interval(value, True),
                    "$gte": Interval(value, False),
                    "$lt": Interval(high=value, high_open=True),
                    "$lte": Interval(high=value, high_open=False),
                    "$eq": Interval(value, False, value, False),
                }[op]
                interval = interval.meet(step)
        bounds[key] = bounds.get(key, Interval()).meet(interval)
    return bounds


def _contradicts(a: Mapping[str, Interval], b: Mapping[str, Interval]) -> str | None:
    for name in a.keys() & b.keys():
        if a[name].meet(b[name]).empty:
            return name
    return None


def unreachable_atoms(project: Project) -> list[Problem]:
    """Warnings for atoms that no profile can ever get, where that can be shown cheaply.

    An expired window is not reported: content is often written for a season and kept.
    """
    problems: list[Problem] = []
    segment_sources = {s.name: s.condition.source for s in project.segments}
    campaigns = project.config.campaigns

    def warn(atom: Atom, message: str) -> None:
        problems.append(Problem(atom.path, 1, "warning", f"atom '{atom.id}' {message}"))

    for atom in project.atoms.values():
        slots = [
            (name, slot_name)
            for name, campaign in campaigns.items()
            for slot_name, slot in campaign.slots.items()
            if atom.kind in slot.kinds
            and atom.channels.intersection(campaign.channels)
            and _tags_admit(slot_tags(campaign, slot_name), atom)
        ]
        is_fallback = any(
            slot.fallback == atom.id for c in campaigns.values() for slot in c.slots.values()
        )
        if not slots and not is_fallback:
            warn(
                atom,
                f"can never be selected: no campaign has a slot taking {atom.kind} "
                f"on its channels ({', '.join(sorted(atom.channels))}) whose tag filter "
                f"admits its tags ({', '.join(atom.tags) or 'none'})",
            )
            continue
        if atom.segments is not None and atom.when is not None:
            when_bounds = numeric_bounds(atom.when.source)
            reasons = []
            for segment in sorted(atom.segments):
                source = segment_sources.get(segment)
                clash = _contradicts(numeric_bounds(source), when_bounds) if source else None
                if clash is None:
                    break
                reasons.append(f"{segment} ({clash})")
            else:
                warn(
                    atom,
                    "can never be selected: its 'when' contradicts every segment it "
                    f"targets: {', '.join(reasons)}",
                )
                continue
        shadow = _always_outranked_by(atom, project)
        if shadow is not None and not is_fallback:
            warn(
                atom,
                f"can never be selected: '{shadow.id}' has a higher priority, the same "
                "locale and channels, and no conditions, so it always wins",
            )
    return problems


def _tags_admit(tags: frozenset[str] | None, atom: Atom) -> bool:
    return tags is None or not tags.isdisjoint(atom.tags)


def _always_outranked_by(atom: Atom, project: Project) -> Atom | None:
    experiment_slots = {
        exp.slot for c in project.config.campaigns.values() for exp in c.experiments.values()
    }
    kind_slots = {
        slot_name
        for c in project.config.campaigns.values()
        for slot_name, slot in c.slots.items()
        if atom.kind in slot.kinds
    }
    if kind_slots & experiment_slots:
        return None
    for other in project.atoms.values():
        if (
            other.id != atom.id
            and other.kind == atom.kind
            and other.locale == atom.locale
            and other.priority > atom.priority
            and other.segments is None
            and other.when is None
            and other.valid_from is None
            and other.valid_until is None
            and other.arm is None
            and atom.channels <= other.channels
        ):
            return other
    return None


def persona_coverage(project: Project) -> list[Problem]:
    """Warnings for segments that no persona falls into: previews would not show them."""
    from atomcast.selection import Selector

    selector = Selector(project)
    covered: set[str] = set()
    problems = []
    bounds = project.config.limits
    for persona in project.personas.values():
        # A persona is a profile: its segments are bounded as a record's are.
        guard = None
        try:
            with using(bounds):
                guard = WATCHDOG.enter(bounds.record_timeout)
                try:
                    covered |= selector.segments_of(persona.profile)
                finally:
                    WATCHDOG.leave(guard)
        except (Expired, LimitError) as exc:
            # It may have been raised on the way into ``leave``: finish leaving.
            WATCHDOG.leave(guard)
            reason = (
                str(exc)
                if isinstance(exc, LimitError)
                else (f"took longer than {bounds.record_timeout:g} s (limits.record_timeout)")
            )
            problems.append(Problem(persona.path, 1, "warning", f"persona's segments: {reason}"))
    for segment in project.segments:
        if segment.name not in covered and project.personas:
            problems.append(
                Problem(
                    "atomcast.yaml",
                    segment.line,
                    "warning",
                    f"no persona in previews/profiles is in segment '{segment.name}': the preview "
                    "shows it only through its synthetic profile",
                )
            )
    return problems


#: Where a layout pulls a font from another host: ``<mj-font>``, a stylesheet link or
#: ``@import`` of a font service.
_EXTERNAL_FONT = re.compile(
    r"<mj-font\b|fonts\.googleapis\.com|fonts\.gstatic\.com|use\.typekit\.net"
    r"|@import\s+url\(\s*['\"]?https?:",
    re.IGNORECASE,
)
_GOOGLE_FAMILY = re.compile(r"fonts\.googleapis\.com/css2?\?family=([A-Za-z0-9+ ]+)")
_FONT_WARNING = (
    "pulls an external font ({what}): many email clients block it, and fetching it tells "
    "the font host who opened the mail and when; prefer a web-safe font stack"
)


def layout_problems(project: Project) -> list[Problem]:
    """Email layouts compiled through MJML, as a render would: MJML errors name the file;
    external fonts (``<mj-font>``, Google Fonts links MJML adds) are warned about."""
    from atomcast.channels.email import EmailCompiler

    compiler = EmailCompiler()
    problems = []
    for (channel, _name), layout in sorted(project.layouts.items()):
        if channel != "email":
            continue
        body = layout.parts["body"]
        found_in_source = False
        for offset, text in enumerate(body.source.splitlines()):
            match = _EXTERNAL_FONT.search(text)
            if match:
                found_in_source = True
                what = match.group(0).strip().rstrip("(")
                message = _FONT_WARNING.format(what=what)
                problems.append(Problem(layout.path, body.line + offset, "warning", message))
        try:
            compiled = compiler.compile(layout)
        except RenderError as exc:
            line = body.line
            message = str(exc).removeprefix(f"{layout.path}:{line}: ")
            problems.append(Problem(layout.path, line, "error", message))
            continue
        added = _GOOGLE_FAMILY.search(compiled.source)
        if not found_in_source and added:
            what = (
                f"MJML adds a Google Fonts link for {added.group(1)!r}, its default or a "
                "font-family it knows; set font-family on <mj-all> to avoid it"
            )
            problems.append(
                Problem(layout.path, body.line, "warning", _FONT_WARNING.format(what=what))
            )
    return problems


def brand_reference_problems(project: Project) -> list[Problem]:
    """``brand.<field>`` in layouts and atoms that the brand does not have.

    Without this every render of the channel fails with "'dict object' has no attribute",
    one profile at a time.
    """
    from jinja2 import TemplateSyntaxError, nodes

    from atomcast.models import BrandConfig
    from atomcast.templating import environment

    brand = project.config.brand
    fields = sorted(BrandConfig.model_fields)
    sources: list[tuple[str, str, str, int]] = []  # (path, what, source, line)
    for layout in project.layouts.values():
        for part_name, part in layout.parts.items():
            sources.append((layout.path, part_name, part.source, part.line))
    for atom in project.atoms.values():
        for name, value in atom.fields.items():
            if isinstance(value, str) and "brand" in value:
                sources.append((atom.path, name, value, atom.field_lines.get(name, 1)))
        if atom.body is not None:
            sources.append((atom.path, "body", atom.body.source, atom.body.line))
    problems: list[Problem] = []
    for path, what, source, first_line in sources:
        if "brand" not in source:
            continue
        try:
            tree = environment("text").parse(source)
        except TemplateSyntaxError:
            continue  # reported by the loader with its line
        for chain, line in _constant_chains(tree, nodes, "brand"):
            where = first_line + line - 1
            shown = f"{what}: brand.{'.'.join(chain)}"
            if chain[0] not in fields:
                problems.append(
                    Problem(
                        path,
                        where,
                        "error",
                        f"{shown}: the brand has no field '{chain[0]}'"
                        f"{_did_you_mean(chain[0], fields)} (brand fields: {', '.join(fields)}); "
                        "every render of this would fail",
                    )
                )
            elif chain[0] == "colors" and len(chain) > 1 and chain[1] not in brand.colors:
                known = ", ".join(sorted(brand.colors)) or "none"
                problems.append(
                    Problem(
                        path,
                        where,
                        "error",
                        f"{shown}: brand.colors has no '{chain[1]}'"
                        f"{_did_you_mean(chain[1], brand.colors)} (colors in atomcast.yaml: "
                        f"{known}); every render of this would fail",
                    )
                )
    return problems


def push_url_problems(project: Project) -> list[Problem]:
    """URLs that push services refuse: relative or http image and click URLs.

    APNs, FCM and web push take only absolute https URLs; a relative one is dropped from
    every notification (with an ``unsafe_url`` warning per render) instead of failing once.
    """
    from atomcast.render.campaign import DEFAULT_ASSETS_URL

    problems: list[Problem] = []
    for (channel, _name), layout in sorted(project.layouts.items()):
        if channel != "push":
            continue
        for key in ("image", "url"):
            part = layout.parts.get(key)
            value = part.source.strip() if part else ""
            if part is None or not value or value.startswith(("https://", "{{", "{%")):
                continue
            problems.append(
                Problem(
                    layout.path,
                    part.line,
                    "error",
                    f"push {key} {value!r} is not an absolute https URL: push services refuse "
                    "relative and http URLs, so it would be dropped from every notification",
                )
            )
    config = project.config
    base_url = config.assets.base_url or config.brand.assets_base_url or DEFAULT_ASSETS_URL
    if base_url.startswith("https://"):
        return problems
    local_images = [a for a in project.atoms.values() if a.image_path and "push" in a.channels]
    for name, campaign in sorted(config.campaigns.items()):
        if "push" not in campaign.channels:
            continue
        kinds = {kind for slot in campaign.slots.values() for kind in slot.kinds}
        if not any(atom.kind in kinds for atom in local_images):
            continue
        set_at: tuple[str, ...] = (
            ("assets", "base_url")
            if config.assets.base_url
            else ("brand", "assets_base_url")
            if config.brand.assets_base_url
            else ("campaigns", name, "channels", "push")
        )
        problems.append(
            Problem(
                "atomcast.yaml",
                project.config_line(set_at),
                "warning",
                f"campaign '{name}' sends push with local images, whose URLs would start "
                f"with {base_url!r}: push needs absolute https image URLs, so every image "
                "would be dropped; set assets.base_url to the https URL the renditions are "
                "served from",
            )
        )
    return problems


def slot_reference_problems(project: Project) -> list[Problem]:
    """``slots.<slot>.<field>`` in layouts that name a slot no campaign using the layout has,
    or a field no slot view has: a typo that would otherwise fail mid-campaign."""
    from jinja2 import TemplateSyntaxError, nodes

    from atomcast.channels.base import VIEW_FIELDS
    from atomcast.templating import environment

    slots_of: dict[tuple[str, str], set[str]] = {}
    users: dict[tuple[str, str], list[str]] = {}
    for name, campaign in project.config.campaigns.items():
        for channel, channel_config in campaign.channels.items():
            key = (channel, channel_config.layout)
            slots_of.setdefault(key, set()).update(campaign.slots)
            users.setdefault(key, []).append(name)
    problems: list[Problem] = []
    for key, layout in sorted(project.layouts.items()):
        known_slots = slots_of.get(key)
        for part_name, part in layout.parts.items():
            try:
                tree = environment("text").parse(part.source)
            except TemplateSyntaxError:
                continue  # reported by the loader with its line
            for chain, line in _slot_chains(tree, nodes):
                where = part.line + line - 1
                what = f"{part_name}: slots.{'.'.join(chain)}"
                if known_slots is not None and chain[0] not in known_slots:
                    problems.append(
                        Problem(
                            layout.path,
                            where,
                            "error",
                            f"{what}: no slot '{chain[0]}' in campaign(s) "
                            f"{', '.join(users[key])}{_did_you_mean(chain[0], known_slots)} "
                            f"(slots: {', '.join(sorted(known_slots))})",
                        )
                    )
                elif len(chain) > 1 and chain[1] not in VIEW_FIELDS:
                    problems.append(
                        Problem(
                            layout.path,
                            where,
                            "error",
                            f"{what}: slot views have no field '{chain[1]}'"
                            f"{_did_you_mean(chain[1], VIEW_FIELDS)}",
                        )
                    )
    return problems


def _slot_chains(tree: Any, nodes: Any) -> Iterable[tuple[tuple[str, ...], int]]:
    """``(("offer", "code"), line)`` for each outermost constant chain under ``slots``."""
    return [(chain[:2], line) for chain, line in _constant_chains(tree, nodes, "slots")]


def _constant_chains(tree: Any, nodes: Any, head: str) -> list[tuple[tuple[str, ...], int]]:
    """``(("offer", "code"), line)`` for each outermost constant chain under ``head``."""
    from atomcast.templating import constant_chain

    inner: set[int] = set()
    found: list[tuple[tuple[str, ...], int]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):  # outer chains come first
        if id(node) in inner:
            continue
        below = node.node
        while isinstance(below, nodes.Getattr | nodes.Getitem):
            inner.add(id(below))
            below = below.node
        chain = constant_chain(node)
        if chain is not None and chain[0] == head and len(chain) > 1:
            found.append((chain[1:], node.lineno))
    return found


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def image_problems(project: Project) -> list[Problem]:
    """Local image sources that do not decode: found now, not in the middle of a campaign."""
    from PIL import Image, UnidentifiedImageError

    problems = []
    for atom in project.atoms.values():
        if atom.image_path is None:
            continue
        try:
            with Image.open(atom.image_path) as image:
                image.verify()
        except (OSError, UnidentifiedImageError, SyntaxError) as exc:
            line = atom.field_lines.get("src", 1)
            message = f"image {atom.fields['src']} cannot be read: {exc}"
            problems.append(Problem(atom.path, line, "error", message))
    return problems


def check_project(root: Path | str) -> list[Problem]:
    """Every problem of the project in ``root``, sorted by file and line."""
    project, problems = collect_problems(root, partial=True)
    if project is not None:
        # With a faulty atomcast.yaml, checks that would only echo its mistake stay quiet.
        degraded = project.degraded
        problems.extend(layout_problems(project))
        if "campaigns" not in degraded:
            problems.extend(slot_reference_problems(project))
        if "brand" not in degraded:
            problems.extend(brand_reference_problems(project))
        if not degraded & {"brand", "assets", "campaigns"}:
            problems.extend(push_url_problems(project))
        problems.extend(image_problems(project))
        if not degraded:
            problems.extend(unreachable_atoms(project))
            problems.extend(persona_coverage(project))
    return sorted(set(problems))


def summarise(problems: Iterable[Problem]) -> tuple[int, int]:
    """(errors, warnings)."""
    items = list(problems)
    errors = sum(1 for p in items if p.is_error)
    return errors, len(items) - errors
