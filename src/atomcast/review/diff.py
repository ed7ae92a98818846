"""``atomcast diff`` (SPEC section 6): what an edit does to every profile, per campaign.

Decisions first, then only what can have changed is rendered:

1. Each member of the population is decided at base and at head. When nothing selection
   reads changed between the sides (atoms' selection fields, segments, locales, the
   campaign, the schema), the head's decisions *are* the base's and are not recomputed.
2. A channel's output is a function of its render environment (brand, campaign, channel
   config, layout file), of the atoms it uses (their files) and of the profile attributes
   their templates read. A channel whose environment, atoms and attributes are the same on
   both sides cannot have changed and is never rendered.
3. The rest is grouped by what the output depends on: the channel's state and atoms at
   each side and the values of every attribute either side's templates read (the keys of
   the renderer's own memo). One member per group is rendered at both sides and the
   verdict holds for the group. Where dependencies cannot be known statically (a template
   that reads ``profile`` whole, or the profile id), every member is its own group.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from atomcast.channels.base import atom_dependencies, dependency_key
from atomcast.channels.registry import CHANNEL_ORDER
from atomcast.check import check_project
from atomcast.errors import Problem, ProfileError
from atomcast.models import Channel
from atomcast.project import Atom, Project, collect_problems
from atomcast.render import CampaignRenderer, Renderer, RenderResult
from atomcast.review.coverage import campaign_atoms, instant_text
from atomcast.review.population import Member, Population
from atomcast.schema import Profile, validate_profile
from atomcast.selection import ExperimentPlan, Selection

CampaignStatus = Literal["changed", "unchanged", "added", "removed"]
#: The channel state a render reports when a profile does not fit one side's schema.
REJECTED = "error"


# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transition:
    slot: str
    before: str | None
    after: str | None
    profiles: int
    example: Member

    def to_json(self) -> dict[str, Any]:
        return {"from": self.before, "to": self.after, "profiles": self.profiles}


@dataclass(frozen=True, slots=True)
class SlotChange:
    changed: int
    transitions: tuple[Transition, ...]

    def to_json(self) -> dict[str, Any]:
        return {"changed": self.changed, "transitions": [t.to_json() for t in self.transitions]}


@dataclass(frozen=True, slots=True)
class ChannelChange:
    output_changed: int
    status_changed: int

    def to_json(self) -> dict[str, int]:
        return {"output_changed": self.output_changed, "status_changed": self.status_changed}


@dataclass(frozen=True, slots=True)
class MemberChange:
    """A member whose decisions or output changed: ``slots`` maps slot -> (before, after)."""

    member: Member
    slots: Mapping[str, tuple[str | None, str | None]]
    channels: tuple[Channel, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "profile_id": self.member.profile_id,
            "persona": self.member.persona,
            "slots": {slot: list(pair) for slot, pair in self.slots.items()},
            "channels": list(self.channels),
        }


@dataclass(frozen=True, slots=True)
class AtomChanges:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    edited: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[str]]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "edited": list(self.edited),
        }


@dataclass(frozen=True, slots=True)
class RenderCounts:
    """How much work the diff did: members decided and rendered at each side."""

    decided_base: int = 0
    decided_head: int = 0
    rendered_base: int = 0
    rendered_head: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "decided_base": self.decided_base,
            "decided_head": self.decided_head,
            "rendered_base": self.rendered_base,
            "rendered_head": self.rendered_head,
        }


@dataclass(frozen=True, slots=True)
class CampaignDiff:
    name: str
    status: CampaignStatus
    profiles: int
    decisions_changed: int = 0
    slots: Mapping[str, SlotChange] = field(default_factory=dict)
    channels: Mapping[str, ChannelChange] = field(default_factory=dict)
    atoms: AtomChanges = AtomChanges()
    personas: tuple[MemberChange, ...] = ()
    #: Up to a few non-persona members that changed, for examples in reports.
    others: tuple[MemberChange, ...] = ()
    work: RenderCounts = RenderCounts()

    @property
    def output_changed(self) -> bool:
        return any(ch.output_changed for ch in self.channels.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "profiles": self.profiles,
            "decisions_changed": self.decisions_changed,
            "slots": {name: slot.to_json() for name, slot in self.slots.items()},
            "channels": {name: ch.to_json() for name, ch in self.channels.items()},
            "atoms": self.atoms.to_json(),
            "personas": [p.to_json() for p in self.personas],
            "work": self.work.to_json(),
        }


@dataclass(frozen=True, slots=True)
class DiffReport:
    base: str
    head: str
    at: dt.datetime
    problems_added: tuple[Problem, ...]
    problems_removed: tuple[Problem, ...]
    campaigns: Mapping[str, CampaignDiff]

    @property
    def errors_added(self) -> bool:
        return any(p.is_error for p in self.problems_added)

    @property
    def output_changed(self) -> bool:
        return any(
            c.output_changed or c.status in ("added", "removed") for c in self.campaigns.values()
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "at": instant_text(self.at),
            "problems": {
                "added": [problem_json(p) for p in self.problems_added],
                "removed": [problem_json(p) for p in self.problems_removed],
            },
            "campaigns": {name: c.to_json() for name, c in self.campaigns.items()},
        }


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path,
        "line": problem.line,
        "severity": problem.severity,
        "message": problem.message,
    }


# -- loading the sides -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Side:
    """One side of the diff: its label, its project (``None`` when the config does not
    load) and every ``check`` problem."""

    label: str
    project: Project | None
    problems: tuple[Problem, ...]
    #: Where image renditions go (default: the project's own ``assets.dir``).
    assets_dir: Path | None = None


def load_side(root: Path, label: str, assets_dir: Path | None = None) -> Side:
    """Load leniently: a broken file leaves its atom or layout out and is a problem.

    :param assets_dir: renditions are named by content, so a revision read into a
        temporary folder can share the working tree's and skip making them again.
    """
    project, _ = collect_problems(root)
    return Side(label, project, tuple(check_project(root)), assets_dir)


def problem_changes(
    base: Sequence[Problem], head: Sequence[Problem]
) -> tuple[tuple[Problem, ...], tuple[Problem, ...]]:
    """(added, removed); a problem that only moved to another line is neither."""

    def key(problem: Problem) -> tuple[str, str, str]:
        return (problem.path, problem.severity, problem.message)

    def minus(left: Sequence[Problem], right: Sequence[Problem]) -> tuple[Problem, ...]:
        remaining = Counter(key(p) for p in right)
        found: list[Problem] = []
        for problem in left:
            if remaining[key(problem)] > 0:
                remaining[key(problem)] -= 1
            else:
                found.append(problem)
        return tuple(found)

    return minus(head, base), minus(base, head)


# -- signatures: what selection and rendering read ------------------------------------------


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class _Files:
    """Image bytes hashed once per path (an image atom's output depends on its image)."""

    def __init__(self) -> None:
        self._digests: dict[Path, str] = {}

    def digest(self, path: Path | None) -> str:
        if path is None:
            return ""
        found = self._digests.get(path)
        if found is None:
            try:
                found = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                found = "unreadable"
            self._digests[path] = found
        return found


def atom_content(atom: Atom, files: _Files) -> tuple[str, str, str, str]:
    """What an atom contributes to output: its file, its locale and its image."""
    return (atom.path, atom.fingerprint, atom.locale, files.digest(atom.image_path))


def _selection_atom(atom: Atom) -> tuple[Any, ...]:
    when = atom.when.source if atom.when is not None else None
    return (
        atom.id,
        atom.kind,
        atom.locale,
        atom.priority,
        atom.weight,
        sorted(atom.segments) if atom.segments is not None else None,
        _dump(when),
        atom.valid_from,
        atom.valid_until,
        sorted(atom.channels),
        atom.experiment,
        atom.arm,
        atom.tags,
    )


def config_signature(project: Project, campaign: str) -> str:
    """What selection reads for ``campaign`` besides the atoms: schema, segments, locales
    and the campaign's slots, experiments, tags and channel names."""
    config = project.config
    campaign_config = config.campaigns[campaign].model_dump(exclude={"description"})
    for channel in campaign_config["channels"].values():
        channel.pop("layout", None)
    parts = [
        {k: v.model_dump() for k, v in config.profile.items()},
        config.segments,
        config.locales.model_dump(),
        campaign_config,
    ]
    return _dump(parts)


def selection_signature(project: Project, campaign: str) -> str:
    """Everything selection reads for ``campaign``: equal signatures, equal decisions."""
    atoms = sorted((_selection_atom(atom) for atom in project.atoms.values()), key=lambda a: a[0])
    return config_signature(project, campaign) + _dump(atoms)


# -- one side of one campaign ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A channel's state after selection: ``ready`` or ``skipped`` (with why), the atoms it
    uses in slot order, and whether those differ from the slot decisions (then the output
    names them)."""

    state: str
    reason: str | None
    atoms: tuple[str | None, ...]
    own_atoms: bool


@dataclass(frozen=True, slots=True)
class Decided:
    decisions: Mapping[str, str | None]
    channels: Mapping[Channel, ChannelState]


class _CampaignSide:
    """One project's renderer for one campaign, with per-combination dependency sets."""

    def __init__(
        self,
        project: Project,
        campaign: str,
        at: dt.datetime,
        files: _Files,
        assets_dir: Path | None = None,
    ) -> None:
        self.project = project
        self.base = Renderer(project, assets_dir=assets_dir)
        self.renderer: CampaignRenderer = self.base.campaign(campaign, at=at)
        config = self.renderer.config
        self.slots = tuple(config.slots)
        self.files = files
        project_config = project.config
        self.environment: dict[Channel, str] = {}
        for channel in CHANNEL_ORDER:
            channel_config = config.channels.get(channel)
            layout = self.renderer.layouts.get(channel)
            self.environment[channel] = _dump(
                [
                    project_config.brand.model_dump(),
                    project_config.assets.model_dump(),
                    project_config.locales.default,
                    config.description,
                    config.transactional,
                    channel_config.model_dump() if channel_config else None,
                    self.slots,
                    (layout.path, layout.fingerprint) if layout else None,
                ]
            )
        self._needs: dict[tuple[Channel, tuple[str | None, ...]], frozenset[str] | None] = {}
        self._single: dict[Channel, CampaignRenderer] = {}
        self.rendered = 0
        self._decided_memo: dict[tuple[int, ...], tuple[tuple[object, ...], Decided]] = {}
        self._contents: dict[str, tuple[str, str, str, str] | None] = {}
        self.decided = 0

    def profile(self, raw: Mapping[str, Any]) -> Profile | str:
        """The validated profile, or why it does not fit this side's schema."""
        try:
            return validate_profile(self.project.schema, raw)
        except ProfileError as exc:
            return f"profile does not fit the schema: {exc}"

    def decide(self, profile: Profile) -> Decided:
        """The profile's decisions and channel states.

        The selector shares its slot decisions and channel plans between profiles that
        decide alike (no tie to draw): those objects' identities key a memo, which keeps
        them alive, so an identity is never reused while its entry exists.
        """
        self.decided += 1
        selection = self.renderer.select(profile)
        parts = (*selection.slots.values(), *selection.channels.values())
        key = tuple(map(id, parts))
        hit = self._decided_memo.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], parts, strict=True)):
            return hit[1]
        made = self._decide(selection)
        if len(self._decided_memo) >= DECIDED_MEMO_SIZE:
            self._decided_memo.clear()
        self._decided_memo[key] = (parts, made)
        return made

    def _decide(self, selection: Selection) -> Decided:
        decisions = selection.decisions
        decided = tuple(decisions.values())
        channels: dict[Channel, ChannelState] = {}
        for channel in CHANNEL_ORDER:
            plan = selection.channels.get(channel)
            if plan is None:
                reason = f"{channel} is not in the campaign"
                channels[channel] = ChannelState("skipped", reason, (), False)
                continue
            if plan.state == "skipped":
                channels[channel] = ChannelState("skipped", plan.reason, (), False)
                continue
            ids = tuple(atom.id if atom else None for atom in selection.atoms_for(channel).values())
            channels[channel] = ChannelState("ready", None, ids, ids != decided)
        return Decided(decisions, channels)

    def needs(self, channel: Channel, ids: tuple[str | None, ...]) -> frozenset[str] | None:
        """Attributes the channel's output reads for these atoms; ``None``: unknowable."""
        key = (channel, ids)
        if key in self._needs:
            return self._needs[key]
        found = self.renderer.layout_dependencies.get(channel)
        needed: set[str] | None = set(found) | {"locale"} if found is not None else None
        for atom_id in ids:
            if needed is None or atom_id is None:
                continue
            atom = self.project.atoms.get(atom_id)
            dependencies = atom_dependencies(atom) if atom is not None else None
            needed = needed | dependencies if dependencies is not None else None
        result = frozenset(needed) if needed is not None and "id" not in needed else None
        self._needs[key] = result
        return result

    def content(self, atom_id: str) -> tuple[str, str, str, str] | None:
        if atom_id not in self._contents:
            atom = self.project.atoms.get(atom_id)
            self._contents[atom_id] = atom_content(atom, self.files) if atom else None
        return self._contents[atom_id]

    def same_atoms(self, other: _CampaignSide, ids: Iterable[str | None]) -> bool:
        for atom_id in ids:
            if atom_id is None:
                continue
            mine = self.content(atom_id)
            if mine is None or mine != other.content(atom_id):
                return False
        return True

    def output(self, profile: Profile | str, decided: Decided | None, channel: Channel) -> Any:
        """One channel's output JSON, exactly as a render of every channel would give it.

        Only the channel asked for is rendered. A channel names its atoms when they differ
        from the slot decisions, and a slot filled by a fallback is decided from the
        channels rendered; where rendering one channel would decide such a slot otherwise,
        the profile is rendered whole instead.
        """
        if isinstance(profile, str) or decided is None:
            return {"status": REJECTED, "reason": str(profile), "warnings": []}
        self.rendered += 1
        one = self._single.get(channel)
        if one is None:
            one = self._single[channel] = self.base.campaign(
                self.renderer.name, at=self.renderer.at, channels=(channel,)
            )
        result: RenderResult = one.render(profile)
        state = decided.channels[channel]
        if state.state == "ready" and (tuple(result.decisions.values()) != state.atoms) != (
            state.own_atoms
        ):
            result = self.renderer.render(profile)
        return result.channels[channel].to_json()


# -- the comparison --------------------------------------------------------------------------

MAX_OTHER_EXAMPLES = 5
#: Distinct (decisions, channel states) remembered per side: a campaign has few.
DECIDED_MEMO_SIZE = 20_000


def diff_campaign(
    name: str,
    base: Project | None,
    head: Project | None,
    population: Population,
    at: dt.datetime,
    assets: tuple[Path | None, Path | None] = (None, None),
) -> CampaignDiff:
    """Compare one campaign over ``population`` at ``at``.

    :param assets: the renditions folders of base and head (default: each project's own).
    """
    files = _Files()
    in_base = base is not None and name in base.config.campaigns
    in_head = head is not None and name in head.config.campaigns
    atoms = _atom_changes(name, base if in_base else None, head if in_head else None, files)
    if not (in_base and in_head):
        status: CampaignStatus = "added" if in_head else "removed"
        return CampaignDiff(name, status, len(population), atoms=atoms)
    assert base is not None
    assert head is not None
    left = _CampaignSide(base, name, at, files, assets[0])
    right = _CampaignSide(head, name, at, files, assets[1])
    same_schema = base.config.profile == head.config.profile
    same_selection = selection_signature(base, name) == selection_signature(head, name)
    slot_names = list(dict.fromkeys([*left.slots, *right.slots]))
    transitions: Counter[tuple[str, str | None, str | None]] = Counter()
    examples: dict[tuple[str, str | None, str | None], Member] = {}
    changed_slots: dict[int, dict[str, tuple[str | None, str | None]]] = {}
    decisions_changed = 0
    # (channel, group key) -> members; the verdict of the group's first member holds.
    groups: dict[tuple[Any, ...], _Group] = {}
    empty: Mapping[str, str | None] = {}
    pending = _Pending(left, right)
    prefilter = _Prefilter.build(name, left, right) if same_schema else None
    for index, member in enumerate(population.members):
        before_profile = left.profile(member.raw)
        if same_schema:
            if isinstance(before_profile, str):
                continue  # the same schema rejects it at both sides, for the same reason
            if prefilter is not None and not prefilter.reaches(before_profile):
                continue
        after_profile = before_profile if same_schema else right.profile(member.raw)
        before = left.decide(before_profile) if isinstance(before_profile, Profile) else None
        if same_selection and after_profile is before_profile:
            after = before
        else:
            after = right.decide(after_profile) if isinstance(after_profile, Profile) else None
        decided_before = before.decisions if before else empty
        decided_after = after.decisions if after else empty
        if before is not after:
            slots_changed: dict[str, tuple[str | None, str | None]] = {}
            for slot in slot_names:
                pair = (decided_before.get(slot), decided_after.get(slot))
                if pair[0] != pair[1]:
                    slots_changed[slot] = pair
                    transitions[(slot, *pair)] += 1
                    current = examples.get((slot, *pair))
                    if current is None or (current.persona is None and member.persona):
                        examples[(slot, *pair)] = member
            if slots_changed:
                decisions_changed += 1
                changed_slots[index] = slots_changed
        if before is None or after is None:
            for channel in CHANNEL_ORDER:
                groups[(channel, "member", index)] = _Group(
                    channel, (before_profile, after_profile), (before, after), [index]
                )
            continue
        assert isinstance(before_profile, Profile)
        assert isinstance(after_profile, Profile)
        same_attributes = after_profile is before_profile or (
            before_profile.attributes == after_profile.attributes
        )
        for channel in pending.channels(before, after, same_attributes):
            key = _group_key(channel, left, right, before, after, before_profile, after_profile)
            if key is None:
                key = (channel, "member", index)
            group = groups.get(key)
            if group is None:
                sides = (before_profile, after_profile)
                group = groups[key] = _Group(channel, sides, (before, after), [])
            group.members.append(index)
    output_changed: Counter[Channel] = Counter()
    status_changed: Counter[Channel] = Counter()
    changed_channels: dict[int, list[Channel]] = {}
    for group in groups.values():
        grouped = group.channel
        members = group.members
        old = left.output(group.profiles[0], group.decided[0], grouped)
        new = right.output(group.profiles[1], group.decided[1], grouped)
        if old == new:
            continue
        output_changed[grouped] += len(members)
        if old.get("status") != new.get("status"):
            status_changed[grouped] += len(members)
        for index in members:
            changed_channels.setdefault(index, []).append(grouped)
    campaign_channels = [
        ch
        for ch in CHANNEL_ORDER
        if ch in base.config.campaigns[name].channels or ch in head.config.campaigns[name].channels
    ]
    personas: list[MemberChange] = []
    others: list[MemberChange] = []
    for index in sorted(set(changed_slots) | set(changed_channels)):
        member = population.members[index]
        channels = tuple(ch for ch in CHANNEL_ORDER if ch in changed_channels.get(index, ()))
        change = MemberChange(member, changed_slots.get(index, {}), channels)
        if member.persona is not None:
            personas.append(change)
        elif len(others) < MAX_OTHER_EXAMPLES:
            others.append(change)
    slots: dict[str, SlotChange] = {}
    for slot in slot_names:
        found = [
            Transition(slot, before_id, after_id, count, examples[(slot, before_id, after_id)])
            for (slot_name, before_id, after_id), count in transitions.items()
            if slot_name == slot
        ]
        if found:
            found.sort(key=lambda t: (-t.profiles, str(t.before), str(t.after)))
            slots[slot] = SlotChange(sum(t.profiles for t in found), tuple(found))
    changed = decisions_changed > 0 or sum(output_changed.values()) > 0
    return CampaignDiff(
        name,
        "changed" if changed else "unchanged",
        len(population),
        decisions_changed,
        slots,
        {ch: ChannelChange(output_changed[ch], status_changed[ch]) for ch in campaign_channels},
        atoms,
        tuple(personas),
        tuple(others),
        RenderCounts(left.decided, right.decided, left.rendered, right.rendered),
    )


@dataclass(slots=True)
class _Group:
    """Members whose channel output changes alike; the first one's profiles and decisions
    at both sides are what is rendered."""

    channel: Channel
    profiles: tuple[Profile | str, Profile | str]
    decided: tuple[Decided | None, Decided | None]
    members: list[int]


class _Prefilter:
    """Which members an edit of atoms alone can reach, without deciding them.

    When the two sides differ only in some atoms (same config, schema, layouts, brand),
    a member's decisions and output can only change if one of those atoms is eligible for
    it at one side: an atom eligible at neither side is in no ranking at either side, and
    every other atom is the same. A changed atom that is a slot's fallback (used whatever
    eligibility says) turns the prefilter off.
    """

    def __init__(self, left: _CampaignSide, right: _CampaignSide, changed: frozenset[str]):
        self.selector = left.base.selector
        self.project = left.project
        self.entries: list[tuple[_CampaignSide, Atom, ExperimentPlan | None]] = []
        seen: set[str] = set()
        for side in (left, right):
            for slot in side.renderer.plan.slots:
                for atoms in slot.by_locale.values():
                    for atom in atoms:
                        if atom.id not in changed:
                            continue
                        # An atom whose eligibility is the same at both sides is tried once.
                        rule = _dump([slot.name, _selection_atom(atom)])
                        if rule not in seen:
                            seen.add(rule)
                            self.entries.append((side, atom, slot.experiment))
        self._chains: dict[Any, tuple[str, ...]] = {}

    @classmethod
    def build(cls, name: str, left: _CampaignSide, right: _CampaignSide) -> _Prefilter | None:
        if config_signature(left.project, name) != config_signature(right.project, name):
            return None
        if left.environment != right.environment:
            return None
        before = left.project.atoms
        after = right.project.atoms
        changed = frozenset(
            atom_id
            for atom_id in set(before) | set(after)
            if atom_id not in before
            or atom_id not in after
            or _selection_atom(before[atom_id]) != _selection_atom(after[atom_id])
            or left.content(atom_id) != right.content(atom_id)
        )
        for side in (left, right):
            for slot in side.renderer.plan.slots:
                if slot.fallback is not None and slot.fallback.id in changed:
                    return None
        return cls(left, right, changed)

    def reaches(self, profile: Profile) -> bool:
        if not self.entries:
            return False
        segments = self.selector.segments_of(profile)
        locale = profile.attributes.get("locale")
        chain = self._chains.get(locale)
        if chain is None:
            chain = self._chains[locale] = self.project.locale_chain(locale)
        for side, atom, experiment in self.entries:
            if atom.locale not in chain:
                continue
            # The arm is a hash draw: only atoms that are an experiment's variant need it.
            arm = (
                experiment.assign(profile.id, side.renderer.name)
                if experiment is not None and atom.arm is not None
                else None
            )
            if side.base.selector.eligible(atom, profile, segments, arm):
                return True
        return False


class _Pending:
    """Which channels of a profile may have changed, from its decisions at both sides.

    A channel whose state, atoms, atom files and render environment are the same at both
    sides, for a profile whose attributes are the same, renders the same: it is not
    pending. The verdict depends only on the pair of decisions, which the sides share
    between profiles, so it is remembered per pair (the memo keeps both alive).
    """

    def __init__(self, left: _CampaignSide, right: _CampaignSide) -> None:
        self.left = left
        self.right = right
        self._memo: dict[tuple[int, int], tuple[Decided, Decided, tuple[Channel, ...]]] = {}

    def channels(
        self, before: Decided, after: Decided, same_attributes: bool
    ) -> tuple[Channel, ...]:
        if not same_attributes:
            return self._compute(before, after, same_attributes=False)
        key = (id(before), id(after))
        hit = self._memo.get(key)
        if hit is not None and hit[0] is before and hit[1] is after:
            return hit[2]
        found = self._compute(before, after, same_attributes=True)
        if len(self._memo) >= DECIDED_MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = (before, after, found)
        return found

    def _compute(
        self, before: Decided, after: Decided, *, same_attributes: bool
    ) -> tuple[Channel, ...]:
        found: list[Channel] = []
        for channel in CHANNEL_ORDER:
            old = before.channels[channel]
            new = after.channels[channel]
            if old.state == "skipped" and new.state == "skipped":
                if old.reason != new.reason:
                    found.append(channel)
                continue
            if (
                old == new
                and same_attributes
                and self.left.environment[channel] == self.right.environment[channel]
                and self.left.same_atoms(self.right, old.atoms)
            ):
                continue
            found.append(channel)
        return tuple(found)


def _group_key(
    channel: Channel,
    left: _CampaignSide,
    right: _CampaignSide,
    before: Decided,
    after: Decided,
    before_profile: Profile,
    after_profile: Profile,
) -> tuple[Any, ...] | None:
    """The group of members sharing this member's verdict for a pending channel: the
    channel's state and atoms at both sides and the values of every attribute the outputs
    read. ``None`` when those attributes cannot be known (the member is its own group)."""
    old = before.channels[channel]
    new = after.channels[channel]
    old_needs = left.needs(channel, old.atoms) if old.state == "ready" else frozenset()
    new_needs = right.needs(channel, new.atoms) if new.state == "ready" else frozenset()
    if old_needs is None or new_needs is None:
        return None
    return (
        channel,
        old,
        new,
        dependency_key(before_profile.attributes, old_needs),
        dependency_key(after_profile.attributes, new_needs),
    )


def _atom_changes(
    campaign: str, base: Project | None, head: Project | None, files: _Files
) -> AtomChanges:
    before = {a.id: a for a in campaign_atoms(base, campaign)} if base else {}
    after = {a.id: a for a in campaign_atoms(head, campaign)} if head else {}
    base_all = base.atoms if base else {}
    head_all = head.atoms if head else {}
    added = sorted(set(after) - set(base_all))
    removed = sorted(set(before) - set(head_all))
    edited = sorted(
        atom_id
        for atom_id in set(before) | set(after)
        if atom_id in base_all
        and atom_id in head_all
        and atom_content(base_all[atom_id], files) != atom_content(head_all[atom_id], files)
    )
    return AtomChanges(tuple(added), tuple(removed), tuple(edited))


def diff_sides(
    base: Side,
    head: Side,
    populations: Mapping[str, Population],
    at: dt.datetime,
) -> DiffReport:
    """The whole report: problems, then every campaign of ``populations`` (in its order)."""
    added, removed = problem_changes(base.problems, head.problems)
    campaigns = {
        name: diff_campaign(
            name, base.project, head.project, population, at, (base.assets_dir, head.assets_dir)
        )
        for name, population in populations.items()
    }
    return DiffReport(base.label, head.label, at, added, removed, campaigns)


def campaign_names(base: Project | None, head: Project | None) -> list[str]:
    """Every campaign of either side: head's order, then base-only ones."""
    names: dict[str, None] = {}
    for project in (head, base):
        if project is not None:
            names.update(dict.fromkeys(project.config.campaigns))
    return list(names)
