"""Batch rendering benchmark: throughput, peak memory, and the ratio to a naive renderer.

Generates N synthetic profiles from the demo project's schema (deterministic seed, a
realistic mix of locales, segments and consent) into a temporary JSONL file, renders them
with ``atomcast.batch`` (every channel of the campaign) and prints:

- profiles per second (wall clock, the whole run: reading, rendering, writing, assembly);
- peak RSS: the parent (``RUSAGE_SELF``), the largest worker (``RUSAGE_CHILDREN``), and the
  peak of their *sum* sampled from ``/proc`` while the run goes;
- the ratio to a naive baseline that renders each profile from scratch in one process
  (Jinja compiled per profile, then ``mjml2html`` per profile), timed on a sample and
  extrapolated.

Usage::

    python benchmarks/batch.py                       # 200,000 profiles
    python benchmarks/batch.py --profiles 1000000    # 1M
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-07-15T12:00:00Z"

#: A long tail of first names, drawn with Zipf weights: a real CRM has thousands of names
#: and a few very common ones, which is what the renderer's memoisation meets in production.
_HEADS = [
    "Ma",
    "Sa",
    "Pri",
    "Da",
    "Ru",
    "Zo",
    "Ju",
    "Na",
    "A",
    "Li",
    "No",
    "O",
    "E",
    "Chlo",
    "Ma",
    "Lé",
    "Ja",
    "Ev",
    "Mi",
    "So",
    "Ka",
    "Jo",
    "Te",
    "Ro",
    "Ha",
    "Ni",
    "Be",
    "Clé",
]
_TAILS = [
    "rgaret",
    "m",
    "ya",
    "le",
    "th",
    "é",
    "lien",
    "dia",
    "mélie",
    "am",
    "ah",
    "livia",
    "mma",
    "é",
    "this",
    "a",
    "ck",
    "a",
    "a",
    "phie",
    "ren",
    "el",
    "ssa",
    "se",
    "nnah",
]
FIRST_NAMES = sorted({head + tail for head in _HEADS for tail in _TAILS})
random.Random(1).shuffle(FIRST_NAMES)
_NAME_WEIGHTS = [1 / (rank + 1) for rank in range(len(FIRST_NAMES))]
CITIES = [
    "Portland", "Camden", "Bar Harbor", "Halifax", "Boston", "Montréal", "Québec", "Paris",
    "Lyon", "Seattle", "Denver", "Burlington",
]  # fmt: skip
INTERESTS = [
    "hiking", "camping", "backpacking", "climbing", "kayaking", "canoeing", "trail-running",
    "home", "kitchen", "cabin-decor", "reading", "sailing", "fishing",
]  # fmt: skip
LOCALES = [("en-US", 0.68), ("fr-CA", 0.14), ("fr", 0.10), ("en-GB", 0.05), ("de-DE", 0.03)]
TIERS = [("none", 0.45), ("trail", 0.30), ("ridge", 0.17), ("summit", 0.08)]


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    point = rng.random()
    running = 0.0
    for value, weight in weighted:
        running += weight
        if point < running:
            return value
    return weighted[-1][0]


def synthetic_profile(rng: random.Random, index: int) -> dict[str, Any]:
    """One profile of the demo schema; the mix roughly follows a retailer's CRM."""
    profile: dict[str, Any] = {"id": f"p-{index:07d}", "locale": _pick(rng, LOCALES)}
    if rng.random() < 0.9:
        profile["first_name"] = rng.choices(FIRST_NAMES, _NAME_WEIGHTS)[0]
    if rng.random() < 0.8:
        profile["city"] = rng.choice(CITIES)
    vip = rng.random() < 0.12
    profile["lifetime_value"] = round(rng.uniform(1000, 6000) if vip else rng.uniform(0, 950), 2)
    profile["cart_total"] = round(rng.uniform(5, 400), 2) if rng.random() < 0.3 else 0
    orders = 0 if rng.random() < 0.15 else rng.randint(1, 40)
    profile["orders_count"] = orders
    if orders:
        year = rng.choice([2024, 2025, 2025, 2026, 2026, 2026])
        month = rng.randint(1, 12 if year < 2026 else 6)
        profile["last_purchase_at"] = f"{year}-{month:02d}-{rng.randint(1, 28):02d}T10:00:00Z"
    profile["signup_at"] = f"{rng.randint(2012, 2026)}-{rng.randint(1, 6):02d}-01T09:00:00Z"
    profile["loyalty_tier"] = _pick(rng, TIERS)
    profile["interests"] = rng.sample(INTERESTS, rng.randint(0, 4))
    profile["consent"] = {
        "email": rng.random() < 0.78,
        "sms": rng.random() < 0.32,
        "push": rng.random() < 0.48,
        "web": rng.random() < 0.88,
    }
    if rng.random() < 0.02:
        profile["medical_notes"] = "wide fit, high arch"
    return profile


def generate(path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for index in range(count):
            handle.write(json.dumps(synthetic_profile(rng, index), ensure_ascii=False) + "\n")


class RssSampler(threading.Thread):
    """The peak of parent + children RSS, sampled from /proc (no psutil needed)."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_kb = 0
        self.running = True

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
        me = os.getpid()
        while self.running:
            total = sum(self._rss_kb(pid) for pid in self._tree(me))
            self.peak_kb = max(self.peak_kb, total)
            time.sleep(self.interval)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak_kb


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (the workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def naive_render(project: Any, campaign: str, raws: list[Mapping[str, Any]]) -> float:
    """Seconds per profile when everything is done from scratch for each profile: Jinja
    environments and templates built per profile, MJML compiled per profile."""
    from mjml import mjml2html

    from atomcast.markdown import render_markdown
    from atomcast.schema import validate_profile
    from atomcast.selection import Selector, parse_instant
    from atomcast.templating import make_environment

    instant = parse_instant(AT)
    config = project.config.campaigns[campaign]
    layouts = {ch: project.layouts.get((ch, cfg.layout)) for ch, cfg in config.channels.items()}
    brand = project.config.brand.model_dump()
    started = time.perf_counter()
    for raw in raws:
        env = make_environment("text")
        profile = validate_profile(project.schema, raw)
        selection = Selector(project).select(profile, campaign, instant)
        context: dict[str, Any] = {
            "profile": profile.attributes,
            "brand": brand,
            "campaign": {"name": campaign, "description": config.description},
            "locale": profile.attributes.get("locale") or "en-US",
        }
        for channel, layout in layouts.items():
            if layout is None or selection.channels[channel].state != "ready":
                continue
            slots: dict[str, Any] = {}
            for slot, atom in selection.atoms_for(channel).items():
                if atom is None:
                    slots[slot] = None
                    continue
                view: dict[str, Any] = {"id": atom.id, "kind": atom.kind}
                for name, value in atom.fields.items():
                    view[name] = (
                        env.from_string(value).render(context) if isinstance(value, str) else value
                    )
                if atom.body is not None:
                    body = render_markdown(atom.body.source)
                    view["html"] = env.from_string(body.html).render(context)
                    view["text"] = env.from_string(body.text).render(context)
                view.setdefault("short", view.get("text") or view.get("title"))
                view.setdefault("url", view.get("src"))
                slots[slot] = view
            full = {**context, "slots": slots, "channel": channel, "unsubscribe_url": "u"}
            for part in layout.parts.values():
                try:
                    text = env.from_string(part.source).render(full)
                except Exception:
                    continue  # the naive path has no per-field fallbacks; it is only timed
                if channel == "email" and part is layout.parts.get("body"):
                    mjml2html(text, disable_comments=True)
    return (time.perf_counter() - started) / max(len(raws), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--format", default="jsonl", choices=["jsonl", "jsonl.gz", "parquet"])
    parser.add_argument("--seed", type=int, default=20260715)
    parser.add_argument("--baseline-sample", type=int, default=300)
    parser.add_argument("--campaign", default="summer-sale")
    parser.add_argument("--tmp", default=None, help="Folder for the input and output.")
    parser.add_argument("--keep", action="store_true", help="Keep the generated files.")
    args = parser.parse_args()

    from atomcast.batch import BatchJob, LogProgress
    from atomcast.project import load_project

    work = Path(tempfile.mkdtemp(prefix="atomcast-bench-", dir=args.tmp))
    try:
        source = work / "profiles.jsonl"
        started = time.perf_counter()
        generate(source, args.profiles, args.seed)
        print(
            f"generated {args.profiles:,} profiles ({source.stat().st_size / 1e6:,.0f} MB) "
            f"in {time.perf_counter() - started:.1f}s"
        )

        project = load_project(ROOT)
        job = BatchJob(project, args.campaign, at=AT)
        sampler = RssSampler()
        sampler.start()
        cpu_before = _cpu_seconds()
        started = time.perf_counter()
        report = job.run(
            source,
            work / "out",
            workers=args.workers,
            output_format=args.format,
            chunk_size=args.chunk_size,
            progress=LogProgress(interval=10.0),
        )
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds() - cpu_before
        peak_sum_mb = sampler.stop() / 1024
        parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        manifest = report.manifest
        rate = args.profiles / elapsed
        out_mb = report.rendered_path.stat().st_size / 1e6
        channels = manifest["channels"]
        counts = ", ".join(f"{name} {c['rendered']:,}" for name, c in channels.items())
        print(
            f"batch: {args.profiles:,} profiles x {len(channels)} channels "
            f"({counts} rendered) "
            f"in {elapsed:.1f}s with {args.workers} worker(s)"
        )
        print(f"  throughput      {rate:,.0f} profiles/s ({out_mb:,.0f} MB of {args.format})")
        print(f"  durations       {manifest['durations']}")
        cores = os.cpu_count() or 1
        print(
            f"  CPU             {cpu:,.1f} s (parent + workers) = {cpu / args.profiles * 1e6:,.0f} "
            f"us/profile; {cpu / (elapsed * cores):.0%} of {cores} cores; on {cores} idle cores "
            f"that is {args.profiles / cpu * cores:,.0f} profiles/s, 1M in "
            f"{1_000_000 * cpu / args.profiles / cores:,.0f} s"
        )
        print(
            f"  peak RSS        parent {parent_mb:,.0f} MB, largest worker {child_mb:,.0f} MB, "
            f"sum sampled {peak_sum_mb:,.0f} MB "
            f"(bound: parent + {args.workers} x worker = "
            f"{parent_mb + args.workers * child_mb:,.0f} MB)"
        )
        if args.profiles >= 1_000_000:
            print(f"  1M x 4 channels: {1_000_000 / rate:.1f}s (target < 90 s)")
        else:
            print(f"  1M x 4 channels at this rate: {1_000_000 / rate:.1f}s (target < 90 s)")

        rng = random.Random(args.seed + 1)
        sample = [synthetic_profile(rng, i) for i in range(args.baseline_sample)]
        per_profile = naive_render(project, args.campaign, sample)
        naive_rate = 1 / per_profile
        print(
            f"naive baseline: {per_profile * 1000:.2f} ms/profile = {naive_rate:,.0f} profiles/s "
            f"(sample of {args.baseline_sample}, one process)"
        )
        print(f"  ratio           {rate / naive_rate:,.1f}x the naive baseline (target >= 20x)")
    finally:
        if args.keep:
            print(f"files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
