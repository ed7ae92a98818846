"""``atomcast results --plan``: size a test before it runs.

For each comparison the report will make (every arm against the first arm, and against
holdout), the minimum detectable effect: the smallest relative lift a two-sided test at
alpha 0.05 finds 80% of the time with the profiles the configured split gives each side.
With ``--lift``, the profiles the campaign needs for that lift instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from atomcast.errors import ParameterError, ResultsError, UnknownCampaignError
from atomcast.project import Project
from atomcast.results.metrics import Metric, resolve_metrics
from atomcast.results.report import HOLDOUT, expected_split
from atomcast.results.stats import ALPHA, POWER, minimum_detectable_effect, sample_size


@dataclass(frozen=True, slots=True)
class PlannedComparison:
    experiment: str
    arm: str
    baseline: str
    profiles_arm: int
    profiles_baseline: int
    mde: float | None
    needed: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "arm": self.arm,
            "baseline": self.baseline,
            "profiles": {self.arm: self.profiles_arm, self.baseline: self.profiles_baseline},
            "mde": self.mde,
            "profiles_needed": self.needed,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    campaign: str
    metric: Metric
    baseline: float
    profiles: int
    lift: float | None
    stddev: float | None
    comparisons: tuple[PlannedComparison, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "metric": self.metric.name,
            "baseline": self.baseline,
            "profiles": self.profiles,
            "alpha": ALPHA,
            "power": POWER,
            "lift": self.lift,
            "comparisons": [c.to_json() for c in self.comparisons],
        }


def plan_test(
    project: Project,
    campaign: str,
    metric_name: str,
    baseline: float,
    profiles: int,
    *,
    lift: float | None = None,
    stddev: float | None = None,
) -> Plan:
    """Minimum detectable effects (and profiles needed for ``lift``) per comparison.

    :param baseline: the metric's expected mean in the baseline arm: a rate in (0, 1) for a
        binary metric, a mean per profile for a value metric (which also needs ``stddev``).
    :raises ParameterError: for impossible inputs.
    :raises ResultsError: for a campaign without experiments.
    """
    config = project.config.campaigns.get(campaign)
    if config is None:
        known = ", ".join(project.config.campaigns) or "none"
        raise UnknownCampaignError(f"unknown campaign '{campaign}' (campaigns: {known})")
    (metric,) = resolve_metrics(project, [metric_name])
    if metric.kind == "proportion" and not 0 < baseline < 1:
        raise ParameterError("baseline", f"must be a rate between 0 and 1 for '{metric.name}'")
    if metric.kind == "mean":
        if baseline <= 0:
            raise ParameterError("baseline", "must be a positive mean per profile")
        if stddev is None or stddev <= 0:
            raise ParameterError(
                "stddev",
                f"is needed: '{metric.name}' sums '{metric.value}', so give its standard "
                "deviation per profile",
            )
    if profiles < 2:
        raise ParameterError("profiles", "must be at least 2")
    if lift is not None and lift == 0:
        raise ParameterError("lift", "must not be zero")
    if not config.experiments:
        raise ResultsError(f"campaign '{campaign}' has no experiments to plan")
    rows: list[PlannedComparison] = []
    for name, experiment in config.experiments.items():
        shares = expected_split(experiment)
        arms = list(experiment.variants)
        pairs = [(arm, arms[0]) for arm in arms[1:]]
        if HOLDOUT in shares:
            pairs += [(arm, HOLDOUT) for arm in arms]
        for arm, base in pairs:
            n_arm, n_base = profiles * shares[arm], profiles * shares[base]
            mde = minimum_detectable_effect(
                baseline, n_base, n_arm, kind=metric.kind, stddev=stddev
            )
            needed = None
            if lift is not None:
                needed = sample_size(
                    baseline, lift, shares[base], shares[arm], kind=metric.kind, stddev=stddev
                )
            rows.append(PlannedComparison(name, arm, base, int(n_arm), int(n_base), mde, needed))
    return Plan(campaign, metric, baseline, profiles, lift, stddev, tuple(rows))


def render_plan(plan: Plan, console: Any) -> None:
    from rich.table import Table

    kind = "rate" if plan.metric.kind == "proportion" else "mean"
    console.print(
        f"[bold]{plan.campaign}[/bold]: {plan.profiles:,} profiles, {plan.metric.name} "
        f"baseline {kind} {plan.baseline:g}; two-sided alpha {ALPHA}, power {POWER:.0%}"
    )
    table = Table(show_edge=False)
    for column in ("experiment", "arm", "vs", "profiles (arm / baseline)", "MDE (relative)"):
        table.add_column(column)
    if plan.lift is not None:
        table.add_column(f"profiles for {plan.lift * 100:+.1f}%", justify="right")
    for row in plan.comparisons:
        mde = f"{row.mde * 100:.2f}%" if row.mde is not None else "none within reach"
        cells = [
            row.experiment,
            row.arm,
            row.baseline,
            f"{row.profiles_arm:,} / {row.profiles_baseline:,}",
            mde,
        ]
        if plan.lift is not None:
            cells.append(f"{row.needed:,}" if row.needed is not None else "—")
        table.add_row(*cells)
    console.print(table)
    console.print(
        "MDE: the smallest relative lift this split detects 80% of the time. Smaller true "
        "effects may exist; this test would usually miss them."
    )


__all__ = ["Plan", "PlannedComparison", "plan_test", "render_plan"]
