"""``atomcast check``: every load problem plus warnings for atoms nobody can ever get.

The reachability warnings are the ones that can be *shown* cheaply, without solving
conditions in general: no campaign takes the atom's kind or channels; its ``segments`` all
contradict its own ``when`` on a numeric range; a higher-priority atom that everyone gets
always outranks it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atomcast.errors import LimitError, Problem, RenderError
from atomcast.limits import Expired, deadline, using
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
        try:
            with using(bounds), deadline(bounds.record_timeout):
                covered |= selector.segments_of(persona.profile)
        except (Expired, LimitError) as exc:
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


def layout_problems(project: Project) -> list[Problem]:
    """Email layouts compiled through MJML, as a render would: MJML errors name the file."""
    from atomcast.channels.email import EmailCompiler

    compiler = EmailCompiler()
    problems = []
    for (channel, _name), layout in sorted(project.layouts.items()):
        if channel != "email":
            continue
        try:
            compiler.compile(layout)
        except RenderError as exc:
            line = layout.parts["body"].line
            message = str(exc).removeprefix(f"{layout.path}:{line}: ")
            problems.append(Problem(layout.path, line, "error", message))
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
        if chain is not None and chain[0] == "slots" and len(chain) > 1:
            found.append((chain[1:3], node.lineno))
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
    project, problems = collect_problems(root)
    if project is not None:
        problems.extend(layout_problems(project))
        problems.extend(slot_reference_problems(project))
        problems.extend(image_problems(project))
        problems.extend(unreachable_atoms(project))
        problems.extend(persona_coverage(project))
    return sorted(set(problems))


def summarise(problems: Iterable[Problem]) -> tuple[int, int]:
    """(errors, warnings)."""
    items = list(problems)
    errors = sum(1 for p in items if p.is_error)
    return errors, len(items) - errors
