"""``atomcast explain``: why each atom was chosen or not.

The decisions come from :class:`~atomcast.selection.Selector` itself, so explain can never
disagree with render; this module only re-walks every candidate with the slow, traced
condition evaluator to say which check passed or failed and with what profile value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from atomcast.conditions import ClauseTrace, explain_condition
from atomcast.models import Channel
from atomcast.project import Atom, Project
from atomcast.schema import Profile
from atomcast.selection import HOLDOUT, Selection, Selector, SlotPlan, slot_tags


@dataclass(frozen=True, slots=True)
class Check:
    """One eligibility test of a candidate: ``kind``, ``window``, ``segments``, ``when``..."""

    name: str
    passed: bool
    detail: str
    clauses: tuple[ClauseTrace, ...] = ()


@dataclass(frozen=True, slots=True)
class CandidateExplanation:
    atom: str
    path: str
    locale: str
    priority: int
    weight: float
    eligible: bool
    outcome: str
    checks: tuple[Check, ...]


@dataclass(frozen=True, slots=True)
class SlotExplanation:
    slot: str
    kinds: tuple[str, ...]
    required: bool
    locale_chain: tuple[str, ...]
    locale_used: str | None
    experiment: str | None
    arm: str | None
    chosen: str | None
    channels: Mapping[str, str | None]
    fallback: str | None
    candidates: tuple[CandidateExplanation, ...]


@dataclass(frozen=True, slots=True)
class SegmentExplanation:
    segment: str
    member: bool
    clauses: tuple[ClauseTrace, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    profile_id: str
    campaign: str
    at: str
    segments: tuple[SegmentExplanation, ...]
    experiments: Mapping[str, str]
    slots: tuple[SlotExplanation, ...]
    channels: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; clause traces keep their nesting."""
        result: dict[str, Any] = _jsonable(asdict(self))
        return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = [_jsonable(v) for v in value]
        return sorted(items) if isinstance(value, frozenset | set) else items
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def _window_check(atom: Atom, day: dt.date) -> Check:
    if atom.valid_from is None and atom.valid_until is None:
        return Check("window", True, "no date window")
    start = atom.valid_from.isoformat() if atom.valid_from else "always"
    end = atom.valid_until.isoformat() if atom.valid_until else "open-ended"
    inside = atom.in_window(day)
    return Check("window", inside, f"{start} .. {end} {'contains' if inside else 'excludes'} {day}")


def explain_atom(
    atom: Atom,
    slot: SlotPlan,
    tags: frozenset[str] | None,
    campaign_channels: Sequence[Channel],
    day: dt.date,
    profile: Profile,
    segments: frozenset[str],
    arm: str | None,
    chain: Sequence[str],
) -> list[Check]:
    """Every eligibility check of ``atom`` for this profile, in the order selection applies
    them; all are evaluated so the editor sees every reason at once."""
    checks = [
        Check(
            "kind",
            atom.kind in slot.config.kinds,
            f"{atom.kind}; slot takes {', '.join(slot.config.kinds)}",
        )
    ]
    if tags is not None:
        shared = sorted(tags.intersection(atom.tags))
        checks.append(
            Check(
                "tags",
                bool(shared),
                f"slot takes tags {', '.join(sorted(tags))}; atom has "
                f"{', '.join(atom.tags) or 'none'}",
            )
        )
    if atom.locale in chain:
        checks.append(
            Check(
                "locale",
                True,
                f"{atom.locale} is #{chain.index(atom.locale) + 1} "
                f"in the profile's chain {' > '.join(chain)}",
            )
        )
    else:
        checks.append(
            Check(
                "locale", False, f"{atom.locale} is not in the profile's chain {' > '.join(chain)}"
            )
        )
    checks.append(_window_check(atom, day))
    served = sorted(atom.channels.intersection(campaign_channels))
    checks.append(
        Check(
            "channels",
            bool(served),
            f"serves {', '.join(served) or 'none'} of "
            f"the campaign's {', '.join(campaign_channels)}",
        )
    )
    if atom.segments is None:
        checks.append(Check("segments", True, "no segments: everyone"))
    else:
        hit = sorted(atom.segments & segments)
        checks.append(
            Check(
                "segments",
                bool(hit),
                f"needs any of {', '.join(sorted(atom.segments))}; profile is in "
                f"{', '.join(sorted(segments)) or 'no segment'}",
            )
        )
    if atom.when is not None:
        passed, clauses = explain_condition(atom.when.source, profile.attributes, segments)
        checks.append(
            Check(
                "when", passed, "condition holds" if passed else "condition fails", tuple(clauses)
            )
        )
    if atom.experiment is not None:
        wanted_experiment = slot.experiment.name if slot.experiment else None
        if atom.experiment != wanted_experiment:
            checks.append(
                Check(
                    "variant",
                    False,
                    f"variant of experiment '{atom.experiment}', which does not run on this slot",
                )
            )
        else:
            shown = "holdout (no arm's atoms)" if arm == HOLDOUT else f"arm '{arm}'"
            checks.append(
                Check("variant", atom.arm == arm, f"variant '{atom.arm}'; profile is in {shown}")
            )
    return checks


def _outcome(
    atom: Atom,
    eligible: bool,
    decision_locale: str | None,
    ranked: Sequence[Atom],
    by_channel: Mapping[Channel, Atom | None],
) -> str:
    if not eligible:
        return "ineligible"
    if atom.locale != decision_locale:
        return f"not considered: candidates came from the more specific locale {decision_locale}"
    if ranked and ranked[0].id == atom.id:
        return "chosen"
    used_by = sorted(
        ch for ch, chosen in by_channel.items() if chosen is not None and chosen.id == atom.id
    )
    winner = ranked[0] if ranked else None
    if used_by:
        return f"used by {', '.join(used_by)}: the chosen atom does not serve it"
    if winner is not None and winner.priority > atom.priority:
        return f"lost: lower priority ({atom.priority}) than '{winner.id}' ({winner.priority})"
    if winner is not None:
        return f"lost: the weighted draw for this profile went to '{winner.id}'"
    return "lost"


def explain(
    project: Project,
    profile: Profile,
    campaign: str,
    at: dt.datetime,
    selector: Selector | None = None,
) -> Explanation:
    """Explain every slot of ``campaign`` for ``profile`` at instant ``at``."""
    selector = selector or Selector(project)
    selection: Selection = selector.select(profile, campaign, at)
    plan = selection.campaign
    segments = frozenset(selection.segments)
    segment_explanations: list[SegmentExplanation] = []
    so_far: set[str] = set()
    for segment in project.segments:
        member, clauses = explain_condition(
            segment.condition.source, profile.attributes, frozenset(so_far)
        )
        if member:
            so_far.add(segment.name)
        segment_explanations.append(SegmentExplanation(segment.name, member, tuple(clauses)))
    chain = project.locale_chain(profile.attributes.get("locale"))
    slots: list[SlotExplanation] = []
    for slot in plan.slots:
        decision = selection.slots[slot.name]
        arm = selection.experiments.get(slot.experiment.name) if slot.experiment else None
        candidates: list[CandidateExplanation] = []
        for atom in sorted(project.atoms.values(), key=lambda a: (-a.priority, a.id)):
            if atom.kind not in slot.config.kinds:
                continue
            checks = explain_atom(
                atom,
                slot,
                slot_tags(plan.config, slot.name),
                plan.channels,
                plan.day,
                profile,
                segments,
                arm,
                chain,
            )
            eligible = all(check.passed for check in checks)
            candidates.append(
                CandidateExplanation(
                    atom=atom.id,
                    path=atom.path,
                    locale=atom.locale,
                    priority=atom.priority,
                    weight=atom.weight,
                    eligible=eligible,
                    outcome=_outcome(
                        atom,
                        eligible,
                        decision.locale,
                        decision.ranked,
                        decision.by_channel,
                    ),
                    checks=tuple(checks),
                )
            )
        fallback = slot.config.fallback
        slots.append(
            SlotExplanation(
                slot=slot.name,
                kinds=tuple(slot.config.kinds),
                required=slot.config.required,
                locale_chain=chain,
                locale_used=decision.locale,
                experiment=slot.experiment.name if slot.experiment else None,
                arm=arm,
                chosen=decision.chosen.id if decision.chosen else None,
                channels={ch: (a.id if a else None) for ch, a in decision.by_channel.items()},
                fallback=fallback if decision.fallback_used else None,
                candidates=tuple(candidates),
            )
        )
    channels: dict[str, Mapping[str, str | None]] = {
        ch: {"status": "rendered" if p.state == "ready" else "skipped", "reason": p.reason}
        for ch, p in selection.channels.items()
    }
    return Explanation(
        profile_id=profile.id,
        campaign=campaign,
        at=at.isoformat().replace("+00:00", "Z"),
        segments=tuple(segment_explanations),
        experiments=dict(selection.experiments),
        slots=tuple(slots),
        channels=channels,
    )
