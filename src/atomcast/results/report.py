"""The results report: typed, then as SPEC 8's JSON or as tables for a terminal.

Arms of an experiment are randomized (a hash bucket decides them), so their differences are
effects of the content. Atoms are not: an atom is chosen *because of* who the profile is
(segment, locale, cart), so per-atom numbers describe the audience as much as the atom.
The report says so wherever it shows them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from atomcast.models import CampaignConfig, ExperimentConfig
from atomcast.results.events import EventLoad
from atomcast.results.join import JoinResult, Sums
from atomcast.results.metrics import Metric
from atomcast.results.stats import (
    ArmStats,
    Comparison,
    SampleRatio,
    compare,
    sample_ratio,
)

HOLDOUT = "holdout"
OBSERVATIONAL = (
    "observational: atoms are chosen by who the profile is, so these numbers mix the "
    "atom's effect with its audience's; only experiment arms are randomized"
)


@dataclass(frozen=True, slots=True)
class MetricValue:
    mean: float
    sum: float

    def to_json(self) -> dict[str, float]:
        return {"mean": self.mean, "sum": self.sum}


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """An arm, an atom or an arm within a segment: profiles and each metric's mean and sum."""

    profiles: int
    metrics: dict[str, MetricValue]
    stats: dict[str, ArmStats]

    def to_json(self) -> dict[str, Any]:
        return {
            "profiles": self.profiles,
            "metrics": {name: value.to_json() for name, value in self.metrics.items()},
        }


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    metric: str
    arm: str
    baseline: str
    result: Comparison

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "metric": self.metric,
            "arm": self.arm,
            "baseline": self.baseline,
            "lift": self.result.lift,
            "ci": list(self.result.ci) if self.result.ci is not None else None,
            "p_value": self.result.p_value,
            "significant": self.result.significant,
        }
        if self.result.note is not None:
            data["note"] = self.result.note
        return data


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    name: str
    srm: SampleRatio | None
    arms: dict[str, GroupSummary]
    comparisons: list[ComparisonRow]
    segments: dict[str, dict[str, GroupSummary]] = field(default_factory=dict)

    def to_json(self, by_segment: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "srm": None
            if self.srm is None
            else {
                "p_value": self.srm.p_value,
                "mismatch": self.srm.mismatch,
                "expected": self.srm.expected,
                "observed": self.srm.observed,
            },
            "arms": {arm: summary.to_json() for arm, summary in self.arms.items()},
            "comparisons": [row.to_json() for row in self.comparisons],
        }
        if by_segment:
            data["segments"] = {
                segment: {arm: s.to_json() for arm, s in arms.items()}
                for segment, arms in self.segments.items()
            }
        return data


@dataclass(frozen=True, slots=True)
class EventCounts:
    read: int
    counted: int
    rejected: int
    unmatched: int
    ignored: int
    reasons: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "counted": self.counted,
            "rejected": self.rejected,
            "unmatched": self.unmatched,
            "ignored": self.ignored,
            "reject_reasons": dict(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class Report:
    campaign: str
    profiles: int
    events: EventCounts
    metrics: tuple[Metric, ...]
    experiments: dict[str, ExperimentReport]
    atoms: dict[str, dict[str, GroupSummary]]
    by_segment: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "profiles": self.profiles,
            "events": self.events.to_json(),
            "metrics": {m.name: m.to_json() for m in self.metrics},
            "experiments": {
                name: exp.to_json(self.by_segment) for name, exp in self.experiments.items()
            },
            "atoms": {
                slot: {atom: s.to_json() for atom, s in atoms.items()}
                for slot, atoms in self.atoms.items()
            },
            "atoms_note": OBSERVATIONAL,
        }


# --- building -----------------------------------------------------------------------------


def summarise(sums: Sums, metrics: Sequence[Metric]) -> GroupSummary:
    values: dict[str, MetricValue] = {}
    stats: dict[str, ArmStats] = {}
    for index, metric in enumerate(metrics):
        arm = ArmStats(sums.n, sums.sums[index], sums.squares[index], metric.kind)
        stats[metric.name] = arm
        values[metric.name] = MetricValue(arm.mean, arm.sum)
    return GroupSummary(sums.n, values, stats)


def expected_split(config: ExperimentConfig) -> dict[str, float]:
    """Each arm's configured share of the campaign's profiles (holdout included)."""
    holdout = config.holdout / 100
    total = sum(config.variants.values())
    shares = {arm: (1 - holdout) * weight / total for arm, weight in config.variants.items()}
    if holdout > 0:
        shares[HOLDOUT] = holdout
    return shares


def _arm_order(config: ExperimentConfig | None, observed: Sequence[str]) -> list[str]:
    configured = list(config.variants) if config is not None else []
    others = sorted(a for a in observed if a not in configured and a != HOLDOUT)
    order = configured + others
    if HOLDOUT in observed or (config is not None and config.holdout > 0):
        order.append(HOLDOUT)
    return order


def _comparisons(
    arms: Mapping[str, GroupSummary], order: Sequence[str], metrics: Sequence[Metric]
) -> list[ComparisonRow]:
    treatment = [arm for arm in order if arm != HOLDOUT and arm in arms]
    rows: list[ComparisonRow] = []
    for metric in metrics:
        if treatment:
            first = treatment[0]
            for arm in treatment[1:]:
                result = compare(arms[first].stats[metric.name], arms[arm].stats[metric.name])
                rows.append(ComparisonRow(metric.name, arm, first, result))
        if HOLDOUT in arms:
            for arm in treatment:
                result = compare(arms[HOLDOUT].stats[metric.name], arms[arm].stats[metric.name])
                rows.append(ComparisonRow(metric.name, arm, HOLDOUT, result))
    return rows


def build_report(
    campaign: str,
    config: CampaignConfig,
    metrics: Sequence[Metric],
    load: EventLoad,
    joined: JoinResult,
    *,
    by_segment: bool,
) -> Report:
    names = list(config.experiments) + sorted(
        {name for name, _ in joined.arms} - set(config.experiments)
    )
    experiments: dict[str, ExperimentReport] = {}
    for name in names:
        exp_config = config.experiments.get(name)
        observed = [arm for (exp, arm) in joined.arms if exp == name]
        order = _arm_order(exp_config, observed)
        arms = {
            arm: summarise(joined.arms[(name, arm)], metrics)
            for arm in order
            if (name, arm) in joined.arms
        }
        srm = None
        if exp_config is not None:
            srm = sample_ratio(
                {arm: s.profiles for arm, s in arms.items()}, expected_split(exp_config)
            )
        segments: dict[str, dict[str, GroupSummary]] = {}
        for (exp, segment, arm), sums in joined.segments.items():
            if exp == name:
                segments.setdefault(segment, {})[arm] = summarise(sums, metrics)
        segments = {
            segment: {arm: by_arm[arm] for arm in order if arm in by_arm}
            for segment, by_arm in sorted(segments.items())
        }
        experiments[name] = ExperimentReport(
            name, srm, arms, _comparisons(arms, order, metrics), segments
        )
    atoms: dict[str, dict[str, GroupSummary]] = {}
    slot_order = list(config.slots)
    for (slot, atom), sums in sorted(
        joined.atoms.items(),
        key=lambda item: (
            slot_order.index(item[0][0]) if item[0][0] in slot_order else len(slot_order),
            -item[1].n,
            item[0][1],
        ),
    ):
        atoms.setdefault(slot, {})[atom] = summarise(sums, metrics)
    events = EventCounts(
        read=load.read,
        counted=joined.counted,
        rejected=load.rejected,
        unmatched=joined.unmatched,
        ignored=joined.ignored,
        reasons=dict(load.reasons),
    )
    return Report(campaign, joined.profiles, events, tuple(metrics), experiments, atoms, by_segment)


# --- text ---------------------------------------------------------------------------------


def _pct(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value * 100:+.{digits}f}%"


def _mean(metric: Metric, value: MetricValue) -> str:
    if metric.kind == "proportion":
        return f"{value.mean * 100:.2f}%"
    return f"{value.mean:,.4g}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def render_text(report: Report, console: Any) -> None:
    """The report as rich tables on ``console``."""
    from rich.table import Table

    events = report.events
    console.print(
        f"[bold]{report.campaign}[/bold]: {report.profiles:,} profiles in the decision log; "
        f"events read {events.read:,}, counted {events.counted:,}, rejected "
        f"{events.rejected:,}, unmatched {events.unmatched:,}, outside every window "
        f"{events.ignored:,}"
    )
    for reason, count in events.reasons.items():
        console.print(f"  rejected {count:,}: {reason}")
    metric_names = ", ".join(
        f"{m.name} ({m.event}" + (f" {m.value}" if m.value else "") + f", {m.window})"
        for m in report.metrics
    )
    console.print(f"metrics: {metric_names}")
    for name, experiment in report.experiments.items():
        console.print()
        console.print(f"[bold]experiment {name}[/bold] (randomized)")
        srm = experiment.srm
        if srm is not None:
            split = ", ".join(
                f"{arm} {srm.observed.get(arm, 0):,} (expected {share * 100:.1f}%)"
                for arm, share in srm.expected.items()
            )
            if srm.mismatch:
                console.print(
                    f"[bold red]SAMPLE RATIO MISMATCH[/bold red] p={srm.p_value:.2g}: {split}. "
                    "The arms are not the split that was configured (lost sends, a filter, "
                    "a bug): do not trust the lifts below until it is explained."
                )
            else:
                console.print(f"sample ratio ok (p={srm.p_value:.3f}): {split}")
        table = Table(show_edge=False)
        table.add_column("arm")
        table.add_column("profiles", justify="right")
        for metric in report.metrics:
            table.add_column(metric.name, justify="right")
        for arm, summary in experiment.arms.items():
            table.add_row(
                arm,
                f"{summary.profiles:,}",
                *(_mean(m, summary.metrics[m.name]) for m in report.metrics),
            )
        console.print(table)
        if experiment.comparisons:
            lifts = Table(show_edge=False)
            for column in ("metric", "arm", "vs", "lift", "95% CI", "p-value", ""):
                lifts.add_column(column, justify="right" if column else "left")
            for row in experiment.comparisons:
                result = row.result
                ci = (
                    f"[{_pct(result.ci[0])}, {_pct(result.ci[1])}]"
                    if result.ci is not None
                    else (result.note or "—")
                )
                lifts.add_row(
                    row.metric,
                    row.arm,
                    row.baseline,
                    _pct(result.lift),
                    ci,
                    _p(result.p_value),
                    "significant" if result.significant else "",
                )
            console.print(lifts)
        if report.by_segment:
            for segment, arms in experiment.segments.items():
                seg = Table(title=f"segment {segment}", show_edge=False)
                seg.add_column("arm")
                seg.add_column("profiles", justify="right")
                for metric in report.metrics:
                    seg.add_column(metric.name, justify="right")
                for arm, summary in arms.items():
                    seg.add_row(
                        arm,
                        f"{summary.profiles:,}",
                        *(_mean(m, summary.metrics[m.name]) for m in report.metrics),
                    )
                console.print(seg)
    if report.atoms:
        console.print()
        console.print(f"[bold]atoms per slot[/bold] ({OBSERVATIONAL})")
        atoms = Table(show_edge=False)
        atoms.add_column("slot")
        atoms.add_column("atom")
        atoms.add_column("profiles", justify="right")
        for metric in report.metrics:
            atoms.add_column(metric.name, justify="right")
        for slot, by_atom in report.atoms.items():
            for atom, summary in by_atom.items():
                atoms.add_row(
                    slot,
                    atom,
                    f"{summary.profiles:,}",
                    *(_mean(m, summary.metrics[m.name]) for m in report.metrics),
                )
        console.print(atoms)


__all__ = [
    "HOLDOUT",
    "OBSERVATIONAL",
    "ComparisonRow",
    "EventCounts",
    "ExperimentReport",
    "GroupSummary",
    "MetricValue",
    "Report",
    "build_report",
    "expected_split",
    "render_text",
    "summarise",
]
