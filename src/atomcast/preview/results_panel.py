"""The results panel of the preview: ``/api/results`` and the ``/results`` page.

Started with ``atomcast preview --results OUT --events FILE``, the preview shows, per
experiment, each arm's metrics and lifts (the 95% interval drawn as a bar around zero), a
warning when the sample ratio check fails, and per-atom metrics marked observational. The
page is rendered on the server from the same report as ``atomcast results --json``: no
script, nothing authored reaches it unescaped.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from atomcast.errors import AtomcastError
from atomcast.results.analyse import analyse
from atomcast.results.report import HOLDOUT, OBSERVATIONAL, Report

if TYPE_CHECKING:
    from jinja2 import Environment

    from atomcast.preview.app import PreviewState

#: Reports kept (per campaign and project generation); each is a few KB.
MAX_REPORTS = 8


@dataclass(frozen=True, slots=True)
class Bar:
    """A lift and its interval as percentages of the panel's symmetric scale."""

    left: float
    width: float
    point: float
    lift: float
    low: float
    high: float
    p_value: float
    significant: bool


class ResultsSource:
    """The decision log and events the preview reports on, and the reports made from them.

    Reports are computed on first request per campaign and cached until the project changes
    (its generation) or :meth:`clear`; the cache is bounded.
    """

    def __init__(self, decisions: Path, events: Sequence[Path] = ()) -> None:
        self.decisions = decisions
        self.events = tuple(events)
        self._lock = threading.Lock()
        self._reports: OrderedDict[tuple[str, int], Report] = OrderedDict()

    def report(self, state: PreviewState, campaign: str) -> Report:
        snapshot = state.snapshot
        key = (campaign, snapshot.generation)
        with self._lock:
            cached = self._reports.get(key)
            if cached is not None:
                self._reports.move_to_end(key)
                return cached
        report = analyse(snapshot.project, campaign, self.decisions, self.events, threads=1)
        with self._lock:
            self._reports[key] = report
            while len(self._reports) > MAX_REPORTS:
                self._reports.popitem(last=False)
        return report

    def clear(self) -> None:
        with self._lock:
            self._reports.clear()


def _position(value: float, scale: float) -> float:
    """Where ``value`` sits on a bar from ``-scale`` to ``+scale``, in percent."""
    return round((value + scale) / (2 * scale) * 100, 2)


def lift_bars(report: Report) -> dict[tuple[str, str, str, str], Bar]:
    """Every comparison with an interval, on one scale per experiment (so bars compare)."""
    bars: dict[tuple[str, str, str, str], Bar] = {}
    for name, experiment in report.experiments.items():
        scale = 0.05
        for row in experiment.comparisons:
            if row.result.ci is not None:
                scale = max(scale, abs(row.result.ci[0]), abs(row.result.ci[1]))
        for row in experiment.comparisons:
            result = row.result
            if result.ci is None or result.lift is None or result.p_value is None:
                continue
            low, high = result.ci
            left = _position(low, scale)
            bars[(name, row.metric, row.arm, row.baseline)] = Bar(
                left=left,
                width=round(_position(high, scale) - left, 2),
                point=_position(result.lift, scale),
                lift=result.lift,
                low=low,
                high=high,
                p_value=result.p_value,
                significant=result.significant,
            )
    return bars


def results_routes(
    state: PreviewState, source: ResultsSource, env: Environment, headers: dict[str, str]
) -> list[Route]:
    """``/api/results`` (the report's JSON) and ``/results`` (the panel)."""

    def campaign_of(request: Request) -> str:
        campaign = str(request.query_params.get("campaign") or "")
        if not campaign:
            campaigns = list(state.snapshot.project.config.campaigns)
            campaign = campaigns[0] if campaigns else ""
        return campaign

    async def api_results(request: Request) -> Response:
        try:
            report = await asyncio.to_thread(source.report, state, campaign_of(request))
        except AtomcastError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(report.to_json())

    async def page(request: Request) -> Response:
        campaign = campaign_of(request)
        error: str | None = None
        report: Report | None = None
        try:
            report = await asyncio.to_thread(source.report, state, campaign)
        except AtomcastError as exc:
            error = str(exc)
        html = env.get_template("results.html").render(
            campaign=campaign,
            campaigns=list(state.snapshot.project.config.campaigns),
            report=report,
            bars=lift_bars(report) if report is not None else {},
            error=error,
            holdout=HOLDOUT,
            observational=OBSERVATIONAL,
        )
        return HTMLResponse(html, status_code=200 if error is None else 400, headers=headers)

    return [Route("/api/results", api_results), Route("/results", page)]


__all__ = ["MAX_REPORTS", "Bar", "ResultsSource", "lift_bars", "results_routes"]
