"""The statistics of ``atomcast results``: GrowthBook's frequentist engine, re-derived.

Each arm is summarised by ``n``, the sum and the sum of squares of the per-profile metric
value. A binary metric (converted or not) is a *proportion*: its variance is ``p (1 - p)``;
a value metric (revenue) is a *sample mean* with the ``n - 1`` variance. An arm ``b`` is
compared with a baseline ``a`` on the relative lift ``(mean_b - mean_a) / mean_a``; its
variance comes from the delta method,

    var = var_b / (mean_a² n_b) + var_a mean_b² / (mean_a⁴ n_a),

and the test is Welch's t with Welch-Satterthwaite degrees of freedom, two-sided, alpha
0.05: exactly ``gbstats.frequentist.tests.TwoSidedTTest`` with ``difference_type
"relative"`` (the tests prove agreement to 1e-9). Where gbstats declines to compute (a
baseline mean of zero, a variance of zero) the comparison says why instead of inventing
numbers.

The sample-ratio check is a chi-square goodness of fit of the arm counts against the
configured split (``gbstats.utils.check_srm``).

Every function here works on scalars and, elementwise, on numpy arrays: the coverage
simulation runs thousands of experiments in one call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

Kind = Literal["proportion", "mean"]
FloatArray = npt.NDArray[np.float64]
ArrayLike = float | FloatArray

ALPHA = 0.05
#: ``srm.mismatch`` when the chi-square p-value is below this (GrowthBook's threshold).
SRM_THRESHOLD = 0.001
POWER = 0.8

BASELINE_ZERO = "the baseline's mean is zero: a relative lift is undefined"
ZERO_VARIANCE = "an arm has no variance (every profile has the same value)"
TOO_FEW = "an arm has fewer than two profiles"


@dataclass(frozen=True, slots=True)
class ArmStats:
    """What the join hands over for one arm and metric."""

    n: int
    sum: float
    sum_squares: float
    kind: Kind

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        return float(variance(self.kind, self.n, self.sum, self.sum_squares))


def variance(kind: Kind, n: ArrayLike, total: ArrayLike, squares: ArrayLike) -> ArrayLike:
    """The per-profile variance of an arm: ``p (1 - p)`` for a proportion, the ``n - 1``
    sample variance for a mean (0 with fewer than two profiles, like gbstats)."""
    n_arr = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n_arr > 0, np.asarray(total, dtype=np.float64) / n_arr, 0.0)
        if kind == "proportion":
            result = mean * (1 - mean)
        else:
            result = np.where(
                n_arr > 1,
                (np.asarray(squares, dtype=np.float64) - np.asarray(total) ** 2 / n_arr)
                / (n_arr - 1),
                0.0,
            )
    return float(result) if np.ndim(result) == 0 else result


@dataclass(frozen=True, slots=True)
class Comparison:
    """An arm against a baseline: relative lift, its two-sided CI, and the p-value.

    ``lift``, ``ci`` and ``p_value`` are ``None`` when ``note`` says why they cannot be
    computed.
    """

    lift: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    note: str | None = None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA


def relative_test(
    n_a: ArrayLike,
    mean_a: ArrayLike,
    var_a: ArrayLike,
    n_b: ArrayLike,
    mean_b: ArrayLike,
    var_b: ArrayLike,
    alpha: float = ALPHA,
) -> tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike]:
    """``(lift, ci_low, ci_high, p_value)`` of b against a, elementwise.

    No guard against degenerate input (a zero baseline mean, a zero variance): the caller
    decides (:func:`compare` reports why; the simulation never meets them).
    """
    n_a, mean_a, var_a = (np.asarray(x, dtype=np.float64) for x in (n_a, mean_a, var_a))
    n_b, mean_b, var_b = (np.asarray(x, dtype=np.float64) for x in (n_b, mean_b, var_b))
    lift = (mean_b - mean_a) / mean_a
    var = var_b / (mean_a**2 * n_b) + var_a * mean_b**2 / (mean_a**4 * n_a)
    se = np.sqrt(var)
    dof = (var_b / n_b + var_a / n_a) ** 2 / (
        var_b**2 / (n_b**2 * (n_b - 1)) + var_a**2 / (n_a**2 * (n_a - 1))
    )
    # 2 * (1 - cdf) as gbstats writes it: sf would differ in the last digits for tiny p.
    p_value = 2 * (1 - sps.t.cdf(np.abs(lift / se), dof))
    width = sps.t.ppf(1 - alpha / 2, dof) * se
    values = (lift, lift - width, lift + width, p_value)
    if np.ndim(lift) == 0:
        return tuple(float(v) for v in values)  # type: ignore[return-value]
    return values


def compare(baseline: ArmStats, arm: ArmStats, alpha: float = ALPHA) -> Comparison:
    """``arm`` against ``baseline`` on the relative lift (gbstats' TwoSidedTTest)."""
    if baseline.n < 2 or arm.n < 2:
        return Comparison(None, None, None, TOO_FEW)
    if baseline.mean == 0:
        return Comparison(None, None, None, BASELINE_ZERO)
    if baseline.variance <= 0 or arm.variance <= 0:
        return Comparison(None, None, None, ZERO_VARIANCE)
    lift, low, high, p_value = relative_test(
        baseline.n,
        baseline.mean,
        baseline.variance,
        arm.n,
        arm.mean,
        arm.variance,
        alpha,
    )
    return Comparison(float(lift), (float(low), float(high)), float(p_value))


@dataclass(frozen=True, slots=True)
class SampleRatio:
    """The chi-square check of the observed arm sizes against the configured split."""

    p_value: float
    expected: dict[str, float]
    observed: dict[str, int]

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_THRESHOLD


def sample_ratio(observed: Mapping[str, int], expected: Mapping[str, float]) -> SampleRatio:
    """Chi-square goodness of fit of ``observed`` counts to the ``expected`` shares.

    An arm observed but not configured has an expected share of 0: any profile in it is a
    mismatch (p = 0), since the split cannot have put it there.
    """
    names = list(expected) + [name for name in observed if name not in expected]
    counts = {name: int(observed.get(name, 0)) for name in names}
    total = sum(counts.values())
    weight = sum(expected.values())
    shares = {name: expected.get(name, 0.0) / weight if weight > 0 else 0.0 for name in names}
    if total == 0:
        return SampleRatio(1.0, shares, counts)
    if any(counts[name] > 0 and shares[name] <= 0 for name in names):
        return SampleRatio(0.0, shares, counts)
    statistic = 0.0
    for name in names:
        if shares[name] > 0:
            e = shares[name] * total
            statistic += (counts[name] - e) ** 2 / e
    dof = len(names) - 1
    p_value = float(sps.chi2.sf(statistic, dof)) if dof > 0 else 1.0
    return SampleRatio(p_value, shares, counts)


# --- planning -----------------------------------------------------------------------------


def _z(alpha: float, power: float) -> float:
    return float(sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))


def relative_se(
    baseline: float, lift: float, n_a: float, n_b: float, kind: Kind, stddev: float | None
) -> float:
    """The delta-method standard error of the relative lift when the true lift is ``lift``
    (the same variance as :func:`relative_test`, at the planned means)."""
    mean_b = baseline * (1 + lift)
    if kind == "proportion":
        var_a, var_b = baseline * (1 - baseline), mean_b * (1 - mean_b)
    else:
        var_a = var_b = (stddev or 0.0) ** 2
    return math.sqrt(var_b / (baseline**2 * n_b) + var_a * mean_b**2 / (baseline**4 * n_a))


def minimum_detectable_effect(
    baseline: float,
    n_a: float,
    n_b: float,
    *,
    kind: Kind = "proportion",
    stddev: float | None = None,
    alpha: float = ALPHA,
    power: float = POWER,
) -> float | None:
    """The smallest positive relative lift detected with probability ``power`` by a
    two-sided test at ``alpha`` with ``n_a`` baseline and ``n_b`` arm profiles, or ``None``
    when no lift is (a proportion cannot exceed 1)."""
    z = _z(alpha, power)
    ceiling = (1 / baseline - 1) if kind == "proportion" else 1e6

    def gap(lift: float) -> float:
        return lift - z * relative_se(baseline, lift, n_a, n_b, kind, stddev)

    low, high = 0.0, ceiling * (1 - 1e-12)
    if gap(high) < 0:
        return None
    for _ in range(200):
        middle = (low + high) / 2
        if gap(middle) < 0:
            low = middle
        else:
            high = middle
        if high - low < 1e-12:
            break
    return high


def sample_size(
    baseline: float,
    lift: float,
    share_a: float,
    share_b: float,
    *,
    kind: Kind = "proportion",
    stddev: float | None = None,
    alpha: float = ALPHA,
    power: float = POWER,
) -> int:
    """Profiles the whole campaign needs (split by the configured shares) to detect a
    relative ``lift`` of the arm over the baseline."""
    z = _z(alpha, power)
    # The variance scales as 1/N: solve z * se(N) = |lift| for N in closed form.
    unit = relative_se(baseline, lift, share_a, share_b, kind, stddev)
    return math.ceil((z * unit / abs(lift)) ** 2)


__all__ = [
    "ALPHA",
    "POWER",
    "SRM_THRESHOLD",
    "ArmStats",
    "Comparison",
    "Kind",
    "SampleRatio",
    "compare",
    "minimum_detectable_effect",
    "relative_test",
    "sample_ratio",
    "sample_size",
    "variance",
]
