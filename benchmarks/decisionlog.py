"""What the decision log (``OUT/decisions.parquet``) adds to a batch: time and size.

Whole process (the default): the same batch (``--workers`` processes, the demo project,
generated profiles) run as a separate Python process with and without the decision log,
alternating, ``--repeats`` times each; the overhead is the ratio of the best wall times (and
of the CPU time of the process tree). On a shared machine a single pair of runs can differ
by more than the effect: compare the best of several.

``--in-process`` measures the log's own work in one process instead: the same chunks
rendered into the ordinary sink and into the sink with the decision tap (CPU time,
interleaved, best of ``--repeats``), plus what the parent spends turning the parts into
the Parquet file (off the critical path: it happens while workers render).

Usage::

    python benchmarks/decisionlog.py --profiles 100000
    python benchmarks/decisionlog.py --profiles 100000 --in-process
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from atomcast.batch import BatchJob, ChunkStats
from atomcast.batch.decisionlog import DECISIONS, DecisionLog, DecisionTap, write_part
from atomcast.batch.formats import RenderedSink
from atomcast.batch.sinks import CommittedChunk, FinishedRun
from atomcast.batch.worker import RejectSink
from bench_profiles import synthetic_profiles

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-07-15T12:00:00Z"

CHILD = """
import sys
from pathlib import Path
from atomcast.batch.job import BatchJob, BatchOptions, run_batch
from atomcast.batch.progress import NullProgress
root, campaign, at, profiles, out, workers, log = sys.argv[1:]
job = BatchJob(root, campaign, at=at)
options = BatchOptions(workers=int(workers), decision_log=log == "1")
run_batch(job, Path(profiles), Path(out), options, NullProgress())
"""


def whole_process(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="atomcast-dlog-"))
    try:
        profiles = work / "profiles.jsonl"
        with open(profiles, "w", encoding="utf-8") as handle:
            for raw in synthetic_profiles(args.profiles):
                handle.write(json.dumps(raw) + "\n")
        times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        size = 0
        for _ in range(args.repeats):
            for log in (False, True):
                out = work / f"out-{int(log)}"
                shutil.rmtree(out, ignore_errors=True)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                command = [
                    sys.executable,
                    "-c",
                    CHILD,
                    str(ROOT),
                    args.campaign,
                    AT,
                    str(profiles),
                    str(out),
                    str(args.workers),
                    "1" if log else "0",
                ]
                subprocess.run(command, check=True)
                wall = time.perf_counter() - started
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                times[log].append((wall, cpu))
                if log:
                    size = (out / DECISIONS).stat().st_size
                print(f"  {'with' if log else 'without'} log: {wall:.2f} s wall, {cpu:.2f} s CPU")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = args.profiles
    plain_wall = min(w for w, _ in times[False])
    log_wall = min(w for w, _ in times[True])
    plain_cpu = min(c for _, c in times[False])
    log_cpu = min(c for _, c in times[True])
    print(f"profiles            {n:,}, {args.workers} workers, best of {args.repeats}")
    print(f"without the log     {plain_wall:.2f} s wall  {plain_cpu:.2f} s CPU")
    print(f"with the log        {log_wall:.2f} s wall  {log_cpu:.2f} s CPU")
    print(
        f"log overhead        {(log_wall / plain_wall - 1) * 100:+.1f} % wall  "
        f"{(log_cpu / plain_cpu - 1) * 100:+.1f} % CPU"
    )
    print(f"decisions.parquet   {size:,} bytes ({size / n:.1f} bytes/profile)")


def in_process(args: argparse.Namespace) -> None:
    job = BatchJob(ROOT, args.campaign, at=AT)
    profiles = list(synthetic_profiles(args.profiles))
    chunks = [
        [(i + 1, raw) for i, raw in enumerate(profiles[start : start + args.chunk_size], start)]
        for start in range(0, len(profiles), args.chunk_size)
    ]
    # Warm the renderer's memo tables so that neither variant pays for them.
    job.render_items(
        chunks[0],
        RenderedSink(io.BytesIO()),
        RejectSink(io.BytesIO(), job.encode),
        ChunkStats(index=0),
    )
    # As a batch worker does (worker.init_worker): the project stays out of the collector's way.
    gc.freeze()

    def run(tapped: bool, parts: Path | None) -> float:
        started = time.process_time()
        for index, items in enumerate(chunks):
            sink: RenderedSink = RenderedSink(io.BytesIO())
            if tapped:
                sink = DecisionTap(sink)
            job.render_items(
                items, sink, RejectSink(io.BytesIO(), job.encode), ChunkStats(index=index)
            )
            sink.close()
            if isinstance(sink, DecisionTap):
                data = sink.columns.to_bytes()
                if parts is not None:
                    write_part(parts, index, data)
        return time.process_time() - started

    plain: list[float] = []
    tapped: list[float] = []
    with tempfile.TemporaryDirectory(prefix="atomcast-dlog-") as tmp:
        parts = Path(tmp) / "parts"
        parts.mkdir()
        run(True, None)
        for _ in range(args.repeats):
            plain.append(run(False, None))
            tapped.append(run(True, parts))
        started = time.process_time()
        log = DecisionLog(Path(tmp), job.at)
        log.open(parts, 0)
        stats = ChunkStats()
        for index in range(len(chunks)):
            log.chunk_committed(CommittedChunk(index, stats, parts, parts, 0, 0))
        converted = time.process_time()
        log.finish(FinishedRun(len(chunks), stats, "0" * 64))
        closing = time.process_time() - converted
        sink_cpu = converted - started
        size = (Path(tmp) / DECISIONS).stat().st_size

    print("runs (plain, tapped):", [f"{a:.3f}/{b:.3f}" for a, b in zip(plain, tapped, strict=True)])
    best_plain, best_tapped = min(plain), min(tapped)
    n = args.profiles
    print(f"profiles            {n:,} in {len(chunks)} chunks of {args.chunk_size}")
    print(f"render (no log)     {best_plain:.3f} s CPU  ({n / best_plain:,.0f} profiles/s)")
    extra = (best_tapped / best_plain - 1) * 100
    print(f"render + log parts  {best_tapped:.3f} s CPU  ({extra:+.2f} %)")
    print(f"parent, per chunk   {sink_cpu:.3f} s CPU in all (while workers render)")
    print(f"parent, at the end  {closing:.3f} s CPU (close, fill in the content fingerprint)")
    print(f"decisions.parquet   {size:,} bytes ({size / n:.1f} bytes/profile)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--campaign", default="summer-sale")
    parser.add_argument("--in-process", action="store_true", help="CPU of the log's own work.")
    args = parser.parse_args()
    if args.in_process:
        in_process(args)
    else:
        whole_process(args)


if __name__ == "__main__":
    main()
