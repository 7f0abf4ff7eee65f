"""Benchmarks blended from asset-class index series, rebalanced to their targets every month.

Inputs: `dates` [T] (ascending datetime64[D]), `index_closes` [T, C] (the total-return,
i.e. adjusted, closes of each asset class's index security; NaN before a series starts,
carried forward over gaps) and target `weights` [C] or [A, C] (fractions, each row summing to
1; one row per account). An investor-picked benchmark is one security with weight 1.

Rebalancing: at the close of the last calendar date of every month (and at the first date),
the benchmark's class weights are reset to the targets; within a month they drift with the
index returns. So, with m(t) the last close of the month before day t's month (dates[0] in
the first month) and g_c(t) = P_c(t) / P_c(m(t)):

    r_t = sum_c w_c g_c(t) / sum_c w_c g_c(t - 1) - 1        (g_c(m) = 1)

Returns are fractions; r_0 (no previous close) is NaN. The class weights that earn day t's
class returns (the start-of-day drifted weights) are w_c g_c(t - 1) / sum_k w_k g_k(t - 1):
they are what Brinson attribution uses as benchmark weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from portfolios.analytics.history import forward_filled


@dataclass(frozen=True)
class Benchmark:
    """returns [T, A] (or [T] for one weight row); class_returns [T, C] (index returns);
    class_weights [T, A, C] (or [T, C]) start-of-day weights, when asked for."""

    returns: np.ndarray
    class_returns: np.ndarray
    class_weights: np.ndarray | None = None


def month_starts(dates: np.ndarray) -> np.ndarray:
    """[T] True on the first calendar date of each month present in `dates` (and dates[0])."""
    months = np.asarray(dates, dtype="datetime64[M]")
    return np.r_[True, months[1:] != months[:-1]]


def blended_benchmark(
    dates: np.ndarray,
    index_closes: np.ndarray,
    weights: np.ndarray,
    *,
    with_class_weights: bool = False,
) -> Benchmark:
    """Daily returns of the monthly rebalanced blend of `index_closes` at `weights` (module
    docstring), vectorised over weight rows (accounts)."""
    closes = forward_filled(np.asarray(index_closes, dtype=float))
    w = np.asarray(weights, dtype=float)
    one = w.ndim == 1
    w = np.atleast_2d(w)
    if w.shape[1] != closes.shape[1]:
        raise ValueError("one weight per index series")
    if not np.allclose(w.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("each row of target weights must sum to 1")
    n_days = closes.shape[0]
    if len(dates) != n_days:
        raise ValueError("index_closes must have one row per date")
    starts = month_starts(dates)
    # Row of the rebalancing close for each day: the day before its month's first date.
    first_of_month = np.maximum.accumulate(np.where(starts, np.arange(n_days), 0))
    base = np.maximum(first_of_month - 1, 0)
    previous = np.r_[0, np.arange(n_days - 1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = closes / closes[base]  # g(t)
        growth_before = closes[previous] / closes[base]  # g(t - 1), 1 on a month's first day
        level = growth @ w.T  # [T, A]
        level_before = growth_before @ w.T
        returns = level / level_before - 1.0
        class_returns = closes / closes[previous] - 1.0
    returns[0] = np.nan
    class_returns[0] = np.nan
    class_weights = None
    if with_class_weights:
        with np.errstate(divide="ignore", invalid="ignore"):
            drifted = growth_before[:, None, :] * w[None, :, :]
            class_weights = drifted / drifted.sum(axis=2, keepdims=True)
        if one:
            class_weights = class_weights[:, 0, :]
    return Benchmark(
        returns=returns[:, 0] if one else returns,
        class_returns=class_returns,
        class_weights=class_weights,
    )
