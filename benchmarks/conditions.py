"""Benchmark: compiled conditions against growthbook's evalCondition on the same data.

Generates realistic conditions (1-5 clauses each, a mix of the operators editors use) and
schema-consistent profiles, times atomcast's compiled functions over every (condition,
profile) pair and growthbook on a subsample of the profiles, checks both agree, and prints
a table with the speed-up.

    python benchmarks/conditions.py [--profiles 100000] [--conditions 200] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from growthbook.core import evalCondition

from atomcast.conditions import compile_condition

LOCALES = ["en-US", "en-GB", "fr-FR", "fr-CA", "de-DE", "es-ES"]
TIERS = ["bronze", "silver", "gold", "platinum"]
INTERESTS = ["sailing", "golf", "hiking", "cooking", "travel", "running", "wine", "books"]
NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken"]
VERSIONS = ["1.9.2", "2.0.0", "2.1.0-beta.1", "2.1.0", "2.3.4", "3.0.0-rc.2"]
CHANNELS = ["email", "sms", "push", "web"]
SKUS = ["tee", "mug", "cap", "tote"]


def make_profile(rng: random.Random, index: int) -> dict[str, Any]:
    """A profile as validate_profile hands it on: declared attributes, some absent."""
    profile: dict[str, Any] = {"id": f"p-{index:07d}"}
    optional: dict[str, Callable[[], Any]] = {
        "first_name": lambda: rng.choice(NAMES),
        "locale": lambda: rng.choice(LOCALES),
        "tier": lambda: rng.choice(TIERS),
        "lifetime_value": lambda: round(rng.expovariate(1 / 800), 2),
        "cart_total": lambda: rng.choice([0, 0, 0, round(rng.uniform(1, 300), 2)]),
        "age": lambda: rng.randint(18, 90),
        "vip": lambda: rng.random() < 0.2,
        "last_purchase_at": lambda: (
            f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"
        ),
        "interests": lambda: rng.sample(INTERESTS, rng.randint(0, 4)),
        "consent": lambda: {ch: rng.random() < 0.7 for ch in CHANNELS if rng.random() < 0.9},
        "app_version": lambda: rng.choice(VERSIONS),
        "orders": lambda: [
            {"sku": rng.choice(SKUS), "qty": rng.randint(1, 5)} for _ in range(rng.randint(0, 3))
        ],
    }
    for name, make in optional.items():
        if rng.random() < 0.85:
            profile[name] = make()
    return profile


def make_clause(rng: random.Random) -> dict[str, Any]:
    """One attribute test, as an editor would write it."""
    kind = rng.randrange(16)
    if kind == 0:
        return {"lifetime_value": {"$gte": rng.choice([100, 500, 1000, 2500])}}
    if kind == 1:
        low = rng.choice([0, 50, 100])
        return {"cart_total": {"$gt": low, "$lte": low + rng.choice([50, 200])}}
    if kind == 2:
        return {"tier": rng.choice(TIERS)}
    if kind == 3:
        return {"locale": {"$in": rng.sample(LOCALES, rng.randint(1, 3))}}
    if kind == 4:
        return {"interests": {"$in": rng.sample(INTERESTS, rng.randint(1, 3))}}
    if kind == 5:
        return {f"consent.{rng.choice(CHANNELS)}": True}
    if kind == 6:
        return {"age": {"$gte": rng.randint(18, 40), "$lt": rng.randint(41, 80)}}
    if kind == 7:
        return {"vip": rng.random() < 0.5}
    if kind == 8:
        return {"last_purchase_at": {"$gte": f"2026-{rng.randint(1, 12):02d}-01T00:00:00Z"}}
    if kind == 9:
        return {"first_name": {"$exists": rng.random() < 0.7}}
    if kind == 10:
        return {"locale": {"$regex": rng.choice(["^fr", "^en-", "-(CA|GB)$"])}}
    if kind == 11:
        return {"app_version": {"$vgte": rng.choice(VERSIONS)}}
    if kind == 12:
        return {"tier": {"$nin": rng.sample(TIERS, 2)}}
    if kind == 13:
        return {"interests": {"$size": {"$gte": rng.randint(1, 3)}}}
    if kind == 14:
        return {"orders": {"$elemMatch": {"sku": rng.choice(SKUS), "qty": {"$gte": 2}}}}
    return {"tier": {"$ne": rng.choice(TIERS)}}


def make_condition(rng: random.Random) -> tuple[dict[str, Any], int]:
    """A condition of 1-5 clauses, sometimes grouped in $or or negated; with its size."""
    clauses = rng.randint(1, 5)
    parts = [make_clause(rng) for _ in range(clauses)]
    condition: dict[str, Any] = {}
    shape = rng.random()
    if clauses >= 3 and shape < 0.3:
        condition["$or"] = parts[:2]
        parts = parts[2:]
    elif clauses >= 2 and shape < 0.4:
        condition["$not"] = parts.pop()
    for part in parts:
        for key, value in part.items():
            if key in condition:  # the same attribute twice: keep both via $and
                condition.setdefault("$and", []).append({key: value})
            else:
                condition[key] = value
    return condition, clauses


def time_loop(fn: Callable[[Any, Any], Any], profiles: list[dict[str, Any]], arg: Any) -> int:
    """Nanoseconds for ``fn(profile, arg)`` over every profile: one call each, no wrapper."""
    start = time.perf_counter_ns()
    for profile in profiles:
        fn(profile, arg)
    return time.perf_counter_ns() - start


def time_calls(cc: Callable[[Any], Any], profiles: list[dict[str, Any]]) -> int:
    start = time.perf_counter_ns()
    for profile in profiles:
        cc(profile)
    return time.perf_counter_ns() - start


def noop(profile: Any, arg: Any) -> None:
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--conditions", type=int, default=200)
    parser.add_argument(
        "--growthbook-profiles",
        type=int,
        default=5_000,
        help="profiles per condition for growthbook (it is slower; scaled per evaluation)",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    profiles = [make_profile(rng, i) for i in range(args.profiles)]
    made = [make_condition(rng) for _ in range(args.conditions)]
    conditions = [c for c, _ in made]
    clauses = [n for _, n in made]
    segments: frozenset[str] = frozenset()
    sample = profiles[: min(args.growthbook_profiles, len(profiles))]

    start = time.perf_counter_ns()
    compiled = [compile_condition(c) for c in conditions]
    compile_ns = (time.perf_counter_ns() - start) / len(conditions)
    walked = sum(1 for c in compiled if not c.code)

    # Agreement first: a fast wrong answer is worth nothing.
    disagreements = sum(
        1
        for condition, cc in zip(conditions, compiled, strict=True)
        for profile in sample
        if cc.fn(profile, segments) is not evalCondition(profile, condition)
    )

    ours_ns = 0
    call_ns = 0
    gb_ns = 0
    matched = 0
    for condition, cc in zip(conditions, compiled, strict=True):
        ours_ns += time_loop(cc.fn, profiles, segments)
        call_ns += time_calls(cc, profiles)
        gb_ns += time_loop(evalCondition, sample, condition)
        matched += sum(1 for p in sample if cc.fn(p, segments))
    baseline_ns = time_loop(noop, profiles, segments) * len(conditions)

    ours_evals = len(profiles) * len(conditions)
    gb_evals = len(sample) * len(conditions)
    ours_clause_evals = len(profiles) * sum(clauses)
    gb_clause_evals = len(sample) * sum(clauses)

    def row(name: str, evals: int, clause_evals: int, total_ns: float) -> str:
        return (
            f"{name:<34}{evals:>13,}{total_ns / 1e9:>10.2f}"
            f"{total_ns / evals:>14.0f}{total_ns / clause_evals:>12.0f}"
        )

    print(
        f"{len(conditions)} conditions ({sum(clauses)} clauses, mean "
        f"{statistics.mean(clauses):.1f}, {walked} tree-walked), {len(profiles):,} profiles, "
        f"growthbook on {len(sample):,} of them"
    )
    print(f"compile: {compile_ns / 1000:.0f} µs per condition")
    print(f"match rate: {matched / gb_evals:.1%}; disagreements with growthbook: {disagreements}")
    print()
    print(f"{'engine':<34}{'evaluations':>13}{'total s':>10}{'ns/condition':>14}{'ns/clause':>12}")
    print(row("atomcast compiled (fn)", ours_evals, ours_clause_evals, ours_ns))
    print(row("atomcast compiled (__call__)", ours_evals, ours_clause_evals, call_ns))
    print(row("  loop + call overhead (no-op)", ours_evals, ours_clause_evals, baseline_ns))
    print(
        row(
            "  compiled, net of that overhead", ours_evals, ours_clause_evals, ours_ns - baseline_ns
        )
    )
    print(row("growthbook evalCondition", gb_evals, gb_clause_evals, gb_ns))
    speedup = (gb_ns / gb_evals) / (ours_ns / ours_evals)
    print("(ns/clause: total time over every clause written, short-circuited ones included)")
    print()
    print(f"speed-up over growthbook: {speedup:.1f}x")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
