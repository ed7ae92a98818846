"""``atomcast results`` at scale: 1M decisions x 5M events, whole process time and peak RSS.

Generates (vectorised, seeded) a decision log of ``--profiles`` rows in the batch's schema
and ``--events`` outcome events (purchases with an amount, clicks, a few bad records, some
of unknown profiles), then runs ``atomcast results --json`` in a fresh process per events
format and reports its wall time and peak RSS (``RUSAGE_CHILDREN``).

Usage::

    python benchmarks/results.py                               # 1M x 5M, Parquet and JSONL
    python benchmarks/results.py --profiles 100000 --events 500000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from atomcast.batch.decisionlog import decision_schema

ROOT = Path(__file__).resolve().parent.parent
AT = np.datetime64("2026-07-15T12:00:00", "us")


def _text_map(keys: list[str], values: pa.Array, count: int) -> pa.Array:
    width = len(keys)
    offsets = pa.array(np.arange(0, (count + 1) * width, width, dtype=np.int32))
    key_array = pa.array(np.tile(np.array(keys, dtype=object), count), pa.string())
    return pa.MapArray.from_arrays(offsets, key_array, values)


def decision_log(path: Path, count: int, rng: np.random.Generator) -> None:
    ids = np.char.add("p-", np.arange(count).astype(str))
    bucket = rng.random(count)
    arms = np.where(bucket < 0.1, "holdout", np.where(bucket < 0.55, "a", "b"))
    headlines = np.where(
        arms == "holdout", "headline-summer", np.char.add("headline-summer-", arms)
    )
    offers = rng.choice(["offer-vip-30", "offer-free-shipping", "offer-big-cart-25"], count)
    segment_pool = np.array(["vip", "outdoors", "lapsed", "cart_abandoner"], dtype=object)
    picks = rng.random((count, 2)) < 0.3
    segments = [list(segment_pool[:2][row]) for row in picks]
    decisions = np.empty(count * 2, dtype=object)
    decisions[0::2], decisions[1::2] = headlines, offers
    table = pa.table(
        [
            pa.array(ids, pa.string()),
            pa.array(np.full(count, "summer-sale"), pa.string()),
            pa.array(np.full(count, AT), pa.timestamp("us", tz="UTC")),
            pa.array(segments, pa.list_(pa.string())),
            _text_map(["headline-test"], pa.array(arms, pa.string()), count),
            _text_map(["headline", "offer"], pa.array(decisions, pa.string()), count),
            _text_map(["email"], pa.array(np.full(count, "rendered"), pa.string()), count),
            pa.array(np.full(count, "0" * 64), pa.string()),
        ],
        schema=decision_schema(),
    )
    pq.write_table(table, path, row_group_size=2000, compression="zstd")


def events(path: Path, profiles: int, count: int, rng: np.random.Generator) -> None:
    who = rng.integers(0, int(profiles * 1.01), count)  # about 1% of unknown profiles
    ids = np.char.add("p-", who.astype(str))
    kinds = rng.choice(np.array(["purchase", "click", "open"]), count, p=[0.2, 0.3, 0.5])
    seconds = rng.integers(-86_400, 10 * 86_400, count)
    at = AT + seconds.astype("timedelta64[s]")
    amount = np.round(rng.exponential(45.0, count), 2)
    table = pa.table(
        {
            "profile_id": pa.array(ids, pa.string()),
            "event": pa.array(kinds, pa.string()),
            "at": pa.array(at, pa.timestamp("us", tz="UTC")),
            "amount": pa.array(amount, pa.float64()),
        }
    )
    pq.write_table(table, path, compression="zstd")


def to_jsonl(parquet: Path, target: Path) -> None:
    import duckdb

    duckdb.sql(
        f'COPY (SELECT profile_id, event, strftime("at", \'%Y-%m-%dT%H:%M:%SZ\') AS "at", '
        f"amount FROM read_parquet('{parquet}')) TO '{target}' (FORMAT JSON)"
    )
    with open(target, "a", encoding="utf-8") as handle:
        handle.write('{"profile_id": "p-1", "event": "purchase"\n')  # a bad record or two
        handle.write('{"profile_id": "p-2", "event": "purchase", "at": "soon"}\n')


#: Runs the CLI and reports the process's own peak RSS (``VmHWM``: its memory's high-water
#: mark). ``ru_maxrss`` would not do: Linux carries it over ``fork`` and ``exec``, so it
#: would count this (large) generator process that the CLI was forked from.
LAUNCH = (
    "import atexit, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            print('maxrss_kb', line.split()[1], file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "from atomcast.cli import main\n"
    "sys.argv[0] = 'atomcast'\n"
    "main()\n"
)


def run(out: Path, events_file: Path) -> tuple[float, float, float, dict[str, int]]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            LAUNCH,
            "results",
            str(ROOT),
            "-c",
            "summer-sale",
            "-d",
            str(out),
            "-e",
            str(events_file),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    peak_kb = next(
        int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("maxrss_kb")
    )
    return seconds, cpu, peak_kb / 1024, json.loads(done.stdout)["events"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--formats", default="parquet,jsonl")
    parser.add_argument("--seed", type=int, default=20260715)
    parser.add_argument(
        "--work", type=Path, default=None, help="Keep the generated files here and reuse them."
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="atomcast-results-bench-") as tmp:
        work = args.work or Path(tmp)
        out = work / "out"
        out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        if not (out / "decisions.parquet").exists() or not (work / "events.parquet").exists():
            decision_log(out / "decisions.parquet", args.profiles, rng)
            events(work / "events.parquet", args.profiles, args.events, rng)
        if "jsonl" in args.formats and not (work / "events.jsonl").exists():
            to_jsonl(work / "events.parquet", work / "events.jsonl")
        print(f"generated in {time.perf_counter() - started:.1f} s")
        for fmt in args.formats.split(","):
            seconds, cpu, peak_mb, counts = run(out, work / f"events.{fmt}")
            print(
                f"{args.profiles:,} decisions x {args.events:,} events ({fmt}): "
                f"{seconds:.2f} s wall, {cpu:.2f} s CPU, peak RSS {peak_mb:,.0f} MB; "
                f"events {counts}"
            )


if __name__ == "__main__":
    main()
