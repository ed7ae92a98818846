"""The metrics a results run measures, resolved from ``atomcast.yaml`` (SPEC 8)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from atomcast.errors import ResultsError
from atomcast.models import MetricConfig
from atomcast.project import Project
from atomcast.results.stats import Kind


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric: a profile's value is 1 if it has at least one ``event`` in the window
    after its decision (``proportion``), or the sum of the events' ``value`` field there
    (``mean``)."""

    name: str
    event: str
    value: str | None
    window: str
    window_seconds: int

    @property
    def kind(self) -> Kind:
        return "proportion" if self.value is None else "mean"

    @classmethod
    def from_config(cls, name: str, config: MetricConfig) -> Metric:
        return cls(name, config.event, config.value, config.window, config.window_seconds)

    def to_json(self) -> dict[str, str | None]:
        return {"event": self.event, "value": self.value, "window": self.window}


def resolve_metrics(project: Project, names: Sequence[str] = ()) -> tuple[Metric, ...]:
    """The project's metrics named in ``names`` (all of them, in file order, when empty).

    :raises ResultsError: for a name the project does not declare, or when it declares none.
    """
    declared = project.config.metrics
    if not declared:
        raise ResultsError(
            "atomcast.yaml declares no metrics: add a 'metrics:' section "
            "(see docs/test-and-learn.md)"
        )
    unknown = [name for name in names if name not in declared]
    if unknown:
        raise ResultsError(
            f"unknown metric {', '.join(repr(n) for n in unknown)} "
            f"(declared: {', '.join(declared)})"
        )
    chosen = list(dict.fromkeys(names)) or list(declared)
    return tuple(Metric.from_config(name, declared[name]) for name in chosen)


__all__ = ["Metric", "resolve_metrics"]
