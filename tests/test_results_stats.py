"""The statistics layer: equal to GrowthBook's gbstats to 1e-9, and honest in simulation.

gbstats is a dev dependency, used only here as the reference; atomcast computes with scipy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from atomcast.results.stats import (
    ArmStats,
    compare,
    minimum_detectable_effect,
    relative_test,
    sample_ratio,
    sample_size,
    variance,
)

gb_tests = pytest.importorskip("gbstats.frequentist.tests")
gb_stats = pytest.importorskip("gbstats.models.statistics")
gb_utils = pytest.importorskip("gbstats.utils")

TOLERANCE = 1e-9

#: (baseline, arm) as (n, sum, sum of squares) and the metric kind: fixed data.
CASES = [
    ((20_000, 800, 800), (20_500, 1_025, 1_025), "proportion"),
    ((90_102, 4_523, 4_523), (89_877, 5_012, 5_012), "proportion"),
    ((1_000, 37, 37), (1_013, 29, 29), "proportion"),
    ((5_000, 12_345.5, 612_034.25), (5_100, 13_901.25, 701_223.5), "mean"),
    ((300, 3_561.0, 98_213.0), (1_348, 16_179.0, 463_401.0), "mean"),
]


def _gb_statistic(n: int, total: float, squares: float, kind: str) -> object:
    if kind == "proportion":
        return gb_stats.ProportionStatistic(n=n, sum=total)
    return gb_stats.SampleMeanStatistic(n=n, sum=total, sum_squares=squares)


@pytest.mark.parametrize(("a", "b", "kind"), CASES)
def test_lift_ci_and_p_value_equal_gbstats(
    a: tuple[int, float, float], b: tuple[int, float, float], kind: str
) -> None:
    ours = compare(ArmStats(*a, kind), ArmStats(*b, kind))  # type: ignore[arg-type]
    reference = gb_tests.TwoSidedTTest(
        _gb_statistic(*a, kind), _gb_statistic(*b, kind)
    ).compute_result()
    assert ours.lift is not None
    assert ours.ci is not None
    assert ours.p_value is not None
    assert abs(ours.lift - reference.expected) < TOLERANCE
    assert abs(ours.ci[0] - reference.ci[0]) < TOLERANCE
    assert abs(ours.ci[1] - reference.ci[1]) < TOLERANCE
    assert abs(ours.p_value - reference.p_value) < TOLERANCE


@pytest.mark.parametrize(
    ("counts", "weights"),
    [
        ([90_102, 89_877, 20_021], [0.45, 0.45, 0.1]),
        ([10_000, 10_400], [0.5, 0.5]),
        ([1_000, 1_000, 1_000, 1_300], [1, 1, 1, 1]),
        ([5_000, 4_850, 540], [0.48, 0.48, 0.04]),
    ],
)
def test_sample_ratio_equals_gbstats(counts: list[int], weights: list[float]) -> None:
    names = [f"arm{i}" for i in range(len(counts))]
    ours = sample_ratio(
        dict(zip(names, counts, strict=True)), dict(zip(names, weights, strict=True))
    )
    assert abs(ours.p_value - gb_utils.check_srm(counts, weights)) < TOLERANCE


def test_degenerate_comparisons_say_why() -> None:
    zero = ArmStats(1_000, 0, 0, "proportion")
    some = ArmStats(1_000, 10, 10, "proportion")
    assert compare(zero, some).note is not None
    assert compare(zero, some).lift is None
    assert not compare(zero, some).significant
    assert compare(ArmStats(1, 1, 1, "mean"), some).note is not None
    flat = ArmStats(100, 500, 2_500, "mean")  # every profile 5.0: no variance
    assert compare(flat, ArmStats(100, 600, 3_700, "mean")).note is not None


def test_an_arm_nobody_configured_is_a_mismatch() -> None:
    check = sample_ratio({"a": 500, "b": 500, "c": 3}, {"a": 0.5, "b": 0.5})
    assert check.mismatch
    assert check.expected["c"] == 0


def _simulate(
    rng: np.random.Generator, runs: int, n: int, p_a: float, p_b: float
) -> tuple[np.ndarray, ...]:
    conversions_a = rng.binomial(n, p_a, size=runs).astype(np.float64)
    conversions_b = rng.binomial(n, p_b, size=runs).astype(np.float64)
    mean_a, mean_b = conversions_a / n, conversions_b / n
    var_a = variance("proportion", n, conversions_a, conversions_a)
    var_b = variance("proportion", n, conversions_b, conversions_b)
    return relative_test(n, mean_a, var_a, n, mean_b, var_b)  # type: ignore[return-value]


def test_simulated_95_percent_intervals_cover_the_true_lift() -> None:
    rng = np.random.default_rng(20260715)
    p_a, p_b, n = 0.05, 0.06, 20_000
    _, low, high, _ = _simulate(rng, 2_000, n, p_a, p_b)
    true_lift = (p_b - p_a) / p_a
    coverage = float(np.mean((low <= true_lift) & (true_lift <= high)))
    assert 0.94 <= coverage <= 0.96, coverage


def test_simulated_null_is_significant_about_five_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    _, _, _, p_values = _simulate(rng, 2_000, 20_000, 0.05, 0.05)
    rate = float(np.mean(np.asarray(p_values) < 0.05))
    assert 0.04 <= rate <= 0.06, rate


@pytest.mark.slow  # 2 x 10M simulated profiles; the binomial coverage above stays in test-fast
def test_simulated_revenue_metric_intervals_cover() -> None:
    # A skewed value metric (most profiles 0, buyers log-normal amounts): the delta method
    # still covers at this size.
    rng = np.random.default_rng(11)
    runs, n, p, scale = 2_000, 5_000, 0.1, 1.1
    mean_amount = math.exp(3 + scale**2 / 2)
    true_a, true_b = p * mean_amount, p * 1.2 * mean_amount
    lows, highs = [], []
    for share, out in ((p, "a"), (p * 1.2, "b")):
        buys = rng.random((runs, n)) < share
        amounts = np.where(buys, rng.lognormal(3, scale, (runs, n)), 0.0)
        total, squares = amounts.sum(axis=1), (amounts**2).sum(axis=1)
        if out == "a":
            a = (total / n, variance("mean", n, total, squares))
        else:
            b = (total / n, variance("mean", n, total, squares))
    _, low, high, _ = relative_test(n, a[0], a[1], n, b[0], b[1])
    lows, highs = np.asarray(low), np.asarray(high)
    true_lift = (true_b - true_a) / true_a
    coverage = float(np.mean((lows <= true_lift) & (true_lift <= highs)))
    assert 0.935 <= coverage <= 0.965, coverage


def test_plan_is_consistent_with_the_test() -> None:
    # At the minimum detectable effect, the sample needed for it is the sample given.
    mde = minimum_detectable_effect(0.05, 45_000, 45_000)
    assert mde is not None
    assert 0.08 < mde < 0.095  # about 2.8 standard errors of the relative lift
    needed = sample_size(0.05, mde, 0.45, 0.45)
    assert abs(needed - 100_000) <= 2
    # More profiles, smaller effects.
    smaller = minimum_detectable_effect(0.05, 450_000, 450_000)
    assert smaller is not None
    assert smaller < mde
    assert minimum_detectable_effect(0.9, 10, 10) is None
