"""Stage 3: choose one atom per slot for a profile, shared by every channel.

The rules are SPEC section 3. Everything that does not depend on the profile (kind, channel
and date-window filtering, locale grouping, priority order) is done once per campaign and
day in a :class:`CampaignPlan`; per profile only segments, conditions and the deterministic
hash draws remain.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from atomcast.errors import ParameterError, UnknownCampaignError
from atomcast.models import CampaignConfig, Channel, SlotConfig
from atomcast.project import Atom, Project
from atomcast.schema import Profile, parse_iso_datetime

HOLDOUT = "holdout"


def unit_hash(*parts: str) -> float:
    """A deterministic number in [0, 1) from ``parts``: same everywhere, every process.

    Python's ``hash()`` is salted per process, so a real digest is needed for "the same
    profile always gets the same atom" to hold across workers and machines.
    """
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def parse_instant(value: str | dt.datetime | None) -> dt.datetime:
    """An aware UTC datetime from ISO 8601 text (date alone means midnight UTC), or now.

    :raises ParameterError: for ``at`` when the text is not ISO 8601, or its instant lies
        outside years 1 to 9999 once in UTC.
    """
    if value is None:
        return dt.datetime.now(dt.UTC)
    if isinstance(value, str):
        try:
            value = parse_iso_datetime(value)
        except ValueError as exc:
            raise ParameterError("at", str(exc)) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        # 0001-01-01T00:00+01:00 is well-formed, but its UTC instant is before year 1.
        raise ParameterError(
            "at", f"{value.isoformat()} is outside years 1 to 9999 once in UTC"
        ) from None


@dataclass(frozen=True, slots=True)
class ExperimentPlan:
    name: str
    slot: str
    arms: tuple[tuple[str, float], ...]
    holdout: float
    bounds: tuple[tuple[str, float], ...] = field(init=False, repr=False, compare=False)

    def assign(self, profile_id: str, campaign: str) -> str:
        """The profile's arm, or ``holdout``: a hash bucket, stable across runs."""
        bucket = unit_hash(profile_id, campaign, self.name)
        if bucket < self.holdout:
            return HOLDOUT
        position = (bucket - self.holdout) / (1 - self.holdout)
        for arm, running in self.bounds:
            if position < running:
                return arm
        return self.arms[-1][0]

    def __post_init__(self) -> None:
        # Each arm with the running share it ends at, summed in the order and the way
        # assignment always summed them (the same boundaries, so the same arms).
        total = sum(weight for _, weight in self.arms)
        running = 0.0
        bounds = []
        for arm, weight in self.arms:
            running += weight / total
            bounds.append((arm, running))
        object.__setattr__(self, "bounds", tuple(bounds))


@dataclass(frozen=True, slots=True)
class SlotPlan:
    """A slot's candidates for one campaign and day, grouped by locale, best first."""

    name: str
    config: SlotConfig
    by_locale: Mapping[str, tuple[Atom, ...]]
    fallback: Atom | None
    experiment: ExperimentPlan | None


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    name: str
    config: CampaignConfig
    day: dt.date
    channels: tuple[Channel, ...]
    slots: tuple[SlotPlan, ...]
    experiments: tuple[ExperimentPlan, ...]


ChannelState = Literal["ready", "skipped"]


@dataclass(frozen=True, slots=True)
class SlotDecision:
    """The decision for one slot.

    :param ranked: eligible atoms of the chosen locale, in preference order.
    :param by_channel: the atom each channel uses (the first ranked atom serving it, else
        the fallback for a required slot, else ``None``).
    """

    slot: str
    locale: str | None
    ranked: tuple[Atom, ...]
    by_channel: Mapping[Channel, Atom | None]
    fallback_used: frozenset[Channel] = frozenset()

    @property
    def chosen(self) -> Atom | None:
        """The slot's decision as reported: shared by every channel the atom serves."""
        if self.ranked:
            return self.ranked[0]
        return next((atom for atom in self.by_channel.values() if atom is not None), None)


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    channel: Channel
    state: ChannelState
    reason: str | None = None


@dataclass(slots=True)
class Selection:
    """Everything decided for one profile and campaign, before any rendering.

    Read-only by convention: slotted but not frozen, as a frozen dataclass of this size costs
    about 0.8 µs more to build, once per profile on the batch's hot path.
    """

    profile: Profile
    campaign: CampaignPlan
    at: dt.datetime
    segments: tuple[str, ...]
    experiments: Mapping[str, str]
    slots: Mapping[str, SlotDecision]
    channels: Mapping[Channel, ChannelPlan] = field(default_factory=dict)
    #: With a pinned decision: whether every stored arm and atom was kept; else ``None``.
    sticky: bool | None = None
    #: Whether ``slots`` is shared by every profile of this selection's key (no tie between
    #: atoms, no stored decision): what is derived from it can be kept by its identity.
    shared: bool = False

    @property
    def decisions(self) -> dict[str, str | None]:
        return {
            name: (d.chosen.id if d.chosen is not None else None) for name, d in self.slots.items()
        }

    def atoms_for(self, channel: Channel) -> dict[str, Atom | None]:
        return {name: d.by_channel.get(channel) for name, d in self.slots.items()}


class Pinned(Protocol):
    """A decision made earlier for the profile (the decision store's record) to keep."""

    @property
    def experiments(self) -> Mapping[str, str]: ...

    @property
    def decisions(self) -> Mapping[str, str | None]: ...


def slot_tags(config: CampaignConfig, slot: str) -> frozenset[str] | None:
    """The tag filter of a slot (its own, else the campaign's); ``None`` means any atom."""
    tags = config.slots[slot].tags
    if tags is None:
        tags = config.tags
    return frozenset(tags) if tags is not None else None


def weighted_order(atoms: Sequence[Atom], *key: str) -> list[Atom]:
    """Atoms of equal priority in a weighted, deterministic order.

    The first pick uses the hash of ``key`` (profile id, campaign, slot) alone, as the SPEC
    says; later picks, needed when a channel skips the first, draw again with a round number.
    Atoms are sorted by id first so file order on disk never matters.
    """
    remaining = sorted(atoms, key=lambda atom: atom.id)
    ordered: list[Atom] = []
    draw = 0
    while len(remaining) > 1:
        point = unit_hash(*key) if draw == 0 else unit_hash(*key, str(draw))
        total = sum(atom.weight for atom in remaining)
        running = 0.0
        pick = remaining[-1]
        for atom in remaining:
            running += atom.weight / total
            if point < running:
                pick = atom
                break
        ordered.append(pick)
        remaining.remove(pick)
        draw += 1
    ordered.extend(remaining)
    return ordered


def priority_groups(atoms: Sequence[Atom]) -> tuple[tuple[Atom, ...], ...]:
    """The atoms grouped by priority, highest first."""
    by_priority: dict[int, list[Atom]] = {}
    for atom in atoms:
        by_priority.setdefault(atom.priority, []).append(atom)
    return tuple(tuple(by_priority[p]) for p in sorted(by_priority, reverse=True))


def rank_groups(
    groups: Sequence[Sequence[Atom]], profile_id: str, campaign: str, slot: str
) -> tuple[Atom, ...]:
    ranked: list[Atom] = []
    for group in groups:
        ranked.extend(
            weighted_order(group, profile_id, campaign, slot) if len(group) > 1 else group
        )
    return tuple(ranked)


def rank(atoms: Sequence[Atom], profile_id: str, campaign: str, slot: str) -> tuple[Atom, ...]:
    """Highest priority first; equal priorities in weighted deterministic order."""
    return rank_groups(priority_groups(atoms), profile_id, campaign, slot)


#: Selections remembered per selector (cleared whole when full): a campaign has few distinct
#: (segments, arms, locales, conditions, consent) combinations.
DECISION_MEMO_SIZE = 10_000


_T = TypeVar("_T")


class Selector:
    """Selection for one project: plans are cached per campaign and day."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._plans: dict[tuple[str, dt.date], CampaignPlan] = {}
        #: The plan asked for last, with the instant object it was asked for (a campaign
        #: renderer asks with the same one for every profile).
        self._last_plan: tuple[str, dt.datetime, CampaignPlan] | None = None
        self._chains: dict[str | None, tuple[str, ...]] = {}
        self._conditional: dict[tuple[str, dt.date, tuple[str, ...]], tuple[Atom, ...]] = {}
        self._selections: dict[tuple[Any, ...], _Memo] = {}
        # Most keys differ only in segments or condition results that change nothing: they
        # share one copy of each slot's decision, channel plans and key parts, so that the
        # memo's memory is its keys, not thousands of copies of a few decisions.
        self._shared: dict[Hashable, Any] = {}
        #: The channels to decide for, by the plan's and the caller's channels.
        self._wanted: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[Channel, ...]] = {}
        self._last_wanted: tuple[CampaignPlan, tuple[Channel, ...], tuple[Channel, ...]] | None = (
            None
        )

    def plan(self, campaign: str, at: dt.datetime) -> CampaignPlan:
        """The profile-independent part of selection for ``campaign`` on ``at``'s UTC day."""
        last = self._last_plan
        if last is not None and last[1] is at and last[0] == campaign:
            return last[2]
        day = at.astimezone(dt.UTC).date()
        cached = self._plans.get((campaign, day))
        if cached is not None:
            self._last_plan = (campaign, at, cached)
            return cached
        config = self.project.config.campaigns.get(campaign)
        if config is None:
            known = ", ".join(sorted(self.project.config.campaigns)) or "none"
            raise UnknownCampaignError(f"unknown campaign '{campaign}' (campaigns: {known})")
        channels = tuple(config.channels)
        experiments = tuple(
            ExperimentPlan(
                name,
                exp.slot,
                tuple(exp.variants.items()),
                exp.holdout / 100,
            )
            for name, exp in config.experiments.items()
        )
        slots: list[SlotPlan] = []
        for slot_name, slot in config.slots.items():
            experiment = next((e for e in experiments if e.slot == slot_name), None)
            tags = slot_tags(config, slot_name)
            by_locale: dict[str, list[Atom]] = {}
            for atom in self.project.atoms.values():
                if atom.kind not in slot.kinds or not atom.in_window(day):
                    continue
                if tags is not None and tags.isdisjoint(atom.tags):
                    continue
                if not atom.channels.intersection(channels):
                    continue
                if atom.experiment is not None and (
                    experiment is None or atom.experiment != experiment.name
                ):
                    continue
                by_locale.setdefault(atom.locale, []).append(atom)
            ordered = {
                locale: tuple(sorted(atoms, key=lambda a: (-a.priority, a.id)))
                for locale, atoms in by_locale.items()
            }
            fallback = self.project.atoms.get(slot.fallback) if slot.fallback else None
            slots.append(SlotPlan(slot_name, slot, ordered, fallback, experiment))
        plan = CampaignPlan(campaign, config, day, channels, tuple(slots), experiments)
        self._plans[(campaign, day)] = plan
        return plan

    def segments_of(self, profile: Profile) -> frozenset[str]:
        """Every named segment whose condition holds, in dependency order."""
        found: set[str] = set()
        attributes = profile.attributes
        for segment in self.project.segments:
            # Conditions only test membership, so the growing set itself can be shown.
            if segment.condition.fn(attributes, found):
                found.add(segment.name)
        return frozenset(found)

    def eligible(
        self, atom: Atom, profile: Profile, segments: frozenset[str], arm: str | None
    ) -> bool:
        """Segments (any-of), ``when`` and experiment arm; kind, window and channels are
        already filtered by the plan."""
        if atom.segments is not None and not atom.segments & segments:
            return False
        if atom.arm is not None and atom.arm != arm:
            return False
        return atom.when is None or atom.when.fn(profile.attributes, segments)

    def select(
        self,
        profile: Profile,
        campaign: str,
        at: dt.datetime,
        channels: Sequence[Channel] = (),
        *,
        pinned: Pinned | None = None,
    ) -> Selection:
        """The profile's decision; with ``pinned``, its stored arms and atoms where they
        still exist (a slot whose atom is gone is decided afresh: ``sticky`` is false)."""
        plan = self.plan(campaign, at)
        segments = self.segments_of(profile)
        profile_id = profile.id
        arms = {exp.name: exp.assign(profile_id, campaign) for exp in plan.experiments}
        sticky: bool | None = None
        if pinned is not None:
            arms, sticky = _pinned_arms(plan, arms, pinned.experiments)
        attributes = profile.attributes
        locale = attributes.get("locale")
        chain = self._chains.get(locale)
        if chain is None:
            chain = self._chains[locale] = self.project.locale_chain(locale)
        asked = channels if type(channels) is tuple else tuple(channels)
        last = self._last_wanted
        if last is not None and last[0] is plan and last[1] is asked:
            wanted: tuple[Channel, ...] | None = last[2]
        else:
            wanted = self._wanted.get((plan.channels, asked))
        if wanted is None:
            wanted = tuple(c for c in plan.channels if not asked or c in asked)
            if len(self._wanted) >= 64:
                self._wanted.clear()
            self._wanted[(plan.channels, asked)] = wanted
        # The batch asks for the same channels of the same plan, profile after profile.
        self._last_wanted = (plan, asked, wanted)
        # Everything but the draw between atoms of equal priority is a function of this key:
        # decide once per key, and per profile only draw between tied atoms (the draw never
        # changes whether a channel has an atom for a slot, so channel states are shared).
        conditional = self._conditional_atoms(plan, chain)
        holds = (
            tuple([atom.when.fn(attributes, segments) for atom in conditional if atom.when])
            if conditional
            else ()
        )
        key = (plan.name, plan.day, wanted, segments, tuple(arms.items()), chain, holds)
        cached = self._selections.get(key)
        if cached is None:
            if len(self._selections) >= DECISION_MEMO_SIZE:
                self._selections.clear()
                self._shared.clear()
            cached = self._memoised(plan, profile, segments, arms, chain, wanted)
            self._selections[tuple(self._share(part) for part in key)] = cached
        content_plans = cached.content_plans
        whole = cached.decisions
        if whole is not None:
            # No tie anywhere: the decisions are the key's, shared (never mutated).
            decisions = dict(whole) if pinned is not None else whole
        else:
            decisions = {}
            for slot in plan.slots:
                slot_decided = cached.decided[slot.name]
                decision = slot_decided.decision
                if decision is None:
                    ranked = rank_groups(slot_decided.groups, profile_id, plan.name, slot.name)
                    decision = _by_channel(slot, slot_decided.locale, ranked, wanted)
                decisions[slot.name] = decision
        if pinned is not None:
            kept = self._pin(plan, decisions, pinned.decisions, wanted)
            sticky = sticky and kept
            content_plans = {channel: _content_plan(plan, channel, decisions) for channel in wanted}
            channel_plans = (
                content_plans
                if plan.config.transactional
                else _consented(content_plans, attributes.get("consent"))
            )
        elif plan.config.transactional:
            channel_plans = content_plans
        else:
            consent = attributes.get("consent")
            given = (
                tuple([consent.get(channel) is True for channel in content_plans])
                if type(consent) is dict
                else None
            )
            found = cached.consented.get(given) if given is not None else None
            if found is None:
                found = _consented(content_plans, consent)
                if given is not None:
                    cached.consented[given] = found
            channel_plans = found
        return Selection(
            profile=profile,
            campaign=plan,
            at=at,
            segments=cached.segments,
            experiments=arms,
            slots=decisions,
            channels=channel_plans,
            sticky=sticky,
            shared=whole is not None and pinned is None,
        )

    def _pin(
        self,
        plan: CampaignPlan,
        decisions: dict[str, SlotDecision],
        stored: Mapping[str, str | None],
        wanted: tuple[Channel, ...],
    ) -> bool:
        """Put each slot's stored atom first in ``decisions`` (in place); the channel rules
        still apply (a channel it does not serve takes the next candidate that does).

        :returns: whether every stored atom still exists.
        """
        kept = True
        for slot in plan.slots:
            atom_id = stored.get(slot.name)
            if atom_id is None:
                continue  # nothing filled the slot then, or a slot added since: decide now
            atom = self.project.atoms.get(atom_id)
            if atom is None:
                kept = False
                continue
            fresh = decisions[slot.name]
            chosen = fresh.chosen
            if chosen is not None and chosen.id == atom.id:
                continue
            ranked = (atom, *(other for other in fresh.ranked if other.id != atom.id))
            locale = fresh.locale if fresh.locale is not None else atom.locale
            decisions[slot.name] = _by_channel(slot, locale, ranked, wanted)
        return kept

    def _conditional_atoms(self, plan: CampaignPlan, chain: tuple[str, ...]) -> tuple[Atom, ...]:
        """The plan's atoms in ``chain``'s locales with a ``when`` condition, once each."""
        where = (plan.name, plan.day, chain)
        found = self._conditional.get(where)
        if found is None:
            seen: dict[str, Atom] = {}
            for slot in plan.slots:
                for locale in chain:
                    for atom in slot.by_locale.get(locale, ()):
                        if atom.when is not None:
                            seen.setdefault(atom.id, atom)
            found = self._conditional[where] = tuple(seen.values())
        return found

    def _memoised(
        self,
        plan: CampaignPlan,
        profile: Profile,
        segments: frozenset[str],
        arms: Mapping[str, str],
        chain: Sequence[str],
        wanted: tuple[Channel, ...],
    ) -> _Memo:
        decided, content_plans = self._select_anew(plan, profile, segments, arms, chain, wanted)
        whole: dict[str, SlotDecision] | None = {}
        for name, slot_decided in decided.items():
            if slot_decided.decision is None or whole is None:
                whole = None
            else:
                whole[name] = slot_decided.decision
        slots = tuple(id(slot_decided) for slot_decided in decided.values())
        decided = self._share(decided, ("decided-by-slot", slots))
        if whole is not None:
            whole = self._share(whole, ("whole", slots))
        ordered = self._share(tuple(sorted(segments)))
        return _Memo(decided, content_plans, whole, ordered, {})

    def _select_anew(
        self,
        plan: CampaignPlan,
        profile: Profile,
        segments: frozenset[str],
        arms: Mapping[str, str],
        chain: Sequence[str],
        wanted: tuple[Channel, ...],
    ) -> tuple[dict[str, _Decided], dict[Channel, ChannelPlan]]:
        decided: dict[str, _Decided] = {}
        decisions: dict[str, SlotDecision] = {}
        for slot in plan.slots:
            arm = arms.get(slot.experiment.name) if slot.experiment else None
            slot_decided = self._decide_anew(slot, profile, segments, arm, chain, wanted)
            groups = tuple(tuple(id(atom) for atom in group) for group in slot_decided.groups)
            slot_decided = self._share(
                slot_decided, ("decided", slot.name, slot_decided.locale, groups, wanted)
            )
            decided[slot.name] = slot_decided
            decision = slot_decided.decision
            if decision is None:
                ranked = rank_groups(slot_decided.groups, profile.id, plan.name, slot.name)
                decision = _by_channel(slot, slot_decided.locale, ranked, wanted)
            decisions[slot.name] = decision
        content_plans = {channel: _content_plan(plan, channel, decisions) for channel in wanted}
        content_plans = self._share(content_plans, ("plans", *content_plans.items()))
        return decided, content_plans

    def _share(self, value: _T, key: Hashable | None = None) -> _T:
        """The copy of ``value`` already held under ``key`` (``value`` itself by default),
        else ``value``, kept from now on."""
        shared: _T = self._shared.setdefault(("part", value) if key is None else key, value)
        return shared

    def _decide_anew(
        self,
        slot: SlotPlan,
        profile: Profile,
        segments: frozenset[str],
        arm: str | None,
        chain: Sequence[str],
        channels: Sequence[Channel],
    ) -> _Decided:
        locale: str | None = None
        eligible: list[Atom] = []
        for candidate_locale in chain:
            eligible = [
                atom
                for atom in slot.by_locale.get(candidate_locale, ())
                if self.eligible(atom, profile, segments, arm)
            ]
            if eligible:
                locale = candidate_locale
                break
        groups = priority_groups(eligible)
        if any(len(group) > 1 for group in groups):
            return _Decided(locale, groups, None)
        ranked = tuple(group[0] for group in groups)
        return _Decided(locale, groups, _by_channel(slot, locale, ranked, channels))


def _pinned_arms(
    plan: CampaignPlan, arms: Mapping[str, str], stored: Mapping[str, str]
) -> tuple[dict[str, str], bool]:
    """The stored arm of each experiment that still has it; an experiment added since is
    assigned now. :returns: the arms, and whether every stored arm was kept."""
    kept = True
    result = dict(arms)
    for experiment in plan.experiments:
        arm = stored.get(experiment.name)
        if arm is None:
            continue
        if arm in dict(experiment.arms) or (arm == HOLDOUT and experiment.holdout > 0):
            result[experiment.name] = arm
        else:
            kept = False
    return result, kept


def _content_plan(
    plan: CampaignPlan, channel: Channel, decisions: Mapping[str, SlotDecision]
) -> ChannelPlan:
    """Whether the content allows ``channel`` (consent aside): every required slot needs an
    atom for it. Which of tied atoms was drawn never changes this."""
    for slot in plan.slots:
        if slot.config.required and decisions[slot.name].by_channel.get(channel) is None:
            return ChannelPlan(
                channel, "skipped", f"no eligible atom for required slot '{slot.name}'"
            )
    return ChannelPlan(channel, "ready")


def _consented(
    content_plans: Mapping[Channel, ChannelPlan], consent: Any
) -> dict[Channel, ChannelPlan]:
    """The channel plans once consent is applied: a channel needs ``consent.<channel>``."""
    given = consent if isinstance(consent, Mapping) else {}
    return {
        channel: ready if given.get(channel) is True else _no_consent(channel)
        for channel, ready in content_plans.items()
    }


@functools.cache
def _no_consent(channel: Channel) -> ChannelPlan:
    return ChannelPlan(channel, "skipped", f"no consent: consent.{channel} is not true")


@dataclass(frozen=True, slots=True)
class _Decided:
    """A slot's decision up to the tie-break: the whole decision when there is no tie."""

    locale: str | None
    groups: tuple[tuple[Atom, ...], ...]
    decision: SlotDecision | None


@dataclass(frozen=True, slots=True)
class _Memo:
    """What a selection key decides: the slots up to the tie-break, the channel plans before
    consent, and, when no slot has a tie, the whole decisions (shared by the key's profiles).

    :param consented: the channel plans after consent, by the consent flags of the channels.
    """

    decided: dict[str, _Decided]
    content_plans: dict[Channel, ChannelPlan]
    decisions: dict[str, SlotDecision] | None
    segments: tuple[str, ...]
    consented: dict[tuple[bool, ...], dict[Channel, ChannelPlan]]


def _by_channel(
    slot: SlotPlan, locale: str | None, ranked: tuple[Atom, ...], channels: Sequence[Channel]
) -> SlotDecision:
    by_channel: dict[Channel, Atom | None] = {}
    fallback_used: set[Channel] = set()
    for channel in channels:
        atom = next((a for a in ranked if channel in a.channels), None)
        fallback = slot.fallback
        if atom is None and slot.config.required and fallback and channel in fallback.channels:
            atom = fallback
            fallback_used.add(channel)
        by_channel[channel] = atom
    return SlotDecision(slot.name, locale, ranked, by_channel, frozenset(fallback_used))
