"""The decision store: bulk insert rate, lookup latency, and what ``--store`` adds to a batch.

1. **insert**: ``--rows`` demo decisions (real selections of synthetic profiles, sharing
   their values as a batch chunk does) put in chunks of ``--chunk-size`` (the batch's
   shape), then put again (a resumed run's replay: every row an update), then in one call;
   rows per second, on SQLite (a file in a temporary folder) and PostgreSQL (a throwaway
   server started like the tests do, fsync on; or ``--postgres URL``).
2. **lookup**: ``--gets`` random ``get`` calls on one store object: p50/p99 in µs (what a
   ``serve`` request adds).
3. **batch**: ``atomcast batch`` of ``--batch-profiles`` demo profiles in this process
   (workers are processes), without and with ``--store sqlite``, alternating, best of
   ``--repeats``; plus the parent's own time storing chunks (reading each chunk's decision
   part, building records, ``put_many``, the marker), the store's cost whatever the noise.

Usage::

    python benchmarks/store.py                       # 100,000 rows; batch of 60,000
    python benchmarks/store.py --skip-batch --rows 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.pg import PostgresServer

from _profiles import synthetic_profiles
from atomcast.batch import render_batch
from atomcast.batch.storing import StoringJournal
from atomcast.project import load_project
from atomcast.render import Renderer
from atomcast.schema import validate_profile
from atomcast.store import DecisionStore, StoredDecision, open_store

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-07-15T12:00:00Z"
CAMPAIGN = "summer-sale"


def demo_decisions(count: int) -> list[StoredDecision]:
    """Real decisions of ``count`` synthetic profiles; equal values are shared objects."""
    project = load_project(ROOT)
    renderer = Renderer(project).campaign(CAMPAIGN, at=AT)
    at = dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC)
    shared: dict[Any, Any] = {}
    records: list[StoredDecision] = []
    for raw in synthetic_profiles(count):
        selection = renderer.select(validate_profile(project.schema, raw))
        segments = shared.setdefault(("s", selection.segments), selection.segments)
        arms = tuple(selection.experiments.items())
        experiments = shared.setdefault(("e", arms), dict(arms))
        picks = tuple(selection.decisions.items())
        decisions = shared.setdefault(("d", picks), dict(picks))
        records.append(
            StoredDecision(CAMPAIGN, str(raw["id"]), at, "f" * 64, segments, experiments, decisions)
        )
    return records


def rate(store: DecisionStore, records: list[StoredDecision], chunk: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(records), chunk):
        store.put_many(records[start : start + chunk])
    return len(records) / (time.perf_counter() - started)


def lookups(store: DecisionStore, records: list[StoredDecision], count: int) -> dict[str, float]:
    rng = random.Random(5)
    keys = [rng.choice(records).profile_id for _ in range(count)]
    times: list[float] = []
    for key in keys:
        started = time.perf_counter()
        store.get(CAMPAIGN, key)
        times.append(time.perf_counter() - started)
    times.sort()
    return {
        "p50_us": round(times[len(times) // 2] * 1e6, 1),
        "p99_us": round(times[int(len(times) * 0.99)] * 1e6, 1),
    }


def measure_store(url: str, records: list[StoredDecision], args: argparse.Namespace) -> Any:
    store = open_store(url)
    try:
        insert = rate(store, records, args.chunk_size)
        replay = rate(store, records, args.chunk_size)
        single = rate(store, records, len(records))
        latency = lookups(store, records, args.gets)
    finally:
        store.close()
    return {
        "insert_rows_per_s": round(insert),
        "upsert_rows_per_s": round(replay),
        "one_call_rows_per_s": round(single),
        **latency,
    }


def postgres(args: argparse.Namespace) -> Iterator[str]:
    if args.postgres:
        yield args.postgres
        return
    server = PostgresServer(durable=True)
    try:
        yield server.start()
    finally:
        server.stop()


def timed_batch(source: Path, out: Path, store: str | None, workers: int) -> float:
    started = time.perf_counter()
    render_batch(ROOT, CAMPAIGN, source, out, at=AT, workers=workers, store=store)
    return time.perf_counter() - started


def measure_batch(args: argparse.Namespace, work: Path) -> Any:
    source = work / "profiles.jsonl"
    with open(source, "w", encoding="utf-8") as handle:
        for raw in synthetic_profiles(args.batch_profiles):
            handle.write(json.dumps(raw, ensure_ascii=False) + "\n")
    spent: list[float] = []
    waited: list[float] = []
    original: Callable[[StoringJournal, int], None] = StoringJournal._store_chunk

    def timed(self: StoringJournal, index: int) -> None:
        started, clock = time.process_time(), time.perf_counter()
        original(self, index)
        spent.append(time.process_time() - started)
        waited.append(time.perf_counter() - clock)

    StoringJournal._store_chunk = timed  # type: ignore[method-assign]
    plain: list[float] = []
    stored: list[float] = []
    storing: list[float] = []
    storing_wall: list[float] = []
    for repeat in range(args.repeats):
        plain.append(timed_batch(source, work / "plain", None, args.workers))
        spent.clear()
        waited.clear()
        url = f"sqlite:///{work / f'store-{repeat}.db'}"
        stored.append(timed_batch(source, work / "stored", url, args.workers))
        storing.append(sum(spent))
        storing_wall.append(sum(waited))
    best_plain, best_stored = min(plain), min(stored)
    return {
        "profiles": args.batch_profiles,
        "workers": args.workers,
        "plain_s": round(best_plain, 2),
        "with_store_s": round(best_stored, 2),
        "wall_overhead_pct": round(100 * (best_stored - best_plain) / best_plain, 1),
        "parent_storing_cpu_s": round(statistics.median(storing), 2),
        "parent_storing_wall_s": round(statistics.median(storing_wall), 2),
        "parent_storing_pct_of_plain": round(100 * statistics.median(storing_wall) / best_plain, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--gets", type=int, default=20_000)
    parser.add_argument("--postgres", default=None, metavar="URL")
    parser.add_argument("--batch-profiles", type=int, default=60_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--skip-insert", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    results: dict[str, Any] = {}
    records = demo_decisions(args.rows) if not args.skip_insert else []
    with tempfile.TemporaryDirectory(prefix="atomcast-store-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_insert:
            results["sqlite"] = measure_store(f"sqlite:///{work / 'bench.db'}", records, args)
            for url in postgres(args):
                results["postgresql"] = measure_store(url, records, args)
        if not args.skip_batch:
            results["batch"] = measure_batch(args, work)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    if "sqlite" in results:
        print(f"{args.rows:,} demo decisions, chunks of {args.chunk_size:,}:")
    for name in ("sqlite", "postgresql"):
        if name not in results:
            continue
        r = results[name]
        print(
            f"  {name:<10} insert {r['insert_rows_per_s']:>9,} rows/s   upsert "
            f"{r['upsert_rows_per_s']:>9,} rows/s   one call {r['one_call_rows_per_s']:>9,} "
            f"rows/s   get p50 {r['p50_us']} µs p99 {r['p99_us']} µs"
        )
    if "batch" in results:
        b = results["batch"]
        print(
            f"batch of {b['profiles']:,} demo profiles, {b['workers']} workers: "
            f"{b['plain_s']} s without --store, {b['with_store_s']} s with "
            f"(wall {b['wall_overhead_pct']:+}%); the parent spent "
            f"{b['parent_storing_wall_s']} s storing ({b['parent_storing_cpu_s']} s CPU), "
            f"{b['parent_storing_pct_of_plain']}% of the plain run"
        )


if __name__ == "__main__":
    main()
