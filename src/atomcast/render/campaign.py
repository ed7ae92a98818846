"""Stages 4-5: render a profile's selection into every channel, as SPEC section 5 JSON.

:class:`Renderer` holds what is shared by every campaign of a project (compiled layouts,
image renditions); :class:`CampaignRenderer` is what campaign jobs call per profile.

Every channel is rendered by its plain renderer (:mod:`atomcast.channels`, in phases). The
fast paths here are layers around those phases and never repeat a channel's rules:

- the *memo* reuses a finished output across profiles that agree on every attribute its
  templates read (the channel's stand-in, the unsubscribe URL, swapped per profile);
- the *symbolic* path renders a combination once with holes (:mod:`atomcast.render.symbolic`)
  and fills each profile's values in; for channels whose finishing depends on the text alone
  (push, SMS) it fills the text and runs the finishing phase on it, memoised on that text.

``memoise=False`` runs every profile through the plain phases only: what the differential
tests compare the layers with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atomcast.channels.base import (
    ChannelOutput,
    ChannelRender,
    ChannelSetup,
    RenderWarning,
    SlotViews,
    StandIn,
    atom_dependencies,
    dependency_key,
)
from atomcast.channels.email import EmailCompiler
from atomcast.channels.registry import CHANNEL_ORDER, REGISTRY, registered
from atomcast.errors import ImageError, ProfileError, RenderError
from atomcast.images import ImageRenditions, ImageSet, remote_image_set
from atomcast.limits import LIMITS, WATCHDOG, Deadline, Expired, Limits
from atomcast.models import Channel
from atomcast.project import Atom, Project, brand_asset
from atomcast.render.cache import Memo, RenderCache
from atomcast.render.symbolic import (
    UNSUBSCRIBE,
    FillKind,
    HoleExpression,
    SymbolicOutput,
    TextTemplate,
    carries_hole,
    fill_kind,
    holds_marker,
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
from atomcast.schema import Profile, validate_profile
from atomcast.selection import Selection, Selector, parse_instant
from atomcast.templating import prints_unchanged, profile_dependencies

DEFAULT_ASSETS_URL = "/assets/"


@dataclass(frozen=True, slots=True)
class SymbolicPlan:
    """How one combination (channel and chosen atoms) renders with holes."""

    atoms: Mapping[str, Atom | None]
    render: ChannelRender
    keyed: frozenset[str]
    #: Attributes the templates only test for presence: keyed on that alone.
    present: tuple[str, ...]
    holes: tuple[HoleExpression, ...]
    tainted: frozenset[tuple[str, ...]]


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


#: A combination and key whose symbolic render cannot be filled (renders the ordinary way).
_UNFILLABLE = object()
#: A combination without a symbolic plan (memos hold no ``None``).
_NO_PLAN = object()


@dataclass(slots=True)
class RenderResult:
    """One profile's render: the record a campaign job stores."""

    profile_id: str
    campaign: str
    segments: tuple[str, ...]
    experiments: Mapping[str, str]
    decisions: Mapping[str, str | None]
    channels: dict[str, ChannelOutput] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile_id,
            "campaign": self.campaign,
            "segments": list(self.segments),
            "experiments": dict(self.experiments),
            "decisions": dict(self.decisions),
            "channels": {name: out.to_json() for name, out in self.channels.items()},
        }


class Renderer:
    """Renders a loaded project; create once, reuse for every profile.

    :param assets_dir: where image renditions are written (default: the project's
        ``assets.dir``).
    :param assets_base_url: the URL prefix of renditions (default: ``assets.base_url``, then
        ``brand.assets_base_url``, then ``/assets/`` for the preview server).
    """

    def __init__(
        self,
        project: Project,
        *,
        assets_dir: Path | None = None,
        assets_base_url: str | None = None,
    ) -> None:
        self.project = project
        self.selector = Selector(project)
        #: Compiled layouts of every channel (the preview hands them to the next renderer).
        self.email = EmailCompiler()
        config = project.config
        base_url = (
            assets_base_url
            or config.assets.base_url
            or config.brand.assets_base_url
            or DEFAULT_ASSETS_URL
        )
        if not base_url.endswith("/"):
            base_url += "/"
        self.assets_dir = assets_dir or (project.root / config.assets.dir)
        self.images = ImageRenditions(self.assets_dir, base_url)
        self._image_fields: dict[str, dict[str, Any] | ImageError] = {}
        self.brand = config.brand.model_dump()
        logo = brand_asset(project.root, config.brand.logo_url)
        if logo is not None:
            self.brand["logo_url"] = self.images.published(logo)
        self.limits: Limits = config.limits

    def campaign(
        self,
        name: str,
        *,
        at: dt.datetime | str | None = None,
        channels: Sequence[str] = (),
        memoise: bool = True,
    ) -> CampaignRenderer:
        """A renderer for one campaign at one instant (default: now).

        :param memoise: the fast paths (memo, symbolic holes) on top of the plain renderer
            (on by default; off only to prove they change nothing).
        :raises UnknownChannelError: when ``channels`` names a channel atomcast lacks.
        """
        return CampaignRenderer(self, name, parse_instant(at), channels, memoise)

    def clear_caches(self) -> None:
        """Empty what this renderer compiled and made (layouts, image fields); campaign
        renderers empty theirs with ``cache.clear()``."""
        self.email.clear()
        self._image_fields.clear()

    def image_set(self, atom: Atom) -> ImageSet:
        src = str(atom.fields.get("src") or "")
        if atom.image_path is None:
            return remote_image_set(src)
        focal = atom.fields.get("focal") or (0.5, 0.5)
        return self.images.renditions(atom.image_path, (float(focal[0]), float(focal[1])))

    def image_fields(self, atom: Atom) -> Mapping[str, Any]:
        """Layout fields of an image atom; renditions are made once per atom and cached."""
        cached = self._image_fields.get(atom.id)
        if cached is None:
            try:
                images = self.image_set(atom)
                email = images.email
                cached = {
                    "url": images.email_url,
                    "url_2x": email[-1].url if email else images.email_url,
                    "width": images.email_width or None,
                    "height": (email[0].height or None) if email else None,
                    "srcset": images.srcset(),
                    "web_url": images.web[-1].url if images.web else images.email_url,
                    "push_url": images.push.url if images.push else images.email_url,
                    "image_warnings": [(w.purpose, w.code, w.message) for w in images.warnings],
                }
            except ImageError as exc:
                cached = exc
            self._image_fields[atom.id] = cached
        if isinstance(cached, ImageError):
            raise RenderError(f"{atom.path}: {cached}")
        return cached


class CampaignRenderer:
    """Render one campaign for many profiles. Build it once; call :meth:`render` per profile."""

    def __init__(
        self,
        renderer: Renderer,
        name: str,
        at: dt.datetime,
        channels: Sequence[str] = (),
        memoise: bool = True,
    ) -> None:
        self.renderer = renderer
        self.project = renderer.project
        self.name = name
        self.at = at
        self.plan = renderer.selector.plan(name, at)
        self.config = self.plan.config
        for asked in channels:
            registered(asked)  # raises for an unknown one
        self.channels: tuple[Channel, ...] = tuple(
            c for c in CHANNEL_ORDER if not channels or c in channels
        )
        self.slot_order = tuple(self.config.slots)
        self.campaign_context = {"name": name, "description": self.config.description}
        layouts = self.project.layouts
        self.layouts = {
            channel: layouts.get((channel, cfg.layout))
            for channel, cfg in self.config.channels.items()
        }
        self.memoise = memoise
        self.cache = RenderCache(memoise)
        self.limits = renderer.limits
        #: Each channel's plain renderer for this campaign (``None``: no layout).
        self.renders: dict[Channel, ChannelRender | None] = {}
        for name_, kind in REGISTRY.items():
            cfg = self.config.channels.get(name_)
            layout = self.layouts.get(name_)
            self.renders[name_] = (
                kind.prepare(
                    ChannelSetup(
                        campaign=name,
                        layout=layout,
                        config=cfg,
                        brand=renderer.brand,
                        transactional=self.config.transactional,
                        slot_order=self.slot_order,
                        compiled=renderer.email,
                    )
                )
                if cfg is not None and layout is not None
                else None
            )
        # A stand-in's value joins literal text and holes without Jinja where it can.
        self._stand_in_templates: dict[str, TextTemplate | None] = {}
        # Marker characters in authored text would be taken for holes: render plainly.
        self._symbolic_ok = not holds_marker([self.renderer.brand, self.campaign_context])
        self.layout_dependencies = {
            channel: self._layout_dependencies(channel) for channel in CHANNEL_ORDER
        }

    # The memos, under the names the differential tests read.
    @property
    def view_memo(self) -> Memo | None:
        return self.cache.views

    @property
    def output_memo(self) -> Memo:
        return self.cache.outputs

    @property
    def symbolic_memo(self) -> Memo:
        return self.cache.symbolic

    @property
    def text_memo(self) -> Memo:
        return self.cache.text

    def _layout_dependencies(self, channel: Channel) -> frozenset[str] | None:
        render = self.renders.get(channel)
        if render is None:
            return None
        sources = render.key_sources()
        stand_in = render.stand_in
        if stand_in is not None and not prints_unchanged(sources, stand_in.name):
            # The stand-in can only be swapped back where it is printed as it is.
            return None
        found: set[str] = set()
        for source in sources:
            dependencies = profile_dependencies(source)
            if dependencies is None:
                return None
            found |= dependencies
        return frozenset(found)

    def render_raw(self, raw: Mapping[str, Any]) -> RenderResult:
        """Validate a raw profile mapping, then render it.

        :raises ProfileError: when the profile does not fit the schema.
        """
        return self.render(validate_profile(self.project.schema, raw))

    def select(self, profile: Profile) -> Selection:
        return self.renderer.selector.select(profile, self.name, self.at, self.channels)

    def render(self, profile: Profile) -> RenderResult:
        """Render every requested channel for ``profile``; a channel's failure stays in that
        channel (``status: error``).

        :raises LimitError: when choosing the atoms (segments, rules) alone ran past
            ``limits.record_timeout`` or a ``$regex`` past ``limits.regex_timeout``.
        """
        token = LIMITS.set(self.limits)
        try:
            guard = WATCHDOG.enter(self.limits.record_timeout)
            try:
                return self._render(profile, guard)
            finally:
                WATCHDOG.leave(guard)
        except Expired:
            if guard is None:
                raise  # an outer deadline's: its owner reports it
            raise guard.error(f"choosing atoms for profile {profile.id!r}") from None
        finally:
            LIMITS.reset(token)

    def _render(self, profile: Profile, guard: Deadline | None) -> RenderResult:
        selection = self.select(profile)
        brand = self.renderer.brand
        context: dict[str, Any] = {
            "profile": profile.attributes,
            "brand": brand,
            "campaign": self.campaign_context,
            "locale": profile.attributes.get("locale") or self.project.config.locales.default,
        }
        views = SlotViews(context, self.renderer.image_fields, self.cache.views)
        decisions = selection.decisions
        result = RenderResult(
            profile_id=profile.id,
            campaign=self.name,
            segments=selection.segments,
            experiments=selection.experiments,
            decisions=decisions,
        )
        decided = tuple(decisions.values())
        # A hole (a first name, say) is usually in every channel: evaluate it once (the
        # printed text; how it fills is decided per use).
        hole_texts: dict[int, tuple[str, FillKind] | None] = {}
        # A value holding the markers' characters would be taken for a hole: such a profile
        # renders the ordinary way, where they are only text.
        fast = self.memoise and self._symbolic_ok and not holds_marker(profile.attributes)
        expired: str | None = None
        for channel in self.channels:
            if expired is not None:
                reason = f"not rendered: the record's time ran out in {expired}"
                result.channels[channel] = ChannelOutput("error", reason=reason)
                continue
            try:
                result.channels[channel] = self._render_channel(
                    channel, selection, decided, context, views, hole_texts, fast
                )
            except Expired:
                if guard is None:
                    raise  # an outer deadline's: its owner reports it
                # Reported here, so stop the watchdog: what is left only writes errors.
                WATCHDOG.leave(guard)
                expired = channel
                reason = (
                    f"{channel} took longer than the record's limit of "
                    f"{self.limits.record_timeout:g} s (limits.record_timeout in atomcast.yaml)"
                )
                result.channels[channel] = ChannelOutput("error", reason=reason)
        return result

    # -- the plain renderer ----------------------------------------------------------------

    def _render_channel(
        self,
        channel: Channel,
        selection: Selection,
        decided: tuple[str | None, ...],
        base_context: Mapping[str, Any],
        views: SlotViews,
        hole_texts: dict[int, tuple[str, FillKind] | None],
        fast: bool = True,
    ) -> ChannelOutput:
        """One channel's output; ``decided`` are the slot decisions' atom ids, in slot order
        (a channel names its own atoms only when they differ, as with a fallback)."""
        if channel not in self.config.channels:
            return ChannelOutput("skipped", reason=f"{channel} is not in the campaign")
        plan = selection.channels[channel]
        if plan.state == "skipped":
            return ChannelOutput("skipped", reason=plan.reason)
        atoms = selection.atoms_for(channel)
        ids = tuple(atom.id if atom else None for atom in atoms.values())
        own_atoms = dict(zip(atoms, ids, strict=True)) if ids != decided else None
        render = self.renders.get(channel)
        if render is None:
            return ChannelOutput("error", reason=f"layout for {channel} is missing")
        if fast:
            symbolic = self._render_symbolic(channel, render, atoms, ids, base_context, hole_texts)
            if symbolic is not None:
                if own_atoms:
                    symbolic.atoms = own_atoms
                return symbolic
        stand_in = render.stand_in
        key = self._output_key(channel, atoms, ids, base_context["profile"]) if fast else None
        memoised = self.cache.outputs.get(key) if key is not None else None
        personal: str | None = None
        try:
            # A memo hit needs no slot views: its key covers everything they read.
            slots = views.for_channel(atoms) if memoised is None else None
            if stand_in is not None:
                personal = self._stand_in_value(stand_in, base_context, fast)
            if memoised is None:
                context = {**base_context, "slots": slots, "channel": channel}
                if stand_in is not None:
                    # A memoised output carries the stand-in where the per-profile value goes.
                    context[stand_in.name] = stand_in.sentinel if key else personal
                memoised = render.finish(render.render_text(context), context)
                if key is not None:
                    self.cache.outputs.put(key, memoised)
        except RenderError as exc:
            all_atoms = dict(zip(atoms, ids, strict=True))
            return ChannelOutput("error", reason=str(exc), atoms=all_atoms)
        fields = memoised.fields
        if stand_in is not None and key is not None and personal is not None:
            fields = stand_in.personalise(fields, personal)
            # prints_unchanged() already refused layouts that transform the value, so the
            # stand-in appears verbatim; this cheap check is a last guard.
            if stand_in.leaks(fields):
                self.layout_dependencies[channel] = None
                return self._render_channel(
                    channel, selection, decided, base_context, views, hole_texts, fast
                )
        # A copy: the memoised record is shared, its fields are never mutated.
        output = ChannelOutput(memoised.status, fields, list(memoised.warnings), memoised.reason)
        if own_atoms:
            output.atoms = own_atoms
        output.warnings.extend(self._image_warnings(atoms, channel))
        return output

    def _stand_in_value(self, stand_in: StandIn, context: Mapping[str, Any], fast: bool) -> str:
        """The profile's value of a stand-in (the unsubscribe URL): literal text and holes
        joined without Jinja where the template is only that, else rendered plainly.

        :raises RenderError: when the template fails for this profile.
        """
        if fast:
            if stand_in.source not in self._stand_in_templates:
                self._stand_in_templates[stand_in.source] = text_template(stand_in.source)
            template = self._stand_in_templates[stand_in.source]
            if template is not None:
                text = template.render(context)
                if text is not None:
                    return stand_in.finish(text)
        return stand_in.value(context)

    def _image_warnings(
        self, atoms: Mapping[str, Atom | None], channel: Channel
    ) -> list[RenderWarning]:
        """The warnings of the channel's image renditions (what the views carry)."""
        found: list[RenderWarning] = []
        for atom in atoms.values():
            if atom is None or atom.kind != "image":
                continue
            for purpose, code, message in self.renderer.image_fields(atom)["image_warnings"]:
                if purpose in (None, channel):
                    found.append(RenderWarning(code, message))
        return found

    # -- the memo ----------------------------------------------------------------------------

    def _output_key(
        self,
        channel: Channel,
        atoms: Mapping[str, Atom | None],
        ids: tuple[str | None, ...],
        attributes: Mapping[str, Any],
    ) -> tuple[Any, ...] | None:
        """The memo key of a channel's output, or ``None`` when it must be rendered.

        The output is a function of the layout, the chosen atoms and the profile attributes
        that any of their templates read; a key that includes the profile id would never hit.
        """
        dependencies = self.layout_dependencies.get(channel)
        if dependencies is None:
            return None
        # The attributes needed depend only on the combination: work them out once for it.
        combination = (channel, ids)
        needed = self.cache.needs.get(combination)
        if needed is None:
            found = self._combination_needs(dependencies, atoms)
            needed = _NO_PLAN if found is None else found
            self.cache.needs.put(combination, needed)
        if needed is _NO_PLAN:
            return None
        assert isinstance(needed, frozenset)
        render = self.renders[channel]
        stand_in = render.stand_in if render is not None else None
        if stand_in is not None and stand_in.spelled_by(attributes, needed):
            return None
        return (channel, ids, *dependency_key(attributes, needed))

    @staticmethod
    def _combination_needs(
        dependencies: frozenset[str], atoms: Mapping[str, Atom | None]
    ) -> frozenset[str] | None:
        needed = set(dependencies)
        for atom in atoms.values():
            if atom is None:
                continue
            atom_needs = atom_dependencies(atom)
            if atom_needs is None:
                return None
            needed |= atom_needs
        return None if "id" in needed else frozenset(needed)

    # -- symbolic rendering (see atomcast.render.symbolic) -----------------------------------

    def _render_symbolic(
        self,
        channel: Channel,
        render: ChannelRender,
        atoms: Mapping[str, Atom | None],
        ids: tuple[str | None, ...],
        context: Mapping[str, Any],
        hole_texts: dict[int, tuple[str, FillKind] | None],
    ) -> ChannelOutput | None:
        """The output filled from the combination's symbolic render, or ``None`` when this
        profile must be rendered the ordinary way.

        :param hole_texts: this profile's hole values so far, shared by its channels.
        """
        combination = (channel, ids)
        found = self.cache.plans.get(combination)
        if found is None:
            plan = self._symbolic_plan(channel, render, atoms)
            found = _NO_PLAN if plan is None else plan
            self.cache.plans.put(combination, found)
        if found is _NO_PLAN:
            return None
        assert isinstance(found, SymbolicPlan)
        plan = found
        texts: dict[int, str] = {}
        baked: list[tuple[int, str]] = []
        longest = self.limits.max_output_bytes // 1024
        # Texts by the hole's index in the plan: what its marker carries (short, so that a
        # marker is not longer than a value and length warnings stay rare).
        for index, hole in enumerate(plan.holes):
            if hole.id in hole_texts:
                printed = hole_texts[hole.id]
            else:
                text = hole.printed(context)
                printed = hole_texts[hole.id] = None if text is None else (text, fill_kind(text))
            if printed is None:
                return None
            text, kind = printed
            # A long value renders the ordinary way, where each template's output is held to
            # limits.max_output_bytes; filling it here would skip that bound.
            if kind is FillKind.MARKER and len(text) <= longest:
                texts[index] = text
            elif kind is FillKind.BAKED:
                baked.append((index, text))
            else:
                return None
        attributes = context["profile"]
        stand_in = render.stand_in
        personal = ""
        if stand_in is not None:
            try:
                personal = self._stand_in_value(stand_in, context, True)
            except RenderError:
                return None
            if stand_in.spelled_by(attributes, plan.keyed):
                return None
        key = (
            combination,
            tuple(baked),
            *dependency_key(attributes, plan.keyed),
            *[name in attributes for name in plan.present],
        )
        # Where names repeat, what a render and these values make is worked out once for
        # them; where they do not (a long tail of names and totals), the memo is skipped.
        fill_key = (key, *texts.values())
        remembers = self.cache.fill_pays(channel)
        filling = self.cache.fills.get(fill_key) if remembers else None
        if filling is None:
            made = self.cache.symbolic.get(key)
            if made is None:
                made = self._render_with_markers(channel, plan, context, dict(baked))
                self.cache.symbolic.put(key, made)
            if isinstance(made, SymbolicRender):
                filling = self._filling(channel, render, made, texts)
            else:
                filling = _UNFILLABLE
            if remembers:
                self.cache.fills.put(fill_key, filling)
            self.cache.fill_missed(channel)
        if filling is _UNFILLABLE:
            return None
        assert isinstance(filling, Filling)
        finished = filling.finished
        if finished is not None:
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
        return ChannelOutput(
            made.status, None, list(made.warnings), made.reason, filled=(output, values)
        )

    def _filling(
        self, channel: Channel, render: ChannelRender, made: SymbolicRender, texts: dict[int, str]
    ) -> Filling:
        """The values of a symbolic render for these hole texts (the stand-in left empty),
        finished when the channel finishes text, and whether they fill it."""
        output = made.output
        values = output.values({**texts, UNSUBSCRIBE: ""})
        if render.fills_text:
            finished = self._finish_text(channel, render, output.fill(values), made.warnings)
            return Filling(made, values, finished, True)
        fillable = render.stand_in is not None or render.fillable(output, values)
        return Filling(made, values, None, fillable)

    def _finish_text(
        self,
        channel: Channel,
        render: ChannelRender,
        text: dict[str, str],
        image_warnings: Sequence[RenderWarning],
    ) -> ChannelOutput:
        """The channel's finishing phase on its filled text, memoised on that text (common
        names repeat it)."""
        key = (channel, *text.items())
        made = self.cache.text.get(key)
        if made is None:
            made = render.finish(text, {})
            self.cache.text.put(key, made)
        # A copy: the memoised record is shared, its fields are never mutated.
        return ChannelOutput(
            made.status, made.fields, [*made.warnings, *image_warnings], made.reason
        )

    def _symbolic_plan(
        self, channel: Channel, render: ChannelRender, atoms: Mapping[str, Atom | None]
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
            frozenset(keyed),
            tuple(sorted(present)),
            tuple(holes[hole] for hole in sorted(holes)),
            tainted,
        )

    def _render_with_markers(
        self,
        channel: Channel,
        plan: SymbolicPlan,
        base_context: Mapping[str, Any],
        baked: Mapping[int, str],
    ) -> SymbolicRender | object:
        """The combination rendered by the channel's plain phases, with a marker in each
        hole (or the value itself for ``baked`` ones), split into literal text and holes."""
        context: dict[str, Any] = dict(base_context)
        for index, hole in enumerate(plan.holes):
            context[hole_name(hole.id)] = baked.get(index, marker(index))
        views = SlotViews(context, self.renderer.image_fields)
        render = plan.render
        stand_in = render.stand_in
        try:
            slots = views.for_channel(plan.atoms)
            if not views_clean(slots, plan.tainted):
                return _UNFILLABLE
            context["slots"] = slots
            context["channel"] = channel
            if stand_in is not None:
                context[stand_in.name] = stand_in.sentinel
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
        warnings = (*output.warnings, *_image_warnings(slots, channel))
        return SymbolicRender(output.status, symbolic, warnings, output.reason)

    def render_many(self, profiles: Iterable[Profile]) -> Iterator[RenderResult]:
        for profile in profiles:
            yield self.render(profile)


def _merge(holes: dict[int, HoleExpression], more: Mapping[int, HoleExpression]) -> bool:
    """Add ``more`` to ``holes``; ``False`` when two expressions share a digest (never
    seen, but then the combination renders plainly)."""
    return all(holes.setdefault(hole, f).source == f.source for hole, f in more.items())


def _image_warnings(
    slots: Mapping[str, Mapping[str, Any] | None], channel: Channel
) -> list[RenderWarning]:
    found: list[RenderWarning] = []
    for view in slots.values():
        if view and view.get("image_warnings"):
            for purpose, code, message in view["image_warnings"]:
                if purpose in (None, channel):
                    found.append(RenderWarning(code, message))
    return found


def render_profile(
    project: Project,
    campaign: str,
    raw_profile: Mapping[str, Any],
    *,
    at: dt.datetime | str | None = None,
    channels: Sequence[str] = (),
) -> dict[str, Any]:
    """One-shot convenience: render a raw profile and return SPEC section 5 JSON.

    :raises ProfileError: when the profile does not fit the schema.
    """
    renderer = Renderer(project).campaign(campaign, at=at, channels=channels)
    return renderer.render_raw(raw_profile).to_json()


__all__ = [
    "CampaignRenderer",
    "ProfileError",
    "RenderResult",
    "Renderer",
    "SymbolicPlan",
    "render_profile",
]
