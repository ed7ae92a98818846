"""``metrics:`` in atomcast.yaml (SPEC 8): declared, checked with PATH:LINE, resolved."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomcast.check import check_project
from atomcast.errors import ResultsError
from atomcast.models import MetricConfig, window_seconds
from atomcast.project import load_project
from atomcast.results.metrics import resolve_metrics
from tests.conftest import ROOT


def _with_metrics(project: Path, block: str) -> int:
    """Append a metrics block; the line number of its first line."""
    config = project / "atomcast.yaml"
    text = config.read_text("utf-8").rstrip("\n") + "\n"
    first = text.count("\n") + 2
    config.write_text(text + "metrics:\n" + block, "utf-8")
    return first


def test_the_demo_declares_metrics() -> None:
    metrics = resolve_metrics(load_project(ROOT))
    assert [(m.name, m.event, m.value, m.window_seconds) for m in metrics] == [
        ("purchased", "purchase", None, 7 * 86_400),
        ("revenue", "purchase", "amount", 7 * 86_400),
        ("clicked", "click", None, 3 * 86_400),
    ]
    assert [m.kind for m in metrics] == ["proportion", "mean", "proportion"]


@pytest.mark.parametrize(
    ("block", "offset", "message"),
    [
        ("  bought: {event: purchase, windw: 3d}\n", 0, "unknown field 'windw' in metrics.bought"),
        ("  bought: {event: purchase, window: 3x}\n", 0, "window must be a whole number"),
        ("  bought: {event: purchase, window: 0d}\n", 0, "window must be a whole number"),
        ("  bought: {event: purchase, window: 7}\n", 0, "window must be a whole number"),
        ("  bought: {value: amount}\n", 0, "metrics.bought.event: required field is missing"),
        ("  ok: {event: click}\n  bought:\n    event: ''\n", 2, "metrics.bought.event"),
        ("  bought: {event: purchase, value: at}\n", 0, "value must name a numeric field"),
        ("  'bad name': {event: click}\n", -1, "metric name 'bad name'"),
    ],
)
def test_a_bad_metric_is_an_error_with_its_line(
    mini_project: Path, block: str, offset: int, message: str
) -> None:
    first = _with_metrics(mini_project, block)
    problems = [p for p in check_project(mini_project) if p.is_error]
    assert len(problems) == 1, problems
    assert problems[0].path == "atomcast.yaml"
    assert problems[0].line == first + offset
    assert message in problems[0].message


def test_unknown_metric_names_are_refused(demo_project: Path) -> None:
    project = load_project(demo_project)
    with pytest.raises(ResultsError, match="unknown metric 'sales'"):
        resolve_metrics(project, ["purchased", "sales"])
    assert [m.name for m in resolve_metrics(project, ["clicked"])] == ["clicked"]


def test_a_project_without_metrics_says_how_to_add_them(mini_project: Path) -> None:
    with pytest.raises(ResultsError, match="declares no metrics"):
        resolve_metrics(load_project(mini_project))


@given(st.integers(1, 999_999), st.sampled_from(["d", "h", "m"]))
def test_windows_in_days_hours_minutes(count: int, unit: str) -> None:
    metric = MetricConfig(event="e", window=f"{count}{unit}")
    assert metric.window_seconds == count * {"d": 86_400, "h": 3_600, "m": 60}[unit]
    assert window_seconds("7d") == MetricConfig(event="e").window_seconds
