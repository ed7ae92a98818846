"""Helpers of the results tests: decision logs and outcome events of known effect.

A decision log of 200,000 profiles is written directly in the batch's schema, with each
profile's arm from the selection's own hash bucket (:class:`ExperimentPlan`), because
rendering 200,000 profiles would make the test slow without testing anything more of the
join (``test_results.py`` also runs the real batch on a smaller input). Events are drawn
from a seeded numpy generator, vectorised.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from atomcast.batch.decisionlog import decision_schema
from atomcast.selection import ExperimentPlan

AT = dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC)
CAMPAIGN = "summer-sale"
EXPERIMENT = ExperimentPlan("headline-test", "headline", (("a", 50.0), ("b", 50.0)), 0.10)
HEADLINES = {"a": "headline-summer-a", "b": "headline-summer-b", "holdout": "headline-summer"}


def synthetic_log(
    path: Path, count: int, *, drop_arm: str | None = None, drop: float = 0.0, seed: int = 1
) -> Path:
    """A decision log of ``count`` profiles; ``drop`` of ``drop_arm``'s rows lost."""
    rng = np.random.default_rng(seed)
    ids = [f"p-{index:07d}" for index in range(count)]
    arms = [EXPERIMENT.assign(pid, CAMPAIGN) for pid in ids]
    keep = np.ones(count, dtype=bool)
    if drop_arm is not None:
        keep &= ~((np.array(arms) == drop_arm) & (rng.random(count) < drop))
    segments = [["vip"] if index % 7 == 0 else [] for index in range(count)]
    rows = [index for index in range(count) if keep[index]]
    table = pa.table(
        {
            "profile_id": [ids[i] for i in rows],
            "campaign": [CAMPAIGN] * len(rows),
            "at": [AT] * len(rows),
            "segments": [segments[i] for i in rows],
            "experiments": [[("headline-test", arms[i])] for i in rows],
            "decisions": [[("headline", HEADLINES[arms[i]]), ("hero", None)] for i in rows],
            "channels": [[("email", "rendered")] for _ in rows],
            "content": ["0" * 64] * len(rows),
        },
        schema=decision_schema(),
    )
    pq.write_table(table, path)
    return path


def outcome_events(
    log: Path, rates: Mapping[str, float], seed: int = 2, amount: float = 40.0
) -> pa.Table:
    """Purchases (with an ``amount``) inside the 7-day window at ``rates`` per arm, plus
    clicks before the decision and after the window that must not count."""
    rng = np.random.default_rng(seed)
    table = pq.read_table(log, columns=["profile_id", "experiments"])
    ids = np.array(table.column("profile_id").to_pylist())
    arms = np.array([dict(e)["headline-test"] for e in table.column("experiments").to_pylist()])
    p = np.vectorize(rates.__getitem__)(arms)
    buyers = rng.random(len(ids)) < p
    n = int(buyers.sum())
    seconds = rng.uniform(0, 7 * 86_400 - 1, n).astype(np.int64)
    at = np.datetime64(AT.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]")
    noise = rng.choice(len(ids), 500, replace=False)
    before = np.datetime64(AT.replace(tzinfo=None), "s") - np.timedelta64(1, "s")
    after = np.datetime64(AT.replace(tzinfo=None), "s") + np.timedelta64(7 * 86_400, "s")
    return pa.table(
        {
            "profile_id": np.concatenate([ids[buyers], ids[noise], ids[noise]]),
            "event": ["purchase"] * n + ["purchase"] * 1_000,
            "at": pa.array(
                np.concatenate([at, np.repeat(before, 500), np.repeat(after, 500)]),
                pa.timestamp("s", tz="UTC"),
            ),
            "amount": rng.exponential(amount, n + 1_000),
        }
    )


def write_jsonl_events(path: Path, records: Sequence[Mapping[str, object] | str]) -> Path:
    import json

    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return path
