"""Covariance estimators and positive semi-definiteness checks.

Input: period returns (a DataFrame indexed by date, one column per asset, NaN before a series
starts), e.g. from `returns.simple_returns`. Output: covariance in period units times
`periods_per_year` (pass 1 for per-period units, 252 to annualise daily returns).

- sample_covariance: unbiased (ddof=1), pairwise-complete on ragged data (each pair uses the
  dates both assets have); such a matrix need not be PSD: check with `is_psd`, fix with
  `repair_psd`.
- ewma_covariance: exponentially weighted, pairwise like PyPortfolioOpt's exp_cov.
- ledoit_wolf: shrinkage towards constant variance (identical to scikit-learn's
  `ledoit_wolf`), a single-factor model (Ledoit and Wolf 2003, the equal-weighted market) or
  constant correlation (Ledoit and Wolf 2004). These need complete data: missing values raise
  InputError(code="missing_data"); choose the common window (dropna) or fill explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolios.analytics.errors import InputError


def _frame(returns: pd.DataFrame | np.ndarray) -> pd.DataFrame:
    if isinstance(returns, pd.DataFrame):
        return returns
    arr = np.asarray(returns, dtype=float)
    if arr.ndim != 2:
        raise InputError("returns must be a 2-D (dates x assets) table", code="invalid_input")
    return pd.DataFrame(arr)


def _labelled(matrix: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(matrix, index=frame.columns, columns=frame.columns)


def sample_covariance(
    returns: pd.DataFrame | np.ndarray, *, periods_per_year: float = 1.0, min_periods: int = 2
) -> pd.DataFrame:
    """Sample covariance (ddof=1) times `periods_per_year`; pairwise-complete where data is
    ragged (pairs with fewer than `min_periods` common dates are NaN)."""
    frame = _frame(returns)
    values = frame.to_numpy(dtype=float)
    if not np.isnan(values).any():
        return _labelled(
            np.cov(values, rowvar=False, ddof=1).reshape(values.shape[1], -1) * periods_per_year,
            frame,
        )
    return frame.cov(min_periods=min_periods) * periods_per_year


def ewma_covariance(
    returns: pd.DataFrame | np.ndarray, *, span: float = 180.0, periods_per_year: float = 1.0
) -> pd.DataFrame:
    """Exponentially weighted covariance: for each pair, the exponentially weighted mean
    (pandas `ewm(span)`, adjust=True, weight (1 - a)^(age) with a = 2 / (span + 1)) of the
    product of the two series' deviations from their own full-sample means, over the dates
    both have; the newest date weighs most. Times `periods_per_year`."""
    frame = _frame(returns)
    x = frame.to_numpy(dtype=float)
    mask = ~np.isnan(x)
    dev = np.where(mask, x - np.nanmean(x, axis=0), 0.0)
    alpha = 2.0 / (span + 1.0)
    age = np.arange(x.shape[0] - 1, -1, -1, dtype=float)
    weight = (1.0 - alpha) ** age
    m = mask.astype(float)
    num = (dev * weight[:, None]).T @ dev
    den = (m * weight[:, None]).T @ m
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = np.where(den > 0, num / den, np.nan)
    return _labelled(cov * periods_per_year, frame)


@dataclass(frozen=True)
class ShrunkCovariance:
    """covariance: the shrunk estimate (DataFrame); shrinkage: the intensity in [0, 1] put on
    the target; target: which target."""

    covariance: pd.DataFrame
    shrinkage: float
    target: str


def _complete(frame: pd.DataFrame) -> np.ndarray:
    x = frame.to_numpy(dtype=float)
    if np.isnan(x).any():
        raise InputError(
            "Ledoit-Wolf shrinkage needs complete returns; drop or fill the missing values "
            "explicitly first",
            code="missing_data",
            constraint="returns",
        )
    if x.shape[0] < 2:
        raise InputError("need at least two dates of returns", code="invalid_input")
    return x


def ledoit_wolf(
    returns: pd.DataFrame | np.ndarray,
    *,
    target: str = "constant_variance",
    periods_per_year: float = 1.0,
) -> ShrunkCovariance:
    """Ledoit-Wolf shrinkage  delta * F + (1 - delta) * S  with S the maximum-likelihood
    sample covariance of the demeaned returns (divided by T) and the optimal delta.

    target: "constant_variance" (F = mean variance * I; Ledoit and Wolf 2004, "A
    well-conditioned estimator", as scikit-learn's `ledoit_wolf`), "single_factor" (F from the
    equal-weighted market, Ledoit and Wolf 2003; PyPortfolioOpt's convention) or
    "constant_correlation" (F with the average correlation, Ledoit and Wolf 2004, "Honey, I
    shrunk the sample covariance matrix", the authors' covCor with T in every denominator)."""
    frame = _frame(returns)
    x = _complete(frame)
    t, n = x.shape
    xc = x - x.mean(axis=0)
    if target == "constant_variance":
        sample = (xc.T @ xc) / t
        x2 = xc * xc
        trace_terms = x2.sum(axis=0) / t
        mu = trace_terms.sum() / n
        # sum of all entries of X2'X2 is the squared norm of X2's row sums: O(T n), no GEMM.
        beta_ = float(np.sum(x2.sum(axis=1) ** 2))
        delta_ = float(np.sum(sample * sample))
        beta = (beta_ / t - delta_) / (n * t)
        delta = (delta_ - 2.0 * mu * trace_terms.sum() + n * mu * mu) / n
        beta = min(beta, delta)
        shrinkage = 0.0 if beta == 0 else beta / delta
        shrunk = (1.0 - shrinkage) * sample
        shrunk.flat[:: n + 1] += shrinkage * mu
    elif target == "single_factor":
        market = xc.mean(axis=1)
        sample = (xc.T @ xc) / t
        betas = xc.T @ market / t
        var_mkt = float(market @ market) / t
        f = np.outer(betas, betas) / var_mkt
        np.fill_diagonal(f, np.diagonal(sample))
        c = float(np.sum((sample - f) ** 2))
        y = xc * xc
        p = float(np.sum(y.T @ y)) / t - float(np.sum(sample * sample))
        rdiag = float(np.sum(y * y)) / t - float(np.sum(np.diagonal(sample) ** 2))
        z = xc * market[:, None]
        v1 = (y.T @ z) / t - betas[:, None] * sample
        roff1 = (
            float(np.sum(v1 * betas[None, :])) - float(np.sum(np.diagonal(v1) * betas))
        ) / var_mkt
        v3 = (z.T @ z) / t - var_mkt * sample
        roff3 = (
            float(np.sum(v3 * np.outer(betas, betas))) - float(np.sum(np.diagonal(v3) * betas**2))
        ) / var_mkt**2
        r = rdiag + 2 * roff1 - roff3
        shrinkage = max(0.0, min(1.0, (p - r) / c / t))
        shrunk = shrinkage * f + (1 - shrinkage) * sample
    elif target == "constant_correlation":
        sample = (xc.T @ xc) / t
        var = np.diagonal(sample)
        std = np.sqrt(var)
        outer_std = np.outer(std, std)
        r_bar = (float(np.sum(sample / outer_std)) - n) / (n * (n - 1))
        f = r_bar * outer_std
        np.fill_diagonal(f, var)
        y = xc * xc
        pi_mat = (y.T @ y) / t - sample * sample
        pi_hat = float(np.sum(pi_mat))
        theta = ((xc**3).T @ xc) / t - var[:, None] * sample
        np.fill_diagonal(theta, 0.0)
        rho = float(np.sum(np.diagonal(pi_mat))) + r_bar * float(
            np.sum(np.outer(1 / std, std) * theta)
        )
        gamma = float(np.sum((sample - f) ** 2))
        shrinkage = max(0.0, min(1.0, (pi_hat - rho) / gamma / t))
        shrunk = shrinkage * f + (1 - shrinkage) * sample
    else:
        raise InputError(
            f"unknown shrinkage target {target!r}", code="invalid_input", constraint="target"
        )
    return ShrunkCovariance(_labelled(shrunk * periods_per_year, frame), float(shrinkage), target)


def is_psd(cov: pd.DataFrame | np.ndarray, *, tol: float = 1e-10) -> bool:
    """True when symmetric and the smallest eigenvalue is >= -tol * the largest."""
    m = np.asarray(cov, dtype=float)
    if not np.allclose(m, m.T, rtol=0.0, atol=1e-12 * max(float(np.abs(m).max()), 1e-300)):
        return False
    eig = np.linalg.eigvalsh(m)
    return bool(eig[0] >= -tol * max(float(eig[-1]), 1e-300))


def repair_psd(
    cov: pd.DataFrame | np.ndarray, *, min_eigenvalue: float = 0.0
) -> pd.DataFrame | np.ndarray:
    """The nearest (in Frobenius norm) symmetric matrix with every eigenvalue at least
    `min_eigenvalue` (in the covariance's own units; > 0 also makes it invertible): eigenvalues
    below the floor are raised to it, eigenvectors kept. Returns the input's type."""
    m = np.asarray(cov, dtype=float)
    sym = (m + m.T) / 2
    values, vectors = np.linalg.eigh(sym)
    fixed = (vectors * np.maximum(values, min_eigenvalue)) @ vectors.T
    fixed = (fixed + fixed.T) / 2
    if isinstance(cov, pd.DataFrame):
        return pd.DataFrame(fixed, index=cov.index, columns=cov.columns)
    return fixed


def cov_to_corr(cov: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
    """Correlation matrix from a covariance matrix (returns the input's type)."""
    m = np.asarray(cov, dtype=float)
    std = np.sqrt(np.diagonal(m))
    corr = m / np.outer(std, std)
    np.fill_diagonal(corr, 1.0)
    if isinstance(cov, pd.DataFrame):
        return pd.DataFrame(corr, index=cov.index, columns=cov.columns)
    return corr


def corr_to_cov(corr: pd.DataFrame | np.ndarray, volatilities: np.ndarray) -> np.ndarray:
    """Covariance from a correlation matrix and volatilities (same units as the result's
    square root)."""
    vol = np.asarray(volatilities, dtype=float)
    return np.asarray(corr, dtype=float) * np.outer(vol, vol)
