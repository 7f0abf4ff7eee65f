"""Monte Carlo projection of a goal: wealth paths with monthly returns and contributions.

Model. The portfolio is rebalanced to its target monthly, so its return is treated as one
lognormal variable per month. Given the arithmetic annual expected return `mu` and annual
volatility `sigma` (fractions, see assumptions.py), the annual log return is normal with

    s2 = ln(1 + sigma^2 / (1 + mu)^2),   m = ln(1 + mu) - s2 / 2

which matches E[1 + R] = 1 + mu and SD[R] = sigma exactly. A month has mean m/12 and
variance s2/12. `mu` and `sigma` may be arrays of one value per month (a glide path
lowering risk as the goal nears).

Cash flows. Wealth starts at `initial` (money, float). At the END of each month the month's
return is applied and then `contribution` is added (an ordinary annuity), so with zero
volatility the final value is the closed form

    initial * (1 + r)^n + contribution * ((1 + r)^n - 1) / r,   r = (1 + mu)^(1/12) - 1.

Vectorised: one (paths x months) matrix of normal draws; the only Python loop is over months
(480 for 40 years), each step a numpy operation on all paths at once. Reproducible: the same
`seed` gives identical results.

Required contribution. With the random draws fixed (common random numbers), final wealth is
linear in the contribution: W_T = initial * A + c * B per path, where A is the path's total
growth and B the grown value of contributing 1 a month. Path i reaches the target iff
c >= (target - initial * A_i) / B_i, so the contribution that gives success probability p is the
p-quantile of those per-path thresholds: an exact root of "P(success | c) = p" for the
simulated paths, without bisection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_PATHS = 10_000
DEFAULT_SEED = 20_261_125
PERCENTILES = (10.0, 50.0, 90.0)


@dataclass(frozen=True)
class Projection:
    months: int
    paths: int
    probability: float  # share of paths whose final wealth >= target (0..1)
    final_percentiles: dict[float, float]  # percentile -> final wealth (money)
    fan_months: np.ndarray  # month indices of the fan chart points (0 == today)
    fan: dict[float, np.ndarray]  # percentile -> wealth at fan_months
    final_wealth: np.ndarray  # (paths,) final wealth
    growth: np.ndarray  # (paths,) total growth factor A of money held from month 0
    annuity: np.ndarray  # (paths,) final value B of contributing 1 at the end of every month


def lognormal_monthly(
    mu: np.ndarray | float, sigma: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Monthly log-return mean and standard deviation for arithmetic annual mu, sigma."""
    mu = np.asarray(mu, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    if np.any(mu <= -1.0) or np.any(sigma < 0):
        raise ValueError("need mu > -1 and sigma >= 0")
    s2 = np.log1p(sigma**2 / (1.0 + mu) ** 2)
    m = np.log1p(mu) - s2 / 2.0
    return m / 12.0, np.sqrt(s2 / 12.0)


def simulate(
    *,
    initial: float,
    contribution: float,
    months: int,
    mu: np.ndarray | float,
    sigma: np.ndarray | float,
    target: float,
    paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    fan_every: int = 12,
) -> Projection:
    """Simulate `paths` wealth paths over `months` months; see the module docstring.

    initial, contribution, target: money (floats, contribution per month, >= 0).
    mu, sigma: arithmetic annual expected return and volatility (scalars or one per month).
    fan_every: months between fan-chart points (the final month is always included).
    """
    if months < 0 or paths < 1 or initial < 0 or contribution < 0:
        raise ValueError("need months >= 0, paths >= 1, initial >= 0, contribution >= 0")
    m, s = lognormal_monthly(mu, sigma)
    m = np.broadcast_to(m, (months,)) if m.ndim == 0 else m
    s = np.broadcast_to(s, (months,)) if s.ndim == 0 else s
    if m.shape != (months,) or s.shape != (months,):
        raise ValueError("mu and sigma must be scalars or have one value per month")

    rng = np.random.default_rng(seed)
    fan_months = np.unique(np.r_[np.arange(0, months + 1, max(1, fan_every)), months])
    fan_index = {int(k): i for i, k in enumerate(fan_months)}
    fan_values = np.empty((len(fan_months), paths))

    growth = np.ones(paths)  # A: growth of money held since month 0
    annuity = np.zeros(paths)  # B: value of 1 contributed at the end of each month so far
    fan_values[0] = initial
    for t in range(months):
        # one month of returns for all paths at once
        factor = np.exp(m[t] + s[t] * rng.standard_normal(paths))
        growth *= factor
        annuity *= factor
        annuity += 1.0
        i = fan_index.get(t + 1)
        if i is not None:
            fan_values[i] = initial * growth + contribution * annuity
    final = initial * growth + contribution * annuity
    fan = {
        p: v
        for p, v in zip(PERCENTILES, np.percentile(fan_values, PERCENTILES, axis=1), strict=True)
    }
    return Projection(
        months=months,
        paths=paths,
        probability=float(np.mean(final >= target)),
        final_percentiles={p: float(v[-1]) for p, v in fan.items()},
        fan_months=fan_months,
        fan=fan,
        final_wealth=final,
        growth=growth,
        annuity=annuity,
    )


def success_probability(
    projection: Projection, *, initial: float, contribution: float, target: float
) -> float:
    """P(final wealth >= target) on the projection's paths for another contribution (money/month)."""
    final = initial * projection.growth + contribution * projection.annuity
    return float(np.mean(final >= target))


def required_contribution(
    projection: Projection, *, initial: float, target: float, probability: float = 0.8
) -> float:
    """Smallest monthly contribution (money, >= 0) reaching `target` with `probability` (0..1).

    Uses the projection's paths (common random numbers); see the module docstring. Returns
    0.0 when the initial amount alone already succeeds often enough, and inf when the horizon
    is zero months and the target is not yet reached.
    """
    if not 0.0 < probability < 1.0:
        raise ValueError("probability must be strictly between 0 and 1")
    if projection.months == 0:
        return 0.0 if initial >= target else float("inf")
    needed = (target - initial * projection.growth) / projection.annuity
    # the k-th smallest threshold, with k = ceil(p * paths): then >= p of paths succeed
    k = int(np.ceil(probability * projection.paths)) - 1
    value = float(np.partition(needed, k)[k])
    return max(0.0, value)


def deterministic_value(
    *, initial: float, contribution: float, months: int, annual_return: float
) -> float:
    """Closed form with zero volatility: compound growth plus an end-of-month annuity (money)."""
    r = (1.0 + annual_return) ** (1.0 / 12.0) - 1.0
    growth = (1.0 + r) ** months
    annuity = months if r == 0 else (growth - 1.0) / r
    return initial * growth + contribution * annuity


def analytic_median(*, initial: float, months: int, mu: float, sigma: float) -> float:
    """Median final wealth without contributions: initial * exp(months * m_monthly)."""
    m, _ = lognormal_monthly(mu, sigma)
    return float(initial * np.exp(months * m))
