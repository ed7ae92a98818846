"""The symbolic layer: a combination rendered once with holes, each profile's values filled
in (see :mod:`atomcast.render.symbolic` for holes and markers).

It only calls the channel's plain phases (``render_text``, ``finish``) and its declarations
(``template_sources``, ``with_sources``, ``stand_in``, ``fills_text``, ``value_warnings``,
``fillable``); ``None`` from :meth:`SymbolicLayer.render` sends the profile to the plain path.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from atomcast.channels.base import (
    ChannelOutput,
    ChannelRender,
    RenderWarning,
    StandIn,
    key_values,
)
from atomcast.errors import RenderError
from atomcast.limits import Limits
from atomcast.models import Channel
from atomcast.project import Atom
from atomcast.render.cache import OBJECT_BYTES, RenderCache, weigh
from atomcast.render.context import (
    NO_CONTEXT,
    ChannelAtoms,
    ChannelContext,
    RenderContext,
    SlotViews,
)
from atomcast.render.symbolic import (
    UNSUBSCRIBE,
    FillKind,
    HoleExpression,
    SymbolicOutput,
    TextTemplate,
    carries_hole,
    fill_kind,
    hole_name,
    keyed_dependencies,
    marker,
    rewrite,
    split_output,
    symbolic_atom,
    tainted_fields,
    text_template,
    views_clean,
)


@dataclass(frozen=True, slots=True)
class SymbolicPlan:
    """How one combination (channel and chosen atoms) renders with holes."""

    atoms: Mapping[str, Atom | None]
    render: ChannelRender
    #: Unique among the layer's plans: what memo keys name the combination by (cheaper to
    #: hash than the channel and atom ids; a plan made again gets a new one).
    serial: int
    keyed: frozenset[str]
    #: ``keyed`` sorted, as :func:`~atomcast.channels.base.dependency_key` orders it.
    keyed_order: tuple[str, ...]
    #: Attributes the templates only test for presence: keyed on that alone.
    present: tuple[str, ...]
    holes: tuple[HoleExpression, ...]
    tainted: frozenset[tuple[str, ...]]
    #: The image warnings of every chosen atom, read or not (``ChannelAtoms.warnings``).
    warnings: tuple[RenderWarning, ...]


@dataclass(frozen=True, slots=True)
class SymbolicRender:
    """A combination rendered once with markers: what each of its profiles is filled from."""

    status: Any
    output: SymbolicOutput
    warnings: tuple[RenderWarning, ...]
    reason: str | None


@dataclass(frozen=True, slots=True)
class Filling:
    """A symbolic render with one set of hole texts: the values, and for channels that
    finish text, the finished output."""

    made: SymbolicRender
    values: tuple[str, ...]
    finished: ChannelOutput | None
    fillable: bool
    #: For a channel without a stand-in, where records may share outputs: the filled
    #: output every profile of this filling gets (``ChannelOutput.shared``).
    shared: ChannelOutput | None = None
    #: The estimated bytes of ``finished`` (its fields are the text memo's entry's, weighed
    #: once as that entry was stored: a push payload is dozens of nested objects).
    finished_bytes: int = 0


#: A combination and key whose symbolic render cannot be filled (renders the ordinary way).
_UNFILLABLE = object()
#: A combination without a symbolic plan (memos hold no ``None``).
_NO_PLAN = object()
#: A hole not evaluated yet for this profile (``None`` means it cannot be filled).
_UNSEEN = object()
_MARKER = FillKind.MARKER
_BAKED = FillKind.BAKED


def _weight(entry: SymbolicRender | Filling | object) -> int:
    """The estimated bytes of a symbolic or fill memo entry (see :func:`weigh`). A filling
    shares its symbolic render with the symbolic memo: only its own values count."""
    if isinstance(entry, SymbolicRender):
        return weigh(entry.output.fields)
    if isinstance(entry, Filling):
        finished = entry.finished
        # Values are strings (one per slot): their lengths, without a call per value.
        values = entry.values
        size = OBJECT_BYTES * (len(values) + 1) + sum(map(len, values))
        if finished is None:
            return size
        return size + (entry.finished_bytes or weigh(finished.fields))
    return OBJECT_BYTES


class StandInValues:
    """A profile's stand-in values (the unsubscribe URL): literal text and holes joined
    without Jinja where the template is only that (fast), else rendered plainly."""

    def __init__(self) -> None:
        self._templates: dict[str, TextTemplate | None] = {}

    def value(self, stand_in: StandIn, context: RenderContext, fast: bool) -> str:
        """The profile's value of a stand-in (the unsubscribe URL): literal text and holes
        joined without Jinja where the template is only that, else rendered plainly.

        :raises RenderError: when the template fails for this profile.
        """
        if fast:
            if stand_in.source not in self._templates:
                self._templates[stand_in.source] = text_template(stand_in.source)
            template = self._templates[stand_in.source]
            if template is not None:
                text = template.render(context.template_namespace())
                if text is not None:
                    return stand_in.finish(text)
        return stand_in.value(context.template_namespace())


class SymbolicLayer:
    """The symbolic fast path of one campaign renderer (its plans and renders live in the
    renderer's :class:`~atomcast.render.cache.RenderCache`)."""

    def __init__(
        self,
        renders: Mapping[Channel, ChannelRender | None],
        cache: RenderCache,
        limits: Limits,
        layout_dependencies: Mapping[Channel, frozenset[str] | None],
        image_fields: Callable[[Atom], Mapping[str, Any]],
        stand_ins: StandInValues,
        share_outputs: bool = False,
    ) -> None:
        self.renders = renders
        self.cache = cache
        self.limits = limits
        #: Shared with the renderer, which turns a channel off here when its stand-in leaks.
        self.layout_dependencies = layout_dependencies
        self.image_fields = image_fields
        self.stand_ins = stand_ins
        #: The longest value a hole takes; longer ones render plainly, within the limit.
        self.longest = limits.max_output_bytes // 1024
        self._serials = itertools.count()
        #: Hand out memoised finished outputs as they are (see ``ChannelOutput.shared``).
        self.share_outputs = share_outputs

    def render(
        self,
        channel: Channel,
        render: ChannelRender,
        chosen: ChannelAtoms,
        context: RenderContext,
        hole_texts: dict[int, tuple[str, FillKind] | None],
        known_plans: dict[Channel, object] | None = None,
    ) -> ChannelOutput | None:
        """The output filled from the combination's symbolic render, or ``None`` when this
        profile must be rendered the ordinary way.

        :param chosen: the channel's atoms: its plans are made of those it reads and named by
            ``chosen.key``.
        :param hole_texts: this profile's hole values so far, shared by its channels.
        :param known_plans: plans by channel kept with the decision (shared by the profiles
            decided alike), so that most profiles find theirs without hashing the atom ids.
        """
        found = known_plans.get(channel) if known_plans is not None else None
        if found is None:
            combination = (channel, chosen.key)
            found = self.cache.plans.get(combination)
            if found is None:
                plan = self._plan(channel, render, chosen.read, chosen.warnings)
                found = _NO_PLAN if plan is None else plan
                self.cache.plans.put(combination, found)
            if known_plans is not None:
                known_plans[channel] = found
        if found is _NO_PLAN:
            return None
        assert isinstance(found, SymbolicPlan)
        plan = found
        texts: dict[int, str] = {}
        baked: list[tuple[int, str]] = []
        longest = self.longest
        text: str
        kind: FillKind
        # Texts by the hole's index in the plan: what its marker carries (short, so that a
        # marker is not longer than a value and length warnings stay rare).
        for index, hole in enumerate(plan.holes):
            known = hole_texts.get(hole.id, _UNSEEN)
            if known is _UNSEEN:
                printed = hole.printed(context.template_namespace())
                known = hole_texts[hole.id] = (
                    None if printed is None else (printed, fill_kind(printed))
                )
            if known is None:
                return None
            text, kind = known  # type: ignore[misc]
            # A long value renders the ordinary way, where each template's output is held to
            # limits.max_output_bytes; filling it here would skip that bound.
            if kind is _MARKER and len(text) <= longest:
                texts[index] = text
            elif kind is _BAKED:
                baked.append((index, text))
            else:
                return None
        attributes = context.profile
        stand_in = render.stand_in
        personal = ""
        if stand_in is not None:
            try:
                personal = self.stand_ins.value(stand_in, context, fast=True)
            except RenderError:
                return None
            if stand_in.spelled_by(attributes, plan.keyed):
                return None
        # One flat tuple: the symbolic render's key, then the texts (the plan fixes how
        # many of each, so no two keys run together).
        fill_key = (
            plan.serial,
            tuple(baked) if baked else (),
            *key_values(attributes, plan.keyed_order),
            *[name in attributes for name in plan.present],
            *texts.values(),
        )
        # Where names repeat, what a render and these values make is worked out once for
        # them; where they do not (a long tail of names and totals), the memo is skipped.
        remembers = self.cache.fill_pays(channel)
        filling = self.cache.fills.get(fill_key) if remembers else None
        if filling is None:
            key = fill_key[: len(fill_key) - len(texts)] if texts else fill_key
            made = self.cache.symbolic.get(key)
            if made is None:
                made = self._render_with_markers(channel, plan, context, dict(baked))
                self.cache.symbolic.put(key, made, _weight(made))
            if isinstance(made, SymbolicRender):
                filling = self._filling(channel, render, made, texts, remembers)
            else:
                filling = _UNFILLABLE
            if remembers:
                self.cache.fills.put(fill_key, filling, _weight(filling))
            self.cache.fill_missed(channel)
        if filling is _UNFILLABLE:
            return None
        assert isinstance(filling, Filling)
        finished = filling.finished
        if finished is not None:
            if finished.shared:
                return finished
            # A copy: the memoised record is shared, its fields are never mutated.
            return ChannelOutput(
                finished.status, finished.fields, list(finished.warnings), finished.reason
            )
        made = filling.made
        output = made.output
        values = filling.values
        if stand_in is not None:
            values = output.with_value(values, UNSUBSCRIBE, personal)
            if not render.fillable(output, values):
                return None  # a value-dependent warning: let the ordinary render word it
        elif not filling.fillable:
            return None
        elif filling.shared is not None:
            return filling.shared
        return ChannelOutput(
            made.status, None, list(made.warnings), made.reason, filled=(output, values)
        )

    def _filling(
        self,
        channel: Channel,
        render: ChannelRender,
        made: SymbolicRender,
        texts: dict[int, str],
        remembered: bool,
    ) -> Filling:
        """The values of a symbolic render for these hole texts (the stand-in left empty),
        finished when the channel finishes text, and whether they fill it.

        :param remembered: the filling goes into the fill memo: where records may share
            outputs, its output is made once for all the profiles that will find it there.
        """
        output = made.output
        values = output.values({**texts, UNSUBSCRIBE: ""})
        share = remembered and self.share_outputs
        if render.fills_text:
            finished, size = self._finish_text(channel, render, output.fill(values), made.warnings)
            finished.shared = share
            return Filling(made, values, finished, True, finished_bytes=size)
        if render.stand_in is not None:
            return Filling(made, values, None, True)
        fillable = render.fillable(output, values)
        shared = None
        if fillable and share:
            shared = ChannelOutput(
                made.status, None, list(made.warnings), made.reason, filled=(output, values)
            )
            shared.shared = True
        return Filling(made, values, None, fillable, shared)

    def _finish_text(
        self,
        channel: Channel,
        render: ChannelRender,
        text: dict[str, str],
        image_warnings: Sequence[RenderWarning],
    ) -> tuple[ChannelOutput, int]:
        """The channel's finishing phase on its filled text, memoised on that text (common
        names repeat it), and the estimated bytes of its fields and text."""
        key = (channel, *text.items())
        made = self.cache.text.get(key)
        size = None if made is None else self.cache.text.size_of(key)
        if made is None:
            made = render.finish(text, NO_CONTEXT)
        if size is None:
            size = weigh(text) + weigh(made.fields)
            self.cache.text.put(key, made, size)
        # A copy: the memoised record is shared, its fields are never mutated.
        output = ChannelOutput(
            made.status, made.fields, [*made.warnings, *image_warnings], made.reason
        )
        return output, size

    def _plan(
        self,
        channel: Channel,
        render: ChannelRender,
        atoms: Mapping[str, Atom | None],
        warnings: tuple[RenderWarning, ...],
    ) -> SymbolicPlan | None:
        if self.layout_dependencies.get(channel) is None:
            return None
        try:
            rewritten = {
                name: rewrite(source) for name, source in render.template_sources().items()
            }
            symbolic = render.with_sources({name: r.source for name, r in rewritten.items()})
        except RenderError:
            return None
        holes: dict[int, HoleExpression] = {}
        for part in rewritten.values():
            if not _merge(holes, part.expressions):
                return None
        sources = [part.source for part in rewritten.values()]
        tainted = tainted_fields(sources)
        if tainted is None:
            return None
        keyed: set[str] = set()
        present: set[str] = set()
        symbolic_atoms: dict[str, Atom | None] = {}
        for slot, atom in atoms.items():
            if atom is not None:
                atom, atom_holes = symbolic_atom(atom)
                if not _merge(holes, atom_holes):
                    return None
                sources.extend(v for v in atom.fields.values() if isinstance(v, str))
                if atom.body is not None:
                    sources.append(atom.body.source)
            symbolic_atoms[slot] = atom
        # A stand-in (the unsubscribe URL, per profile id) is not keyed: it is filled like a
        # hole.
        for source in sources:
            dependencies = keyed_dependencies(source)
            if dependencies is None:
                return None
            keyed |= dependencies[0]
            present |= dependencies[1]
        present -= keyed
        # An email without holes still has the unsubscribe URL to fill, which the symbolic
        # path does without copying 20 KB of HTML per profile.
        if (not holes and render.stand_in is None) or "id" in keyed:
            return None
        return SymbolicPlan(
            symbolic_atoms,
            symbolic,
            next(self._serials),
            frozenset(keyed),
            tuple(sorted(keyed)),
            tuple(sorted(present)),
            tuple(holes[hole] for hole in sorted(holes)),
            tainted,
            warnings,
        )

    def _render_with_markers(
        self,
        channel: Channel,
        plan: SymbolicPlan,
        base_context: RenderContext,
        baked: Mapping[int, str],
    ) -> SymbolicRender | object:
        """The combination rendered by the channel's plain phases, with a marker in each
        hole (or the value itself for ``baked`` ones), split into literal text and holes."""
        with_markers = base_context.with_values(
            {
                hole_name(hole.id): baked.get(index, marker(index))
                for index, hole in enumerate(plan.holes)
            }
        )
        views = SlotViews(with_markers, self.image_fields)
        render = plan.render
        stand_in = render.stand_in
        try:
            slots = views.for_channel(plan.atoms)
            context = ChannelContext(
                with_markers,
                channel,
                slots,
                None if stand_in is None else (stand_in.name, stand_in.sentinel),
            )
            if not views_clean(context.slot_fields, plan.tainted):
                return _UNFILLABLE
            text = render.render_text(context)
            if render.fills_text:
                output = ChannelOutput("rendered", dict(text))
            else:
                output = render.finish(text, context)
        except RenderError:
            return _UNFILLABLE
        # A field the layout uses other than by printing it (``preheader | truncate``).
        for name, value in output.fields.items():
            if (name,) in plan.tainted and carries_hole(value):
                return _UNFILLABLE
        if {warning.code for warning in output.warnings} & render.value_warnings:
            return _UNFILLABLE
        if stand_in is not None:
            symbolic = split_output(output.fields, stand_in.sentinel, stand_in.depths)
            if symbolic is None or stand_in.host in repr(symbolic.fields):
                return _UNFILLABLE
        else:
            symbolic = split_output(output.fields)
            if symbolic is None:
                return _UNFILLABLE
        warnings = (*output.warnings, *plan.warnings)
        return SymbolicRender(output.status, symbolic, warnings, output.reason)


def _merge(holes: dict[int, HoleExpression], more: Mapping[int, HoleExpression]) -> bool:
    """Add ``more`` to ``holes``; ``False`` when two expressions share a digest (never
    seen, but then the combination renders plainly)."""
    return all(holes.setdefault(hole, f).source == f.source for hole, f in more.items())


__all__ = ["Filling", "StandInValues", "SymbolicLayer", "SymbolicPlan", "SymbolicRender"]
