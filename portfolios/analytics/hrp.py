"""Hierarchical risk parity (Lopez de Prado 2016, "Building diversified portfolios that
outperform out of sample").

1. Distance between assets d_ij = sqrt((1 - rho_ij) / 2) from the correlation matrix.
2. Agglomerative clustering (single linkage by default, scipy's), leaves in dendrogram order.
3. Recursive bisection of that order: each half gets weight in inverse proportion to the
   variance of its inverse-variance portfolio.

Conventions follow PyPortfolioOpt's HRPOpt (the bisection splits the ordered list in halves,
not at the tree's branches), so its published weights are reproduced. Weights are long-only
fractions summing to 1; expected return/Sharpe use `expected_returns` when given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from portfolios.analytics.errors import InputError
from portfolios.analytics.optimize import OptimalPortfolio, _prepare, _result


def _cluster_variance(cov: np.ndarray, items: np.ndarray) -> float:
    sub = cov[np.ix_(items, items)]
    w = 1.0 / np.diagonal(sub)
    w /= w.sum()
    return float(w @ sub @ w)


def hrp(
    cov: pd.DataFrame | np.ndarray,
    *,
    corr: pd.DataFrame | np.ndarray | None = None,
    linkage: str = "single",
    expected_returns: pd.Series | np.ndarray | None = None,
    risk_free_rate: float = 0.0,
    assets: Sequence[str] | None = None,
) -> OptimalPortfolio:
    """HRP weights from a covariance matrix (correlation derived from it unless `corr` is
    given, e.g. pairwise correlations of ragged returns). `linkage`: any method of
    scipy.cluster.hierarchy.linkage. kkt_residual is 0 (a closed-form allocation)."""
    from scipy.cluster import hierarchy
    from scipy.spatial.distance import squareform

    problem = _prepare(expected_returns, cov, None, assets)
    sigma = problem.cov
    vol = np.sqrt(np.diagonal(sigma))
    if np.any(vol <= 0):
        raise InputError(
            "HRP needs every asset to have positive variance",
            code="covariance_singular",
            constraint="covariance",
        )
    rho = sigma / np.outer(vol, vol) if corr is None else np.asarray(corr, dtype=float)
    n = problem.n
    if n == 1:
        return _result(problem, np.ones(1), "hrp", 0.0, 0, risk_free_rate)
    dist = np.sqrt(np.clip((1.0 - rho) / 2.0, 0.0, 1.0))
    links = hierarchy.linkage(squareform(dist, checks=False), linkage)
    order = np.asarray(hierarchy.to_tree(links, rd=False).pre_order())
    w = np.ones(n)
    clusters = [order]
    while clusters:
        halves = [
            c[j:k]
            for c in clusters
            for j, k in ((0, len(c) // 2), (len(c) // 2, len(c)))
            if len(c) > 1
        ]
        for first, second in zip(halves[::2], halves[1::2], strict=True):
            v1, v2 = _cluster_variance(sigma, first), _cluster_variance(sigma, second)
            alpha = 1 - v1 / (v1 + v2)
            w[first] *= alpha
            w[second] *= 1 - alpha
        clusters = halves
    return _result(problem, w, "hrp", 0.0, 0, risk_free_rate)


def hrp_from_returns(
    returns: pd.DataFrame,
    *,
    linkage: str = "single",
    periods_per_year: int = 252,
    risk_free_rate: float = 0.0,
) -> OptimalPortfolio:
    """HRP from period returns (NaN before a listing allowed): pairwise-complete covariance
    and correlation; reported return is the arithmetic mean times periods_per_year and the
    volatility is annualised the same way (PyPortfolioOpt's HRPOpt convention)."""
    cov = returns.cov() * periods_per_year
    mu = returns.mean() * periods_per_year
    return hrp(
        cov,
        corr=returns.corr().to_numpy(),
        linkage=linkage,
        expected_returns=mu,
        risk_free_rate=risk_free_rate,
    )
