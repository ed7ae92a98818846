"""Prometheus metrics of ``atomcast serve``: requests, latency, errors, content version.

With several worker processes each process writes its values into files under
``PROMETHEUS_MULTIPROC_DIR`` (a temporary folder the CLI makes before the workers start,
since prometheus-client reads the variable at import) and ``/metrics`` adds them up, so any
worker answers for all of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = ["CONTENT_TYPE_LATEST", "MULTIPROC_ENV", "ServeMetrics"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Latency buckets in seconds: fine below 25 ms, where the targets are.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


def multiprocess_dir() -> str | None:
    value = os.environ.get(MULTIPROC_ENV)
    return value if value and os.path.isdir(value) else None


@dataclass(slots=True)
class ServeMetrics:
    """The server's metrics, in a registry of their own (several apps can share a process,
    as tests do, without clashing in prometheus-client's global registry)."""

    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )
    requests: Counter = field(init=False)
    latency: Histogram = field(init=False)
    errors: Counter = field(init=False)
    content: Gauge = field(init=False)
    reloads: Counter = field(init=False)
    sticky: Counter = field(init=False)
    _shown: str | None = None

    def __post_init__(self) -> None:
        registry = self.registry
        self.requests = Counter(
            "atomcast_http_requests",
            "HTTP requests answered, by route, method and status.",
            ("route", "method", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "atomcast_http_request_duration_seconds",
            "Time from the request's arrival to the end of the response, by route.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "atomcast_errors",
            "Requests that met a problem: kind is limit (a record past limits:), "
            "store (a decision-store lookup failed; answered fresh) or internal (a bug).",
            ("kind",),
            registry=registry,
        )
        self.content = Gauge(
            "atomcast_content_info",
            "The content fingerprint each live worker serves (1) or served before (0).",
            ("content",),
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.reloads = Counter(
            "atomcast_content_reloads",
            "Content reloads (SIGHUP or --watch), by result (ok, failed).",
            ("result",),
            registry=registry,
        )
        self.sticky = Counter(
            "atomcast_store_decisions",
            "Renders with --store, by whether a stored decision was used (sticky).",
            ("sticky",),
            registry=registry,
        )

    def serving(self, fingerprint: str) -> None:
        """Record which content this process serves now."""
        if self._shown == fingerprint:
            return
        if self._shown is not None:
            self.content.labels(self._shown).set(0)
        self.content.labels(fingerprint).set(1)
        self._shown = fingerprint

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def exposition(self) -> bytes:
        """The Prometheus text of every worker (multiprocess mode) or of this process."""
        folder = multiprocess_dir()
        if folder is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    @staticmethod
    def process_exited(pid: int) -> None:
        """Drop a finished worker's live gauges (multiprocess mode only)."""
        folder = multiprocess_dir()
        if folder is not None:
            multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
