"""Batch benchmark that cannot flatter: atomcast vs a fair naive pipeline vs the I/O floor.

In one run, on one content project and one set of generated profiles:

1. **atomcast**: ``atomcast batch`` as a whole process (interpreter start-up, imports,
   project load, workers, rendering, writing, assembly, fsync), wall time, CPU time of the
   process tree, peak RSS of parent + workers (sum sampled from ``/proc``) and of the largest
   single process (``wait4``);
2. **naive**: ``benchmarks/naive_pipeline.py`` as a whole process with the same number of
   workers: templates compiled once, Markdown and MJML per profile, same channels, same
   record shape written (see that file). On all N profiles by default; with
   ``--naive-sample S`` on the first S only, extrapolated from two runs (S and S/10) so that
   start-up is counted once, not scaled;
3. **floor**: ``benchmarks/io_floor.py`` writing as many bytes as atomcast's
   ``rendered.jsonl``, once, with ``fdatasync``, as a whole process;

then the ratios naive / atomcast and atomcast / floor. Before them, the fixed costs:
``atomcast --help`` and ``atomcast batch`` of 10 profiles (median of ``--startup-runs``).
With ``--rounds K`` the three steps run K times back to back: the ratios are those of each
side's best run (the least disturbed, as ``timeit`` takes it), and the median round's
ratios are printed beside them.

Projects: ``demo`` (this repository, summer-sale), ``pantry``
(``benchmarks/content/pantry``, weekly-box), or a path (its first campaign unless
``--campaign``). Profiles are generated with a fixed seed (``benchmarks/bench_profiles.py``).

Usage::

    python benchmarks/batch.py --project pantry --profiles 60000 --workers 2
    python benchmarks/batch.py --project demo --profiles 200000 --json

On a shared machine, compare within one run: other work slows every step of it, the
ratios less than the absolute times. The load average before and after is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_profiles import generator_for, write_profiles  # noqa: E402

PROJECTS = {
    "demo": (ROOT, "summer-sale", "2026-07-15T12:00:00Z"),
    "pantry": (HERE / "content" / "pantry", "weekly-box", "2026-03-10T12:00:00Z"),
}


def _atomcast_command() -> list[str]:
    script = Path(sys.executable).with_name("atomcast")
    return [str(script)] if script.exists() else [sys.executable, "-m", "atomcast"]


@dataclass(frozen=True, slots=True)
class Measured:
    """One whole process: wall clock from spawn to exit, and what the kernel counted."""

    wall_s: float
    cpu_s: float
    peak_tree_mb: float
    largest_process_mb: float
    stdout: str
    #: Proportional set size: pages shared by forked workers counted once, not per process.
    peak_tree_pss_mb: float = 0.0


class TreeSampler(threading.Thread):
    """The peaks of the summed RSS and PSS of a process and all its descendants, from /proc.

    The RSS sum counts a page shared by forked workers once per process; the PSS sum shares
    it out, so it is what the tree really holds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.peak_pss_kb = 0
        self.running = True

    @staticmethod
    def _pss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        return int(line.split()[1])
        except OSError:
            return 0
        return 0

    @staticmethod
    def _rss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return 0
        return 0

    def _tree(self, pid: int) -> list[int]:
        found = [pid]
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return found
        for child in children:
            found.extend(self._tree(int(child)))
        return found

    def run(self) -> None:
        while self.running:
            tree = self._tree(self.pid)
            self.peak_kb = max(self.peak_kb, sum(self._rss_kb(pid) for pid in tree))
            self.peak_pss_kb = max(self.peak_pss_kb, sum(self._pss_kb(pid) for pid in tree))
            time.sleep(self.interval)

    def stop(self) -> float:
        self.running = False
        self.join()
        return self.peak_kb / 1024


def run_process(command: list[str], *, sample: bool = True) -> Measured:
    """Run ``command`` to the end; its rusage comes from ``wait4`` (the process and the
    descendants it waited for), not from this process's cumulative RUSAGE_CHILDREN."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT)
        sampler = TreeSampler(process.pid)
        if sample:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        peak = sampler.stop() if sample else 0.0
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        if process.returncode != 0:
            message = err.read().decode("utf-8", "replace")[-2000:]
            raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{message}")
    return Measured(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_tree_mb=peak,
        largest_process_mb=usage.ru_maxrss / 1024,
        stdout=stdout,
        peak_tree_pss_mb=sampler.peak_pss_kb / 1024,
    )


@dataclass(frozen=True, slots=True)
class Round:
    """atomcast, the naive pipeline and the I/O floor, measured one after the other."""

    mine: Measured
    out_bytes: int
    counts: dict[str, int]
    naive_wall: float
    naive_cpu: float
    naive_bytes: float
    naive_peak: float
    how: str
    floor_wall: float


def _round(
    args: argparse.Namespace,
    batch: list[str],
    naive: list[str],
    source: Path,
    work: Path,
    count: int,
    say: Any,
) -> Round:
    out_dir = work / "atomcast"
    mine = run_process([*batch, "-p", str(source), "-o", str(out_dir)])
    rendered = out_dir / ("rendered." + args.format)
    out_bytes = rendered.stat().st_size
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    counts = {name: c["rendered"] for name, c in manifest["channels"].items()}
    shutil.rmtree(out_dir)
    say(
        f"atomcast batch  {mine.wall_s:7.1f}s wall  {mine.cpu_s:7.1f}s CPU  "
        f"{count / mine.wall_s:8,.0f} profiles/s  peak RSS {mine.peak_tree_mb:,.0f} MB, "
        f"PSS {mine.peak_tree_pss_mb:,.0f} MB "
        f"(parent + workers; largest process {mine.largest_process_mb:,.0f} MB)  "
        f"{out_bytes / 1e6:,.0f} MB written; rendered {counts}"
    )

    naive_wall = naive_cpu = naive_bytes = naive_peak = 0.0
    how = "skipped"
    if args.naive_sample == 0:
        say("naive pipeline  skipped (--naive-sample 0)")
    else:
        naive_out = work / "naive.jsonl"
        if args.naive_sample and args.naive_sample < count:
            small = max(args.naive_sample // 10, 1)
            part = run_process(
                [*naive, "-p", str(source), "-o", str(naive_out), "--limit", str(small)]
            )
            limit = str(args.naive_sample)
            whole = run_process([*naive, "-p", str(source), "-o", str(naive_out), "--limit", limit])
            per_profile = (whole.wall_s - part.wall_s) / (args.naive_sample - small)
            naive_wall = part.wall_s + per_profile * (count - small)
            cpu_per = (whole.cpu_s - part.cpu_s) / (args.naive_sample - small)
            naive_cpu = part.cpu_s + cpu_per * (count - small)
            naive_bytes = naive_out.stat().st_size * count / args.naive_sample
            how = f"extrapolated from {args.naive_sample:,} and {small:,} profiles"
            naive_run = whole
        else:
            naive_run = run_process([*naive, "-p", str(source), "-o", str(naive_out)])
            naive_wall, naive_cpu = naive_run.wall_s, naive_run.cpu_s
            naive_bytes = naive_out.stat().st_size
            how = f"all {count:,} profiles"
        naive_out.unlink()
        naive_peak = naive_run.peak_tree_mb
        say(
            f"naive pipeline  {naive_wall:7.1f}s wall  {naive_cpu:7.1f}s CPU  "
            f"{count / naive_wall:8,.0f} profiles/s  peak RSS {naive_peak:,.0f} MB  "
            f"{naive_bytes / 1e6:,.0f} MB written ({how})"
        )

    floor = run_process(
        [sys.executable, str(HERE / "io_floor.py"), "--bytes", str(out_bytes), "--out",
         str(work / "floor.bin")]
    )  # fmt: skip
    (work / "floor.bin").unlink()
    say(f"I/O floor       {floor.wall_s:7.1f}s wall  ({out_bytes / 1e6:,.0f} MB, fdatasync)")
    return Round(
        mine, out_bytes, counts, naive_wall, naive_cpu, naive_bytes, naive_peak, how, floor.wall_s
    )


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="demo", help="demo, pantry, or a project folder")
    parser.add_argument("--campaign", default=None)
    parser.add_argument("--at", default=None, help="Instant (ISO 8601) for date windows.")
    parser.add_argument("--profiles", type=int, default=60_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20260715)
    parser.add_argument(
        "--format", default="jsonl", choices=["jsonl", "jsonl.gz", "jsonl.zst", "parquet"]
    )
    parser.add_argument(
        "--naive-sample", type=int, default=None, help="Extrapolate naive (0: skip it)."
    )
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="Run atomcast, naive and floor this many times, back to back; ratios of the "
        "best of each, and the median round's.",
    )
    parser.add_argument("--tmp", default=None, help="Folder for the generated files.")
    parser.add_argument("--keep", action="store_true", help="Keep the generated files.")
    parser.add_argument("--json", action="store_true", help="A JSON summary on stdout.")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")

    from atomcast.project import load_project

    say_to = sys.stderr if args.json else sys.stdout

    def say(text: str) -> None:
        print(text, file=say_to, flush=True)

    if args.project in PROJECTS:
        project_dir, campaign, at = PROJECTS[args.project]
    else:
        project_dir, campaign, at = Path(args.project).resolve(), None, None
    project = load_project(project_dir)
    campaign = args.campaign or campaign or next(iter(project.config.campaigns))
    at = args.at or at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    count = args.profiles
    load_before = _load()
    work = Path(tempfile.mkdtemp(prefix="atomcast-bench-", dir=args.tmp))
    try:
        source = work / "profiles.jsonl"
        started = time.perf_counter()
        write_profiles(source, generator_for(args.project, project.schema), count, args.seed)
        say(
            f"project {args.project} ({project_dir}), campaign {campaign}, at {at}: "
            f"{count:,} profiles ({source.stat().st_size / 1e6:,.0f} MB) generated in "
            f"{time.perf_counter() - started:.1f}s; {args.workers} workers; "
            f"{os.cpu_count()} CPUs, load {load_before}"
        )
        atomcast = _atomcast_command()
        batch = [*atomcast, "batch", str(project_dir), "-c", campaign, "--at", at]
        batch += ["-w", str(args.workers), "--progress", "none", "--format", args.format]

        # Untimed warm-up: image renditions into the project's disk cache, files into the
        # page cache, for both sides alike.
        tiny = work / "tiny.jsonl"
        with open(source, encoding="utf-8") as handle, open(tiny, "w", encoding="utf-8") as out:
            out.writelines(line for _, line in zip(range(10), handle, strict=False))
        run_process([*batch, "-p", str(tiny), "-o", str(work / "warm")], sample=False)
        naive = [sys.executable, str(HERE / "naive_pipeline.py"), str(project_dir)]
        naive += ["-c", campaign, "--at", at, "-w", str(args.workers)]
        run_process([*naive, "-p", str(tiny), "-o", str(work / "warm.jsonl")], sample=False)

        startup: dict[str, float] = {}
        if args.startup_runs > 0:
            helps = [run_process([*atomcast, "--help"]) for _ in range(args.startup_runs)]
            tinies = [
                run_process([*batch, "-p", str(tiny), "-o", str(work / f"tiny-{run}")])
                for run in range(args.startup_runs)
            ]
            startup = {
                "help_wall_s": statistics.median(m.wall_s for m in helps),
                "help_cpu_s": statistics.median(m.cpu_s for m in helps),
                "batch_10_wall_s": statistics.median(m.wall_s for m in tinies),
                "batch_10_cpu_s": statistics.median(m.cpu_s for m in tinies),
            }
            say(
                f"fixed costs (median of {args.startup_runs}): atomcast --help "
                f"{startup['help_wall_s']:.2f}s wall {startup['help_cpu_s']:.2f}s CPU; "
                f"atomcast batch of 10 profiles {startup['batch_10_wall_s']:.2f}s wall "
                f"{startup['batch_10_cpu_s']:.2f}s CPU"
            )

        rounds = [_round(args, batch, naive, source, work, count, say) for _ in range(args.rounds)]
        # Each side's least disturbed run (the minimum, as timeit takes it) and the median
        # of the rounds; every round ran all three steps back to back.
        mine = min((r.mine for r in rounds), key=lambda m: m.cpu_s)
        out_bytes, counts = rounds[0].out_bytes, rounds[0].counts
        naive_wall = min(r.naive_wall for r in rounds)
        naive_cpu = min(r.naive_cpu for r in rounds)
        naive_bytes, naive_peak, how = rounds[0].naive_bytes, rounds[0].naive_peak, rounds[0].how
        floor_wall = min(r.floor_wall for r in rounds)
        mine_wall = min(r.mine.wall_s for r in rounds)
        if args.rounds > 1:
            say(
                f"best of {args.rounds} rounds: atomcast {mine_wall:.1f}s wall "
                f"{mine.cpu_s:.1f}s CPU; naive {naive_wall:.1f}s wall {naive_cpu:.1f}s CPU; "
                f"floor {floor_wall:.1f}s"
            )
        load_after = _load()
        ratios: dict[str, float] = {
            "naive_over_atomcast_wall": naive_wall / mine_wall,
            "naive_over_atomcast_cpu": naive_cpu / mine.cpu_s,
            "atomcast_over_floor_wall": mine_wall / floor_wall,
        }
        if args.rounds > 1 and args.naive_sample != 0:
            ratios["median_round_naive_over_atomcast_wall"] = statistics.median(
                r.naive_wall / r.mine.wall_s for r in rounds
            )
            ratios["median_round_naive_over_atomcast_cpu"] = statistics.median(
                r.naive_cpu / r.mine.cpu_s for r in rounds
            )
        if args.naive_sample == 0:
            floor_ratio = ratios["atomcast_over_floor_wall"]
            say(f"ratios          atomcast is {floor_ratio:.2f}x its I/O floor")
        else:
            say(
                f"ratios          atomcast is {ratios['naive_over_atomcast_wall']:.1f}x faster "
                f"than the naive pipeline (wall; {ratios['naive_over_atomcast_cpu']:.1f}x in "
                f"CPU time) and {ratios['atomcast_over_floor_wall']:.2f}x its I/O floor"
            )
            if args.rounds > 1:
                say(
                    f"median round    {ratios['median_round_naive_over_atomcast_wall']:.1f}x "
                    f"wall, {ratios['median_round_naive_over_atomcast_cpu']:.1f}x CPU"
                )
        say(f"load average    before {load_before}, after {load_after}")
        if args.json:
            summary: dict[str, Any] = {
                "project": args.project,
                "campaign": campaign,
                "at": at,
                "profiles": count,
                "workers": args.workers,
                "format": args.format,
                "cpus": os.cpu_count(),
                "load_before": load_before,
                "load_after": load_after,
                "startup": startup,
                "atomcast": {**asdict(mine), "bytes": out_bytes, "rendered": counts},
                "naive": {
                    "wall_s": naive_wall,
                    "cpu_s": naive_cpu,
                    "peak_tree_mb": naive_peak,
                    "bytes": naive_bytes,
                    "how": how,
                },
                "floor": {"wall_s": floor_wall, "bytes": out_bytes},
                "ratios": ratios,
                "rounds": [
                    {
                        "atomcast_wall_s": r.mine.wall_s,
                        "atomcast_cpu_s": r.mine.cpu_s,
                        "naive_wall_s": r.naive_wall,
                        "naive_cpu_s": r.naive_cpu,
                        "floor_wall_s": r.floor_wall,
                    }
                    for r in rounds
                ],
            }
            summary["atomcast"].pop("stdout")
            print(json.dumps(summary, indent=2))
    finally:
        if args.keep:
            say(f"files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
