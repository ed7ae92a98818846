"""What the decision log (``OUT/decisions.parquet``) adds to a batch: time and size.

On a shared machine two whole batch runs differ by more than the few percent being measured,
so this measures the log's own work in one process, on the real renderer: the same chunks
rendered into the ordinary sink and into the sink with the decision tap (CPU time,
interleaved, best of ``--repeats``), plus the final assembly of the parts. The overhead is
``(tapped - plain + assembly) / plain``: an upper bound for a whole batch, whose time also
has reading, writing and process hand-offs that the log does not add to.

Usage::

    python benchmarks/decisionlog.py                  # 20,000 profiles
    python benchmarks/decisionlog.py --profiles 100000
"""

from __future__ import annotations

import argparse
import gc
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from atomcast.batch import BatchJob, ChunkStats
from atomcast.batch.decisionlog import DECISIONS, DecisionTap, assemble, write_part
from atomcast.batch.engine import RejectSink
from atomcast.batch.parts import RenderedSink
from bench_profiles import synthetic_profiles

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-07-15T12:00:00Z"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--campaign", default="summer-sale")
    args = parser.parse_args()

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
    # As a batch worker does (engine.init_worker): the project stays out of the collector's way.
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
        run(True, None)  # imports pyarrow.parquet, as a worker's first chunk does
        for _ in range(args.repeats):
            plain.append(run(False, None))
            tapped.append(run(True, parts))
        started = time.process_time()
        assemble(parts, len(chunks), Path(tmp), at=job.at, content="0" * 64)
        assembly = time.process_time() - started
        size = (Path(tmp) / DECISIONS).stat().st_size

    print("runs (plain, tapped):", [f"{a:.3f}/{b:.3f}" for a, b in zip(plain, tapped, strict=True)])
    best_plain, best_tapped = min(plain), min(tapped)
    overhead = (best_tapped - best_plain + assembly) / best_plain
    n = args.profiles
    print(f"profiles            {n:,} in {len(chunks)} chunks of {args.chunk_size}")
    print(f"render (no log)     {best_plain:.3f} s CPU  ({n / best_plain:,.0f} profiles/s)")
    print(f"render + log parts  {best_tapped:.3f} s CPU")
    print(f"assembly            {assembly:.3f} s CPU")
    print(f"log overhead        {overhead * 100:.2f} %")
    print(f"decisions.parquet   {size:,} bytes ({size / n:.1f} bytes/profile)")


if __name__ == "__main__":
    main()
