"""Stages 4-5: render a profile's selection into every channel, as SPEC section 5 JSON.

:class:`Renderer` holds what is shared by every campaign of a project (compiled layouts,
image renditions); :class:`CampaignRenderer` is what campaign jobs call per profile.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import escape

from atomcast.channels.base import (
    CHANNEL_ORDER,
    ChannelOutput,
    Memo,
    RenderWarning,
    SlotViews,
    atom_dependencies,
    dependency_key,
    render_string,
)
from atomcast.channels.email import (
    CLIP_BYTES,
    SUBJECT_MAX,
    CompiledEmail,
    EmailCompiler,
    render_email,
)
from atomcast.channels.push import push_limits, push_output, render_push, render_push_parts
from atomcast.channels.sms import render_sms, render_sms_parts, sms_output
from atomcast.channels.web import guarded_source, render_web
from atomcast.errors import ImageError, ProfileError, RenderError
from atomcast.images import ImageRenditions, ImageSet, remote_image_set
from atomcast.limits import LIMITS, WATCHDOG, Deadline, Expired, Limits
from atomcast.models import CHANNELS, Channel
from atomcast.project import Atom, Layout, Project, brand_asset
from atomcast.schema import Profile, validate_profile
from atomcast.selection import Pinned, Selection, Selector, parse_instant
from atomcast.symbolic import (
    UNSUBSCRIBE,
    HoleExpression,
    SymbolicOutput,
    carries_hole,
    expression,
    holds_marker,
    hole_name,
    keyed_dependencies,
    marker,
    rewrite,
    split_output,
    symbolic_atom,
    symbolic_layout,
    tainted_fields,
    text_template,
    views_clean,
)
from atomcast.templating import (
    clean_url,
    compile_template,
    encode_url_values,
    prints_unchanged,
    profile_dependencies,
)

DEFAULT_ASSETS_URL = "/assets/"
#: Memo bounds per campaign renderer (and so per worker process): a few MB each.
VIEW_MEMO_SIZE = 4_000
OUTPUT_MEMO_SIZE = 2_500
SYMBOLIC_MEMO_SIZE = 400
#: Channels whose outputs are filled symbolically: the whole output for email and web. For
#: push and SMS only the templates' text is: their length limits, truncation and GSM-7/UCS-2
#: choice depend on the very text a hole fills, so that clean-up runs on the filled text.
SYMBOLIC_CHANNELS: frozenset[Channel] = frozenset({"email", "web", "push", "sms"})
TEXT_CHANNELS: frozenset[Channel] = frozenset({"push", "sms"})
TEXT_MEMO_SIZE = 2_500


#: Stands in for the unsubscribe URL in memoised email; alphanumeric after the scheme so
#: that HTML escaping leaves it intact and the real, escaped URL can replace it.
UNSUBSCRIBE_SENTINEL = "https://atomcast.invalid/unsubscribe-7f3a9c2e51d84b06"
_SENTINEL_HOST = "atomcast.invalid"


@dataclass(frozen=True, slots=True)
class SymbolicPlan:
    """How one combination (channel and chosen atoms) renders with holes."""

    atoms: Mapping[str, Atom | None]
    layout: Layout
    compiled: CompiledEmail | None
    web_source: str | None
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


#: A combination and key whose symbolic render cannot be filled (renders the ordinary way).
_UNFILLABLE = object()
#: Sentinel-escaping per email field, as :func:`personalise_unsubscribe` does it.
_UNSUBSCRIBE_ESCAPES = {"html": 1, "text": 0, "headers": 0}


def personalise_unsubscribe(fields: Mapping[str, Any], url: str) -> dict[str, Any]:
    """Put a profile's unsubscribe URL into a memoised email record."""
    personal = dict(fields)
    personal["html"] = fields["html"].replace(UNSUBSCRIBE_SENTINEL, str(escape(url)))
    personal["text"] = fields["text"].replace(UNSUBSCRIBE_SENTINEL, url)
    personal["headers"] = {**fields["headers"], "List-Unsubscribe": f"<{url}>"}
    return personal


@dataclass(slots=True)
class RenderResult:
    """One profile's render: the record a campaign job stores."""

    profile_id: str
    campaign: str
    segments: tuple[str, ...]
    experiments: Mapping[str, str]
    decisions: Mapping[str, str | None]
    channels: dict[str, ChannelOutput] = field(default_factory=dict)
    #: Rendered from a stored decision: whether it was kept whole (``None``: not asked).
    sticky: bool | None = None

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "profile_id": self.profile_id,
            "campaign": self.campaign,
            "segments": list(self.segments),
            "experiments": dict(self.experiments),
            "decisions": dict(self.decisions),
            "channels": {name: out.to_json() for name, out in self.channels.items()},
        }
        if self.sticky is not None:
            record["sticky"] = self.sticky
        return record


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

        :param memoise: reuse renders across profiles that agree on every attribute the
            templates read (on by default; off only to prove it changes nothing).
        """
        return CampaignRenderer(self, name, parse_instant(at), channels, memoise)

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
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel {unknown[0]!r} (channels: {', '.join(CHANNELS)})")
        wanted = [c for c in CHANNEL_ORDER if not channels or c in channels]
        self.channels: tuple[Channel, ...] = tuple(wanted)
        self.slot_order = tuple(self.config.slots)
        self.campaign_context = {"name": name, "description": self.config.description}
        layouts = self.project.layouts
        self.layouts = {
            channel: layouts.get((channel, cfg.layout))
            for channel, cfg in self.config.channels.items()
        }
        self.memoise = memoise
        self.view_memo: Memo | None = Memo(VIEW_MEMO_SIZE) if memoise else None
        self.output_memo = Memo(OUTPUT_MEMO_SIZE)
        self._needed: dict[tuple[Channel, tuple[str | None, ...]], frozenset[str] | None] = {}
        self.symbolic_memo = Memo(SYMBOLIC_MEMO_SIZE)
        self.text_memo = Memo(TEXT_MEMO_SIZE)
        # Profile values in the URL are percent-encoded: an id cannot add a second target.
        self._unsubscribe_source = encode_url_values(self.renderer.brand["unsubscribe_url"] or "")
        self._unsubscribe_template = text_template(self._unsubscribe_source)
        self.limits = renderer.limits
        # Marker characters in authored text would be taken for holes: render plainly.
        self._symbolic_ok = not holds_marker([self.renderer.brand, self.campaign_context])
        self._symbolic_plans: dict[tuple[Channel, tuple[str | None, ...]], SymbolicPlan | None]
        self._symbolic_plans = {}
        self.layout_dependencies = {
            channel: self._layout_dependencies(channel) for channel in CHANNEL_ORDER
        }
        self.push_limits = (
            push_limits(self.config.channels["push"]) if "push" in self.config.channels else None
        )

    def _layout_dependencies(self, channel: Channel) -> frozenset[str] | None:
        layout = self.layouts.get(channel)
        if layout is None:
            return None
        sources = [part.source for part in layout.parts.values()]
        if channel == "email" and not prints_unchanged(sources, "unsubscribe_url"):
            # The sentinel can only be swapped back where the URL is printed as it is.
            return None
        if channel == "sms" and not self.config.transactional:
            sources.append(self.renderer.brand.get("sms_footer") or "")
        found: set[str] = set()
        for source in sources:
            dependencies = profile_dependencies(source)
            if dependencies is None:
                return None
            found |= dependencies
        return frozenset(found)

    def render_raw(self, raw: Mapping[str, Any], *, pinned: Pinned | None = None) -> RenderResult:
        """Validate a raw profile mapping, then render it.

        :raises ProfileError: when the profile does not fit the schema.
        """
        return self.render(validate_profile(self.project.schema, raw), pinned=pinned)

    def select(self, profile: Profile, *, pinned: Pinned | None = None) -> Selection:
        return self.renderer.selector.select(
            profile, self.name, self.at, self.channels, pinned=pinned
        )

    def render(self, profile: Profile, *, pinned: Pinned | None = None) -> RenderResult:
        """Render every requested channel for ``profile``; a channel's failure stays in that
        channel (``status: error``).

        :param pinned: a stored decision (``atomcast.store.StoredDecision``) to keep: its
            arms and atoms where they still exist (``sticky`` says whether all did).

        :raises LimitError: when choosing the atoms (segments, rules) alone ran past
            ``limits.record_timeout`` or a ``$regex`` past ``limits.regex_timeout``.
        """
        token = LIMITS.set(self.limits)
        try:
            guard = WATCHDOG.enter(self.limits.record_timeout)
            try:
                return self._render(profile, guard, pinned)
            finally:
                WATCHDOG.leave(guard)
        except Expired:
            if guard is None:
                raise  # an outer deadline's: its owner reports it
            raise guard.error(f"choosing atoms for profile {profile.id!r}") from None
        finally:
            LIMITS.reset(token)

    def _render(
        self, profile: Profile, guard: Deadline | None, pinned: Pinned | None = None
    ) -> RenderResult:
        selection = self.select(profile, pinned=pinned)
        brand = self.renderer.brand
        context: dict[str, Any] = {
            "profile": profile.attributes,
            "brand": brand,
            "campaign": self.campaign_context,
            "locale": profile.attributes.get("locale") or self.project.config.locales.default,
        }
        views = SlotViews(context, self.renderer.image_fields, self.view_memo)
        decisions = selection.decisions
        result = RenderResult(
            profile_id=profile.id,
            campaign=self.name,
            segments=selection.segments,
            experiments=selection.experiments,
            decisions=decisions,
            sticky=selection.sticky,
        )
        decided = tuple(decisions.values())
        # A hole (a first name, say) is usually in every channel: evaluate it once.
        hole_texts: dict[int, str | None] = {}
        # A value holding the markers' characters would be taken for a hole: such a profile
        # renders the ordinary way, where they are only text.
        fast = self._symbolic_ok and not holds_marker(profile.attributes)
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

    def _output_key(
        self,
        channel: Channel,
        atoms: Mapping[str, Atom | None],
        ids: tuple[str | None, ...],
        attributes: Mapping[str, Any],
    ) -> tuple[Any, ...] | None:
        """The memo key of a text channel's output, or ``None`` when it must be rendered.

        The output is a function of the layout, the chosen atoms and the profile attributes
        that any of their templates read; a key that includes the profile id would never hit.
        """
        dependencies = self.layout_dependencies.get(channel)
        if dependencies is None or not self.memoise:
            return None
        # The attributes needed depend only on the combination: work them out once for it.
        combination = (channel, ids)
        if combination in self._needed:
            needed = self._needed[combination]
        else:
            needed = self._combination_needs(dependencies, atoms)
            self._needed[combination] = needed
        if needed is None or (channel == "email" and _shows_stand_in(attributes, needed)):
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

    def _render_channel(
        self,
        channel: Channel,
        selection: Selection,
        decided: tuple[str | None, ...],
        base_context: Mapping[str, Any],
        views: SlotViews,
        hole_texts: dict[int, str | None],
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
        layout = self.layouts.get(channel)
        if layout is None:
            return ChannelOutput("error", reason=f"layout for {channel} is missing")
        if fast and self.memoise and channel in SYMBOLIC_CHANNELS:
            symbolic = self._render_symbolic(channel, atoms, ids, base_context, hole_texts)
            if symbolic is not None:
                if own_atoms:
                    symbolic.atoms = own_atoms
                return symbolic
        key = self._output_key(channel, atoms, ids, base_context["profile"]) if fast else None
        memoised = self.output_memo.get(key) if key is not None else None
        unsubscribe: str | None = None
        try:
            # A memo hit needs no slot views: its key covers everything they read.
            slots = views.for_channel(atoms) if memoised is None else None
            if channel == "email":
                unsubscribe = self._unsubscribe_url(base_context)
            if memoised is None:
                context = {**base_context, "slots": slots, "channel": channel}
                if channel == "email":
                    # Memoised email carries a sentinel where the per-profile URL goes.
                    context["unsubscribe_url"] = UNSUBSCRIBE_SENTINEL if key else unsubscribe
                memoised = self._dispatch(channel, layout, context)
                if key is not None:
                    self.output_memo.put(key, memoised)
        except RenderError as exc:
            all_atoms = dict(zip(atoms, ids, strict=True))
            return ChannelOutput("error", reason=str(exc), atoms=all_atoms)
        fields = memoised.fields
        if channel == "email" and key is not None and unsubscribe is not None:
            fields = personalise_unsubscribe(fields, unsubscribe)
            # prints_unchanged() already refused layouts that transform the URL, so the
            # stand-in appears verbatim; this cheap case-sensitive check is a last guard.
            if _SENTINEL_HOST in fields["html"]:
                self.layout_dependencies["email"] = None
                return self._render_channel(
                    channel, selection, decided, base_context, views, hole_texts, fast
                )
        # A copy: the memoised record is shared, its fields are never mutated.
        output = ChannelOutput(memoised.status, fields, list(memoised.warnings), memoised.reason)
        if own_atoms:
            output.atoms = own_atoms
        output.warnings.extend(self._image_warnings(atoms, channel))
        return output

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

    # -- symbolic rendering (see atomcast.symbolic) -----------------------------------------

    def _render_symbolic(
        self,
        channel: Channel,
        atoms: Mapping[str, Atom | None],
        ids: tuple[str | None, ...],
        context: Mapping[str, Any],
        hole_texts: dict[int, str | None],
    ) -> ChannelOutput | None:
        """The output filled from the combination's symbolic render, or ``None`` when this
        profile must be rendered the ordinary way.

        :param hole_texts: this profile's hole values so far, shared by its channels.
        """
        combination = (channel, ids)
        if combination in self._symbolic_plans:
            plan = self._symbolic_plans[combination]
        else:
            plan = self._symbolic_plan(channel, atoms)
            self._symbolic_plans[combination] = plan
        if plan is None:
            return None
        texts: dict[int, str] = {}
        for hole in plan.holes:
            if hole.id in hole_texts:
                text = hole_texts[hole.id]
            else:
                text = hole_texts[hole.id] = hole.evaluate(context)
            # A long value renders the ordinary way, where each template's output is held to
            # limits.max_output_bytes; filling it here would skip that bound.
            if text is None or len(text) > self.limits.max_output_bytes // 1024:
                return None
            texts[hole.id] = text
        if channel == "email":
            try:
                texts[UNSUBSCRIBE] = self._unsubscribe_url(context)
            except RenderError:
                return None
        if channel == "email" and _shows_stand_in(context["profile"], plan.keyed):
            return None
        attributes = context["profile"]
        key = (
            combination,
            *dependency_key(attributes, plan.keyed),
            *[name in attributes for name in plan.present],
        )
        render = self.symbolic_memo.get(key)
        if render is None:
            render = self._render_with_markers(channel, plan, context)
            self.symbolic_memo.put(key, render)
        if render is _UNFILLABLE:
            return None
        assert isinstance(render, SymbolicRender)
        values = render.output.values(texts)
        if channel in TEXT_CHANNELS:
            return self._finish_text(channel, render.output.fill(values), render.warnings, context)
        if channel == "email":
            symbolic = render.output
            if symbolic.length("subject", values) > SUBJECT_MAX or (
                symbolic.length("html", values) * 4 > CLIP_BYTES
                and len(symbolic.field("html", values).encode("utf-8", "replace")) > CLIP_BYTES
            ):
                return None  # a value-dependent warning: let the ordinary render word it
        return ChannelOutput(
            render.status,
            None,
            list(render.warnings),
            render.reason,
            filled=(render.output, values),
        )

    def _finish_text(
        self,
        channel: Channel,
        parts: dict[str, str],
        image_warnings: Sequence[RenderWarning],
        context: Mapping[str, Any],
    ) -> ChannelOutput | None:
        """Push or SMS from its filled template text: the channel's own clean-up, memoised
        on that text (common names repeat it)."""
        footer: str | None = None
        if channel == "sms" and not self.config.transactional:
            source = self.renderer.brand.get("sms_footer")
            if source:
                try:
                    footer = render_string(source, context, "brand.sms_footer")
                except RenderError:
                    return None
        key = (channel, footer, *parts.items())
        made = self.text_memo.get(key)
        if made is None:
            if channel == "sms":
                made = sms_output(parts["body"], self.config.channels["sms"], footer)
            else:
                assert self.push_limits is not None
                made = push_output(parts, self.push_limits, self.name)
            self.text_memo.put(key, made)
        # A copy: the memoised record is shared, its fields are never mutated.
        return ChannelOutput(
            made.status, made.fields, [*made.warnings, *image_warnings], made.reason
        )

    def _unsubscribe_url(self, context: Mapping[str, Any]) -> str:
        """The profile's unsubscribe URL (``brand.unsubscribe_url`` rendered, the profile's
        values in it percent-encoded, and anything a header line cannot hold encoded too).

        :raises RenderError: when the template fails for this profile.
        """
        if self._unsubscribe_template is not None:
            url = self._unsubscribe_template.render(context)
            if url is not None:
                return clean_url(url)
        return clean_url(render_string(self._unsubscribe_source, context, "brand.unsubscribe_url"))

    def _symbolic_plan(
        self, channel: Channel, atoms: Mapping[str, Atom | None]
    ) -> SymbolicPlan | None:
        layout = self.layouts.get(channel)
        if layout is None or self.layout_dependencies.get(channel) is None:
            return None
        holes: set[int] = set()
        compiled: CompiledEmail | None = None
        web_source: str | None = None
        sources: list[str] = []
        if channel == "email":
            try:
                compiled = self.renderer.email.compile(layout)
            except RenderError:
                return None
            replaced: dict[str, str] = {}
            for name in ("subject", "preheader"):
                if name in layout.parts:
                    part = rewrite(layout.parts[name].source)
                    replaced[name] = part.source
                    holes |= part.holes
            layout = symbolic_layout(layout, replaced)
            body = rewrite(compiled.source)
            holes |= body.holes
            compiled = dataclasses.replace(
                compiled, layout=layout, template=compile_template(body.source, "html")
            )
            sources = [*replaced.values(), body.source]
        elif channel in TEXT_CHANNELS:
            parts = {name: rewrite(part.source) for name, part in layout.parts.items()}
            for part in parts.values():
                holes |= part.holes
            layout = symbolic_layout(layout, {name: part.source for name, part in parts.items()})
            sources = [part.source for part in parts.values()]
        else:
            body = rewrite(guarded_source(layout.parts["body"].source))
            holes |= body.holes
            web_source = body.source
            sources = [body.source]
        tainted = tainted_fields(sources)
        if tainted is None:
            return None
        keyed: set[str] = set()
        present: set[str] = set()
        symbolic_atoms: dict[str, Atom | None] = {}
        for slot, atom in atoms.items():
            if atom is not None:
                atom, atom_holes = symbolic_atom(atom)
                holes |= atom_holes
                sources.extend(v for v in atom.fields.values() if isinstance(v, str))
                if atom.body is not None:
                    sources.append(atom.body.source)
            symbolic_atoms[slot] = atom
        # The unsubscribe URL (per profile id) is not keyed: it is filled like a hole.
        for source in sources:
            dependencies = keyed_dependencies(source)
            if dependencies is None:
                return None
            keyed |= dependencies[0]
            present |= dependencies[1]
        present -= keyed
        # An email without holes still has the unsubscribe URL to fill, which the symbolic
        # path does without copying 20 KB of HTML per profile.
        if (not holes and channel != "email") or "id" in keyed:
            return None
        return SymbolicPlan(
            symbolic_atoms,
            layout,
            compiled,
            web_source,
            frozenset(keyed),
            tuple(sorted(present)),
            tuple(expression(hole) for hole in sorted(holes)),
            tainted,
        )

    def _render_with_markers(
        self, channel: Channel, plan: SymbolicPlan, base_context: Mapping[str, Any]
    ) -> SymbolicRender | object:
        context: dict[str, Any] = dict(base_context)
        for hole in plan.holes:
            context[hole_name(hole.id)] = marker(hole.id)
        views = SlotViews(context, self.renderer.image_fields)
        try:
            slots = views.for_channel(plan.atoms)
            if not views_clean(slots, plan.tainted):
                return _UNFILLABLE
            context["slots"] = slots
            context["channel"] = channel
            if channel == "email":
                assert plan.compiled is not None
                context["unsubscribe_url"] = UNSUBSCRIBE_SENTINEL
                output = render_email(plan.compiled, context, self.slot_order)
            elif channel == "push":
                output = ChannelOutput("rendered", render_push_parts(plan.layout, context))
            elif channel == "sms":
                output = ChannelOutput("rendered", render_sms_parts(plan.layout, context))
            else:
                output = render_web(plan.layout, context, plan.web_source)
        except RenderError:
            return _UNFILLABLE
        if carries_hole(output.fields.get("preheader")) and ("preheader",) in plan.tainted:
            return _UNFILLABLE
        codes = {warning.code for warning in output.warnings}
        if codes & {"subject_too_long", "html_too_large"}:
            return _UNFILLABLE
        if channel == "email":
            symbolic = split_output(output.fields, UNSUBSCRIBE_SENTINEL, _UNSUBSCRIBE_ESCAPES)
        else:
            symbolic = split_output(output.fields)
        if symbolic is None or _SENTINEL_HOST in repr(symbolic.fields):
            return _UNFILLABLE
        warnings = (*output.warnings, *_image_warnings(slots, channel))
        return SymbolicRender(output.status, symbolic, warnings, output.reason)

    def _dispatch(self, channel: Channel, layout: Any, context: dict[str, Any]) -> ChannelOutput:
        cfg = self.config.channels[channel]
        brand = self.renderer.brand
        if channel == "email":
            compiled = self.renderer.email.compile(layout)
            return render_email(compiled, context, self.slot_order)
        if channel == "push":
            assert self.push_limits is not None
            return render_push(layout, context, self.push_limits, self.name)
        if channel == "sms":
            footer = None
            if not self.config.transactional and brand.get("sms_footer"):
                footer = render_string(brand["sms_footer"], context, "brand.sms_footer")
            return render_sms(layout, context, cfg, footer)
        return render_web(layout, context)

    def render_many(self, profiles: Iterable[Profile]) -> Iterator[RenderResult]:
        for profile in profiles:
            yield self.render(profile)


def _shows_stand_in(attributes: Mapping[str, Any], names: Iterable[str]) -> bool:
    """Whether a printed attribute could spell the unsubscribe stand-in, which would then be
    taken for it (only a deliberate value can)."""
    return any(_SENTINEL_HOST in str(attributes.get(name, "")) for name in names)


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


__all__ = ["CampaignRenderer", "ProfileError", "RenderResult", "Renderer", "render_profile"]
