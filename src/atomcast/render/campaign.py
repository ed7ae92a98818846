"""Stages 4-5: render a profile's selection into every channel, as SPEC section 5 JSON.

:class:`Renderer` holds what is shared by every campaign of a project (compiled layouts,
image renditions); :class:`CampaignRenderer` is what campaign jobs call per profile.

Every channel is rendered by its plain renderer (:mod:`atomcast.channels`, in phases). The
fast paths here are layers around those phases and never repeat a channel's rules:

- the *memo* (:mod:`atomcast.render.memo`) reuses a finished output across profiles that
  agree on every attribute its templates read (the channel's stand-in, the unsubscribe URL,
  swapped per profile);
- the *symbolic* path (:mod:`atomcast.render.holes`) renders a combination once with holes
  (:mod:`atomcast.render.symbolic`) and fills each profile's values in; for channels whose
  finishing depends on the text alone (push, SMS) it fills the text and runs the finishing
  phase on it, memoised on that text.

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
)
from atomcast.channels.email import EmailCompiler
from atomcast.channels.registry import CHANNEL_ORDER, REGISTRY, registered
from atomcast.errors import ImageError, ProfileError, RenderError
from atomcast.images import ImageRenditions, ImageSet, remote_image_set
from atomcast.limits import LIMITS, WATCHDOG, Deadline, Expired, Limits
from atomcast.models import Channel
from atomcast.project import Atom, Project, brand_asset
from atomcast.render.cache import Memo, RenderCache, weigh
from atomcast.render.context import ChannelAtoms, ChannelContext, RenderContext, SlotViews
from atomcast.render.holes import StandInValues, SymbolicLayer
from atomcast.render.memo import OutputMemo
from atomcast.render.symbolic import (
    FillKind,
    holds_marker,
)
from atomcast.schema import Profile, validate_profile
from atomcast.selection import Pinned, Selection, Selector, SlotDecision, parse_instant
from atomcast.templating import prints_unchanged, profile_dependencies

DEFAULT_ASSETS_URL = "/assets/"


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


class DecidedSlots:
    """A selection's slot decisions as the renderer reads them: the atom ids, and each
    channel's atoms (worked out once per channel).

    Where the selection's slots are shared by many profiles (no tie), one of these is kept
    with them, so that it is derived once per decision, not per profile. Nothing in it is
    mutated once made, except the lazily filled ``channels`` and ``plans``.
    """

    __slots__ = ("channels", "decided", "decisions", "plans", "slots")

    def __init__(self, slots: Mapping[str, SlotDecision], decisions: dict[str, str | None]):
        #: The selection's own, kept so that its identity cannot be reused meanwhile.
        self.slots = slots
        self.decisions = decisions
        self.decided = tuple(decisions.values())
        #: Each channel's atoms (see ``CampaignRenderer._channel_atoms``).
        self.channels: dict[Channel, ChannelAtoms] = {}
        #: The symbolic layer's plan per channel for these atoms (see ``SymbolicLayer``).
        self.plans: dict[Channel, object] = {}


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
        share_outputs: bool = False,
    ) -> CampaignRenderer:
        """A renderer for one campaign at one instant (default: now).

        :param memoise: the fast paths (memo, symbolic holes) on top of the plain renderer
            (on by default; off only to prove they change nothing).
        :param share_outputs: records may hold memoised channel outputs as they are, shared
            with other records (``ChannelOutput.shared``): for a caller that encodes and
            counts records but never changes one (the batch).
        :raises UnknownChannelError: when ``channels`` names a channel atomcast lacks.
        """
        return CampaignRenderer(
            self, name, parse_instant(at), channels, memoise, share_outputs=share_outputs
        )

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
        *,
        share_outputs: bool = False,
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
        self.default_locale = self.project.config.locales.default
        layouts = self.project.layouts
        self.layouts = {
            channel: layouts.get((channel, cfg.layout))
            for channel, cfg in self.config.channels.items()
        }
        self.memoise = memoise
        self.share_outputs = share_outputs
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
        self.stand_ins = StandInValues()
        # Marker characters in authored text would be taken for holes: render plainly.
        self._symbolic_ok = not holds_marker([self.renderer.brand, self.campaign_context])
        self.layout_dependencies = {
            channel: self._layout_dependencies(channel) for channel in CHANNEL_ORDER
        }
        self.slots_read = {
            channel: None if render is None else render.slots_read()
            for channel, render in self.renders.items()
        }
        # The two layers around the plain renderer: they only call the channels' phases.
        self.memo = OutputMemo(self.renders, self.cache, self.layout_dependencies)
        self.symbolic = SymbolicLayer(
            self.renders,
            self.cache,
            self.limits,
            self.layout_dependencies,
            self.renderer.image_fields,
            self.stand_ins,
            share_outputs,
        )

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
        return self.render_with_selection(profile, pinned=pinned)[1]

    def render_with_selection(
        self, profile: Profile, *, pinned: Pinned | None = None
    ) -> tuple[Selection, RenderResult]:
        """:meth:`render`, and the selection it rendered: coverage counts both, and deciding
        a profile a second time would double its cost.

        :raises LimitError: as :meth:`render`.
        """
        token = LIMITS.set(self.limits)
        try:
            guard = WATCHDOG.enter(self.limits.record_timeout)
            try:
                return self._render(profile, guard, pinned)
            finally:
                WATCHDOG.leave(guard)
        except Expired:
            # It may have been raised on the way into ``leave``: finish leaving.
            WATCHDOG.leave(guard)
            if guard is None:
                raise  # an outer deadline's: its owner reports it
            raise guard.error(f"choosing atoms for profile {profile.id!r}") from None
        finally:
            LIMITS.reset(token)

    def _render(
        self, profile: Profile, guard: Deadline | None, pinned: Pinned | None = None
    ) -> tuple[Selection, RenderResult]:
        selection = self.select(profile, pinned=pinned)
        brand = self.renderer.brand
        attributes = profile.attributes
        context = RenderContext(
            attributes,
            brand,
            self.campaign_context,
            attributes.get("locale") or self.default_locale,
        )
        views = SlotViews(context, self.renderer.image_fields, self.cache.views)
        decided_slots = self._decided(selection)
        decisions = decided_slots.decisions
        result = RenderResult(
            profile_id=profile.id,
            campaign=self.name,
            segments=selection.segments,
            experiments=selection.experiments,
            decisions=decisions,
            sticky=selection.sticky,
        )
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
                    channel, selection, decided_slots, context, views, hole_texts, fast
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
        return selection, result

    # -- the plain renderer ----------------------------------------------------------------

    def _render_channel(
        self,
        channel: Channel,
        selection: Selection,
        decided: DecidedSlots,
        base_context: RenderContext,
        views: SlotViews,
        hole_texts: dict[int, tuple[str, FillKind] | None],
        fast: bool = True,
    ) -> ChannelOutput:
        """One channel's output; a channel names its own atoms only when they differ from
        the slot decisions (``decided``), as with a fallback."""
        if channel not in self.config.channels:
            return ChannelOutput("skipped", reason=f"{channel} is not in the campaign")
        plan = selection.channels[channel]
        if plan.state == "skipped":
            if not self.share_outputs:
                return ChannelOutput("skipped", reason=plan.reason)
            # A handful of reasons (no consent, no atom): one output each, shared.
            skipped = self.cache.skipped.get(plan.reason)
            if skipped is None:
                skipped = ChannelOutput("skipped", reason=plan.reason)
                skipped.shared = True
                self.cache.skipped.put(plan.reason, skipped)
            assert isinstance(skipped, ChannelOutput)
            return skipped
        render = self.renders.get(channel)
        if render is None:
            return ChannelOutput("error", reason=f"layout for {channel} is missing")
        chosen = self._channel_atoms(decided, selection, channel)
        # A copy: the record's own, which callers may change.
        own_atoms = dict(chosen.own) if chosen.own is not None else None
        if fast:
            symbolic = self.symbolic.render(
                channel, render, chosen, base_context, hole_texts, decided.plans
            )
            if symbolic is not None:
                if own_atoms:
                    if symbolic.shared:
                        symbolic = symbolic.copy()
                    symbolic.atoms = own_atoms
                return symbolic
        stand_in = render.stand_in
        key = self.memo.key(channel, chosen, base_context.profile) if fast else None
        memoised = self.cache.outputs.get(key) if key is not None else None
        personal: str | None = None
        try:
            # A memo hit needs no slot views: its key covers everything they read.
            slots = views.for_channel(chosen.read) if memoised is None else None
            if stand_in is not None:
                personal = self.stand_ins.value(stand_in, base_context, fast)
            if memoised is None:
                assert slots is not None
                context = ChannelContext(
                    base_context,
                    channel,
                    slots,
                    # A memoised output carries the stand-in where the per-profile value goes.
                    None
                    if stand_in is None
                    else (stand_in.name, stand_in.sentinel if key else personal or ""),
                )
                memoised = render.finish(render.render_text(context), context)
                if key is not None:
                    self.cache.outputs.put(key, memoised, weigh(memoised.fields))
        except RenderError as exc:
            all_atoms = dict(zip(chosen.atoms, chosen.ids, strict=True))
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
        output.warnings.extend(chosen.warnings)
        return output

    def _channel_atoms(
        self, decided: DecidedSlots, selection: Selection, channel: Channel
    ) -> ChannelAtoms:
        """The channel's atoms by slot, the ones it reads and names in its record."""
        found = decided.channels.get(channel)
        if found is None:
            atoms = selection.atoms_for(channel)
            ids = tuple(atom.id if atom else None for atom in atoms.values())
            own = dict(zip(atoms, ids, strict=True)) if ids != decided.decided else None
            found = decided.channels[channel] = ChannelAtoms.of(
                atoms, ids, own, channel, self.slots_read[channel], self.renderer.image_fields
            )
        return found

    def _decided(self, selection: Selection) -> DecidedSlots:
        """What the render reads of the selection's slots, kept by the slots' identity
        where every profile of the selection's key shares them."""
        slots = selection.slots
        if not selection.shared:
            return DecidedSlots(slots, selection.decisions)
        found = self.cache.decided.get(id(slots))
        if found is None or found.slots is not slots:
            found = DecidedSlots(slots, selection.decisions)
            self.cache.decided.put(id(slots), found)
        assert isinstance(found, DecidedSlots)
        return found

    def render_many(self, profiles: Iterable[Profile]) -> Iterator[RenderResult]:
        for profile in profiles:
            yield self.render(profile)


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
    "render_profile",
]
