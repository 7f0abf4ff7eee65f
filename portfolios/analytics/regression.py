"""Regression statistics of returns against a benchmark or factors (least squares).

Returns are simple period returns (fractions) on the same dates, daily or monthly; a NaN in
either series drops that period (e.g. before an account's inception). Series are columns:
[T] or [T, N] for N accounts at once.

Against one benchmark (Jensen's regression on excess returns over the risk-free rate rf):
    r_t - rf_t = alpha + beta (b_t - rf_t) + e_t
* alpha: per period; alpha_annualised = alpha x periods_per_year (arithmetic);
* beta = cov(r - rf, b - rf) / var(b - rf); r_squared = correlation squared;
* tracking error = std(r - b, ddof=1) x sqrt(periods_per_year), as in metrics.py;
* information ratio = mean(r - b) x periods_per_year / tracking error.
Fewer than 3 common periods, or a constant benchmark, give NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BenchmarkStatistics:
    """Each field [N] (or a 0-d array for one series); see the module docstring."""

    alpha: np.ndarray
    alpha_annualised: np.ndarray
    beta: np.ndarray
    r_squared: np.ndarray
    correlation: np.ndarray
    tracking_error: np.ndarray
    information_ratio: np.ndarray
    active_return_annualised: np.ndarray
    n_observations: np.ndarray


def benchmark_statistics(
    returns: np.ndarray,
    benchmark: np.ndarray,
    *,
    risk_free: np.ndarray | float = 0.0,
    periods_per_year: float = 252,
) -> BenchmarkStatistics:
    """Alpha, beta, R-squared, tracking error and information ratio of each column of
    `returns` against `benchmark` ([T] shared, or [T, N] one per column); `risk_free` is the
    per-period rate ([T] or a number). Vectorised over columns with per-column NaN masks."""
    r = np.asarray(returns, dtype=float)
    one = r.ndim == 1
    r = r.reshape(len(r), -1)
    b = np.asarray(benchmark, dtype=float)
    b = np.broadcast_to(b.reshape(len(b), -1), r.shape)
    rf = np.broadcast_to(np.asarray(risk_free, dtype=float).reshape(-1, 1), (len(r), 1))
    mask = np.isfinite(r) & np.isfinite(b) & np.isfinite(rf)
    n = mask.sum(axis=0).astype(float)
    y = np.where(mask, r - rf, 0.0)
    x = np.where(mask, b - rf, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_y, mean_x = y.sum(axis=0) / n, x.sum(axis=0) / n
        dy = np.where(mask, y - mean_y, 0.0)
        dx = np.where(mask, x - mean_x, 0.0)
        sxx, syy, sxy = (dx * dx).sum(axis=0), (dy * dy).sum(axis=0), (dx * dy).sum(axis=0)
        beta = sxy / sxx
        alpha = mean_y - beta * mean_x
        correlation = sxy / np.sqrt(sxx * syy)
        active = np.where(mask, r - b, 0.0)
        mean_active = active.sum(axis=0) / n
        d_active = np.where(mask, active - mean_active, 0.0)
        tracking = np.sqrt((d_active**2).sum(axis=0) / (n - 1)) * np.sqrt(periods_per_year)
        information = mean_active * periods_per_year / tracking
    enough = (n >= 3) & (sxx > 0)
    fields = {
        "alpha": alpha,
        "alpha_annualised": alpha * periods_per_year,
        "beta": beta,
        "r_squared": correlation**2,
        "correlation": correlation,
        "tracking_error": tracking,
        "information_ratio": information,
        "active_return_annualised": mean_active * periods_per_year,
    }
    fields = {k: np.where(enough, v, np.nan) for k, v in fields.items()}
    if one:
        fields = {k: v[0] for k, v in fields.items()}
    return BenchmarkStatistics(
        **fields, n_observations=n.astype(np.int64)[0] if one else n.astype(np.int64)
    )


@dataclass(frozen=True)
class FactorRegression:
    """OLS of returns on factors with an intercept: alpha (per period), betas [K],
    std_errors and t_stats [K + 1] (alpha first; classical, homoskedastic), r_squared,
    residual_std (ddof = K + 1) and n_observations."""

    alpha: float
    betas: np.ndarray
    std_errors: np.ndarray
    t_stats: np.ndarray
    r_squared: float
    residual_std: float
    n_observations: int


def factor_regression(returns: np.ndarray, factors: np.ndarray) -> FactorRegression:
    """Least-squares regression of `returns` [T] on `factors` [T, K] plus an intercept (e.g.
    excess returns on the Fama-French Mkt-RF, SMB, HML); periods with a NaN are dropped."""
    y = np.asarray(returns, dtype=float)
    x = np.asarray(factors, dtype=float).reshape(len(y), -1)
    keep = np.isfinite(y) & np.isfinite(x).all(axis=1)
    y, x = y[keep], x[keep]
    n, k = x.shape
    if n <= k + 1:
        raise ValueError("more observations than coefficients are needed")
    design = np.column_stack([np.ones(n), x])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ coefficients
    dof = n - k - 1
    sigma2 = residuals @ residuals / dof
    covariance = sigma2 * np.linalg.inv(design.T @ design)
    errors = np.sqrt(np.diag(covariance))
    total = ((y - y.mean()) ** 2).sum()
    return FactorRegression(
        alpha=float(coefficients[0]),
        betas=coefficients[1:],
        std_errors=errors,
        t_stats=coefficients / errors,
        r_squared=float(1.0 - residuals @ residuals / total),
        residual_std=float(np.sqrt(sigma2)),
        n_observations=int(n),
    )


def monthly_returns(dates: np.ndarray, daily: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compound daily returns [T] or [T, N] into calendar-month returns: (months [M] as
    datetime64[M], returns [M] or [M, N]). A month with any NaN day (e.g. the month of an
    account's inception: a partial month) is NaN."""
    r = np.asarray(daily, dtype=float)
    one = r.ndim == 1
    r = r.reshape(len(r), -1)
    months = np.asarray(dates, dtype="datetime64[M]")
    labels, first = np.unique(months, return_index=True)
    log_growth = np.log1p(r)  # NaN propagates; -inf on a total loss
    sums = np.add.reduceat(np.nan_to_num(log_growth, nan=0.0, neginf=-np.inf), first, axis=0)
    missing = np.add.reduceat(np.isnan(r).astype(int), first, axis=0) > 0
    out = np.where(missing, np.nan, np.expm1(sums))
    return labels, out[:, 0] if one else out
