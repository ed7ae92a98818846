"""``atomcast coverage`` (SPEC section 7): where content is thin, over a population.

Every member is decided and rendered with the real :class:`~atomcast.render.Renderer`, so
the counts are exactly what a campaign job would produce for the same profiles.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from atomcast.channels.registry import CHANNEL_ORDER
from atomcast.errors import ProfileError
from atomcast.project import Atom, Project
from atomcast.render import Renderer
from atomcast.review.population import Population
from atomcast.schema import Profile, validate_profile
from atomcast.selection import Selection, Selector, slot_tags

MIXED_LOCALE_EXAMPLES = 5
WHY_NOT_ELIGIBLE = "no profile is eligible"
WHY_OUTRANKED = "outranked"
WHY_UNREACHED = "no population profile reaches it"


@dataclass(slots=True)
class SlotCoverage:
    atoms: Counter[str] = field(default_factory=Counter)
    fallback: int = 0
    empty: int = 0
    by_locale: dict[str, Counter[str]] = field(default_factory=dict)
    by_segment: dict[str, Counter[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "atoms": _ordered(self.atoms),
            "fallback": self.fallback,
            "empty": self.empty,
            "by_locale": {k: _ordered(v) for k, v in sorted(self.by_locale.items())},
            "by_segment": {k: _ordered(v) for k, v in sorted(self.by_segment.items())},
        }


@dataclass(frozen=True, slots=True)
class NeverSelected:
    atom: str
    path: str
    line: int
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"atom": self.atom, "path": self.path, "line": self.line, "why": self.why}


@dataclass(frozen=True, slots=True)
class MixedLocale:
    profile_id: str
    locales: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"profile_id": self.profile_id, "locales": dict(self.locales)}


@dataclass(slots=True)
class ChannelCoverage:
    rendered: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    error: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "rendered": self.rendered,
            "skipped": _ordered(self.skipped),
            "error": _ordered(self.error),
        }


@dataclass(slots=True)
class CoverageReport:
    """SPEC section 7, plus ``rejected``: members that do not fit the profile schema."""

    campaign: str
    at: dt.datetime
    profiles: int = 0
    rejected: int = 0
    slots: dict[str, SlotCoverage] = field(default_factory=dict)
    never_selected: list[NeverSelected] = field(default_factory=list)
    mixed_locale: int = 0
    mixed_examples: list[MixedLocale] = field(default_factory=list)
    channels: dict[str, ChannelCoverage] = field(default_factory=dict)
    attributes: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "at": instant_text(self.at),
            "profiles": self.profiles,
            "rejected": self.rejected,
            "slots": {name: slot.to_json() for name, slot in self.slots.items()},
            "never_selected": [item.to_json() for item in self.never_selected],
            "mixed_locale": {
                "profiles": self.mixed_locale,
                "examples": [item.to_json() for item in self.mixed_examples],
            },
            "channels": {name: ch.to_json() for name, ch in self.channels.items()},
            "attributes": {name: {"missing": n} for name, n in self.attributes.items()},
        }


def instant_text(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ordered(counts: Mapping[str, int]) -> dict[str, int]:
    """Largest first, then by name: stable output for tools and diffs of reports."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def campaign_atoms(project: Project, campaign: str) -> list[Atom]:
    """Atoms meant for the campaign: of a kind some slot takes, passing that slot's tags."""
    config = project.config.campaigns[campaign]
    found: list[Atom] = []
    for atom in sorted(project.atoms.values(), key=lambda a: a.id):
        for slot_name, slot in config.slots.items():
            tags = slot_tags(config, slot_name)
            if atom.kind in slot.kinds and (tags is None or not tags.isdisjoint(atom.tags)):
                found.append(atom)
                break
    return found


class Outcome(Protocol):
    """One channel's result for one profile: a :class:`~atomcast.channels.base.ChannelOutput`
    or a preview cell."""

    @property
    def status(self) -> str: ...

    @property
    def reason(self) -> str | None: ...


class CoverageCounter:
    """Counts decided and rendered profiles into a :class:`CoverageReport`.

    ``atomcast coverage`` feeds it a population; the preview feeds it the rows it already
    decided and rendered, so both show the same numbers for the same profiles.

    :raises UnknownCampaignError: for a campaign the project does not declare.
    """

    def __init__(
        self, project: Project, campaign: str, at: dt.datetime, selector: Selector | None = None
    ) -> None:
        self.project = project
        self.campaign = campaign
        self.at = at
        self.selector = selector if selector is not None else Selector(project)
        self.selector.plan(campaign, at)  # an unknown campaign fails here, before any counting
        config = project.config.campaigns[campaign]
        self._report = CoverageReport(campaign, at)
        self._report.slots = {name: SlotCoverage() for name in config.slots}
        self._report.channels = {
            ch: ChannelCoverage() for ch in CHANNEL_ORDER if ch in config.channels
        }
        self._report.attributes = dict.fromkeys(project.schema.attributes, 0)
        self._default_locale = project.config.locales.default
        self._used: set[str] = set()
        self._decided: list[Selection] = []

    def reject(self) -> None:
        """Count a member that does not fit the profile schema."""
        self._report.rejected += 1

    def add(self, profile: Profile, selection: Selection, channels: Mapping[str, Outcome]) -> None:
        """Count one profile: its selection and each channel's outcome (a channel of the
        campaign missing from ``channels`` is not counted)."""
        report = self._report
        report.profiles += 1
        for name in report.attributes:
            if profile.attributes.get(name) is None:
                report.attributes[name] += 1
        self._decided.append(selection)
        locale = str(profile.attributes.get("locale") or self._default_locale)
        _count_slots(report, selection, locale, self._used)
        for channel, coverage in report.channels.items():
            output = channels.get(channel)
            if output is None:
                continue
            reason = output.reason or "no reason given"
            if output.status == "rendered":
                coverage.rendered += 1
            elif output.status == "skipped":
                coverage.skipped[reason] += 1
            else:
                coverage.error[reason] += 1

    def report(self) -> CoverageReport:
        """The report of everything counted so far (never-selected atoms included)."""
        self._report.never_selected = _never_selected(
            self.project, self.selector, self.campaign, self.at, self._decided, self._used
        )
        return self._report


def compute_coverage(
    project: Project, campaign: str, population: Population, at: dt.datetime
) -> CoverageReport:
    """Decide and render every member of ``population`` for ``campaign`` at ``at``.

    :raises UnknownCampaignError: for a campaign the project does not declare.
    """
    renderer = Renderer(project).campaign(campaign, at=at)
    counter = CoverageCounter(project, campaign, at, renderer.renderer.selector)
    for member in population.members:
        try:
            profile = validate_profile(project.schema, member.raw)
        except ProfileError:
            counter.reject()
            continue
        selection, result = renderer.render_with_selection(profile)
        counter.add(profile, selection, result.channels)
    return counter.report()


def _count_slots(report: CoverageReport, selection: Selection, locale: str, used: set[str]) -> None:
    locales: dict[str, str] = {}
    for name, decision in selection.slots.items():
        slot = report.slots[name]
        chosen = decision.chosen
        used.update(atom.id for atom in decision.by_channel.values() if atom is not None)
        if decision.fallback_used:
            slot.fallback += 1
        if chosen is None:
            slot.empty += 1
            continue
        used.add(chosen.id)
        locales[name] = chosen.locale
        slot.atoms[chosen.id] += 1
        slot.by_locale.setdefault(locale, Counter())[chosen.id] += 1
        for segment in selection.segments:
            slot.by_segment.setdefault(segment, Counter())[chosen.id] += 1
    if len(set(locales.values())) > 1:
        report.mixed_locale += 1
        if len(report.mixed_examples) < MIXED_LOCALE_EXAMPLES:
            report.mixed_examples.append(MixedLocale(selection.profile.id, locales))


def _never_selected(
    project: Project,
    selector: Selector,
    campaign: str,
    at: dt.datetime,
    decided: list[Selection],
    used: set[str],
) -> list[NeverSelected]:
    """Atoms meant for the campaign that no member got, and why."""
    plan = selector.plan(campaign, at)
    planned: dict[str, tuple[Atom, str | None]] = {}
    for slot in plan.slots:
        experiment = slot.experiment.name if slot.experiment else None
        for atoms in slot.by_locale.values():
            for atom in atoms:
                planned.setdefault(atom.id, (atom, experiment))
    found: list[NeverSelected] = []
    for atom in campaign_atoms(project, campaign):
        if atom.id in used:
            continue
        why = WHY_NOT_ELIGIBLE
        if atom.id in planned:
            _, experiment = planned[atom.id]
            reached = any(
                _reaches(project, selector, atom, selection, experiment) for selection in decided
            )
            why = WHY_OUTRANKED if reached else WHY_UNREACHED
        found.append(NeverSelected(atom.id, atom.path, atom.line, why))
    return found


def _reaches(
    project: Project, selector: Selector, atom: Atom, selection: Selection, experiment: str | None
) -> bool:
    """Whether ``atom`` is eligible for the selection's profile in a locale of its chain."""
    profile: Profile = selection.profile
    if atom.locale not in project.locale_chain(profile.attributes.get("locale")):
        return False
    arm = selection.experiments.get(experiment) if experiment else None
    return selector.eligible(atom, profile, frozenset(selection.segments), arm)
