"""A sequential test that stays valid however often it is looked at: the mixture
sequential probability ratio test (mSPRT; Johari, Koomen, Pekelis & Walsh,
"Always Valid Inference", Operations Research 2022), as used for A/B tests.

For the difference θ = mean(treatment) - mean(control), estimated by θ̂ with
variance V = s²_c/n_c + s²_t/n_t, and a normal mixture θ ~ N(0, τ²) over the
alternatives, the likelihood ratio against θ = θ₀ is

    Λ(θ₀) = sqrt(V / (V + τ²)) · exp( (θ̂ - θ₀)² τ² / (2 V (V + τ²)) )

Λ is a (approximately, with the plug-in variance) non-negative martingale under
θ₀, so by Ville's inequality P(Λ ever ≥ 1/alpha) ≤ alpha: the always-valid p-value is
min(1, 1/Λ(0)), and the set of θ₀ with Λ(θ₀) < 1/alpha is an always-valid
(1 - alpha) confidence sequence

    θ̂ ± sqrt( V (V + τ²) / τ² · (2 log(1/alpha) + log((V + τ²)/V)) ).

Deciding when that interval excludes 0 therefore keeps the false-winner rate at
or below alpha under continuous monitoring; the simulation tests check it.
τ sets where the test is most sensitive: about the size of effect one hopes to
find (default 0.05, a 5-point change in a rate).

Per-arm intervals (not sequential; for display) are Wilson intervals for rates
and normal intervals for means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054
DEFAULT_TAU = 0.05


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True, slots=True)
class SequentialResult:
    difference: Interval  # always-valid interval for treatment - control
    p_value: float  # always-valid p-value for "no difference"
    likelihood_ratio: float

    def significant(self, alpha: float) -> bool:
        return self.p_value <= alpha


def wilson(successes: int, n: int, z: float = Z95) -> Interval:
    if n <= 0:
        return Interval(math.nan, 0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def mean_variance(total: float, squares: float, n: int) -> tuple[float, float]:
    """Mean and (unbiased) variance from a sum and a sum of squares."""
    if n <= 0:
        return math.nan, math.nan
    mean = total / n
    if n == 1:
        return mean, 0.0
    return mean, max(0.0, (squares - n * mean * mean) / (n - 1))


def mean_interval(total: float, squares: float, n: int, z: float = Z95) -> Interval:
    mean, variance = mean_variance(total, squares, n)
    if n <= 0:
        return Interval(math.nan, math.nan, math.nan)
    half = z * math.sqrt(variance / n)
    return Interval(mean, mean - half, mean + half)


def msprt(
    difference: float, variance: float, *, alpha: float, tau: float = DEFAULT_TAU
) -> SequentialResult:
    """The mSPRT for an estimated difference with the given variance (of the estimate)."""
    tau2 = tau * tau
    if not variance > 0 or math.isnan(difference):
        return SequentialResult(Interval(difference, -math.inf, math.inf), 1.0, 1.0)
    ratio = variance / (variance + tau2)
    exponent = difference * difference * tau2 / (2 * variance * (variance + tau2))
    log_lr = 0.5 * math.log(ratio) + exponent
    p_value = 1.0 if log_lr <= 0 else math.exp(-min(log_lr, 700.0))
    half = math.sqrt(
        variance * (variance + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log(1 / ratio))
    )
    return SequentialResult(
        Interval(difference, difference - half, difference + half),
        min(1.0, p_value),
        math.exp(min(log_lr, 700.0)),
    )


def clustered_rate_variance(units: list[tuple[int, int]]) -> float | None:
    """Variance of a rate sum(s)/sum(n) over units (n requests, s hits each): the
    delta-method (cluster-robust) variance, for requests that share a session or key."""
    m = len(units)
    total = sum(n for n, _ in units)
    if m < 2 or total == 0:
        return None
    rate = sum(s for _, s in units) / total
    spread = sum((s - rate * n) ** 2 for n, s in units)
    return m / (m - 1) * spread / (total * total)


def compare_rates(
    successes_control: int,
    n_control: int,
    successes_treatment: int,
    n_treatment: int,
    *,
    alpha: float,
    tau: float = DEFAULT_TAU,
    clustered: tuple[float | None, float | None] = (None, None),
) -> SequentialResult:
    """Treatment - control for two rates (success, error, ...), always valid."""
    if n_control < 2 or n_treatment < 2:
        return SequentialResult(Interval(math.nan, -math.inf, math.inf), 1.0, 1.0)
    p_c = successes_control / n_control
    p_t = successes_treatment / n_treatment
    # The pooled rate keeps the variance away from 0 when one arm is all-or-nothing.
    pooled = (successes_control + successes_treatment) / (n_control + n_treatment)
    floor = pooled * (1 - pooled)
    var_c = max(p_c * (1 - p_c), floor / 2)
    var_t = max(p_t * (1 - p_t), floor / 2)
    # Requests of one session (or key) are not independent: when the clustered variance
    # of an arm's rate is larger than the independent one, it is used (never smaller).
    variance = max(var_c / n_control, clustered[0] or 0.0) + max(
        var_t / n_treatment, clustered[1] or 0.0
    )
    return msprt(p_t - p_c, variance, alpha=alpha, tau=tau)


def compare_means(
    control: tuple[float, float, int],
    treatment: tuple[float, float, int],
    *,
    alpha: float,
    tau: float,
) -> SequentialResult:
    """Treatment - control for two means given as (sum, sum of squares, n)."""
    mean_c, var_c = mean_variance(*control)
    mean_t, var_t = mean_variance(*treatment)
    if control[2] < 2 or treatment[2] < 2:
        return SequentialResult(Interval(math.nan, -math.inf, math.inf), 1.0, 1.0)
    return msprt(mean_t - mean_c, var_c / control[2] + var_t / treatment[2], alpha=alpha, tau=tau)
