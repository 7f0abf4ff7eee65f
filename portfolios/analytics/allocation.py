"""Target weights to share quantities for an account value.

Weights are fractions summing to (at most) 1; prices are per share, value and cash in the
same currency (float here; the service quantises to Decimal at the boundary).

Method. Start from the quantities rounded down (never over budget), then spend the leftover
cash one share at a time on the purchase that most reduces the tracking error, and finally
swap one share of one asset for one of another while that reduces it further. Tracking error
is sqrt(d' Sigma d) with d the achieved minus the target weights (of the account value) when
a covariance is given, the Euclidean norm of d otherwise. With `fractional=True` quantities
are rounded down to `fraction_decimals` decimals instead (brokers that sell fractions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolios.analytics.errors import InputError


@dataclass(frozen=True)
class ShareAllocation:
    """shares: quantity per asset; cost: money spent; leftover_cash: value - cost (>= 0);
    achieved_weights: shares * price / value; tracking_error: see the module docstring."""

    assets: tuple[str, ...]
    shares: np.ndarray
    cost: float
    leftover_cash: float
    achieved_weights: np.ndarray
    tracking_error: float

    def shares_series(self) -> pd.Series:
        """Quantities as a Series by asset."""
        return pd.Series(self.shares, index=list(self.assets), name="shares")


def allocate_shares(
    weights: pd.Series | np.ndarray,
    prices: pd.Series | np.ndarray,
    total_value: float,
    *,
    cov: pd.DataFrame | np.ndarray | None = None,
    fractional: bool = False,
    fraction_decimals: int = 4,
    assets: tuple[str, ...] | None = None,
) -> ShareAllocation:
    """Quantities that track `weights` for an account worth `total_value`."""
    if isinstance(weights, pd.Series):
        names = tuple(str(a) for a in weights.index)
        if isinstance(prices, pd.Series):
            missing = [a for a in names if a not in prices.index]
            if missing:
                raise InputError(
                    f"no price for {missing[0]!r}",
                    code="unknown_asset",
                    constraint=f"asset:{missing[0]}",
                )
            prices = prices.reindex(list(names))
        w = weights.to_numpy(dtype=float)
    else:
        w = np.asarray(weights, dtype=float)
        names = assets or tuple(str(i) for i in range(w.size))
    p = np.asarray(prices, dtype=float)
    if p.shape != w.shape or not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise InputError(
            "prices must be positive, one per asset", code="invalid_input", constraint="prices"
        )
    if np.any(w < 0) or w.sum() > 1 + 1e-9 or not total_value > 0:
        raise InputError(
            "weights must be non-negative and sum to at most 1, value positive",
            code="invalid_input",
        )
    sigma = None if cov is None else np.asarray(cov, dtype=float)
    value = float(total_value)
    if fractional:
        step = 10.0 ** (-fraction_decimals)
        shares = np.floor(w * value / p / step + 1e-9) * step
    else:
        shares = np.floor(w * value / p + 1e-9)
        shares = _improve(shares, w, p, value, sigma)
    cost = float(shares @ p)
    achieved = shares * p / value
    return ShareAllocation(
        assets=names,
        shares=shares,
        cost=cost,
        leftover_cash=value - cost,
        achieved_weights=achieved,
        tracking_error=_tracking_error(achieved - w, sigma),
    )


def _tracking_error(d: np.ndarray, sigma: np.ndarray | None) -> float:
    return float(np.sqrt(max(d @ sigma @ d if sigma is not None else d @ d, 0.0)))


def _improve(
    shares: np.ndarray, w: np.ndarray, p: np.ndarray, value: float, sigma: np.ndarray | None
) -> np.ndarray:
    shares = shares.copy()
    n = w.size
    metric = sigma if sigma is not None else np.eye(n)
    step = p / value  # change of an asset's weight per share
    d = shares * step - w
    md = metric @ d
    cash = value - float(shares @ p)
    diag = np.diagonal(metric)
    # Buying one share of i changes d'Md by 2 s_i (Md)_i + s_i^2 M_ii.
    for _ in range(10 * n + 1000):
        gain = 2 * step * md + step * step * diag
        gain[p > cash + 1e-9] = np.inf
        i = int(np.argmin(gain))
        if not gain[i] < -1e-15:
            break
        shares[i] += 1
        cash -= p[i]
        d[i] += step[i]
        md += metric[:, i] * step[i]
    # One-for-one swaps: sell a share of j, buy one of i, when affordable and better.
    for _ in range(10 * n + 1000):
        buy = 2 * step * md + step * step * diag
        sell = -2 * step * md + step * step * diag
        cross = -2 * np.outer(step, step) * metric
        change = buy[:, None] + sell[None, :] + cross
        affordable = p[:, None] <= cash + p[None, :] + 1e-9
        change[~affordable] = np.inf
        change[:, shares < 1] = np.inf
        np.fill_diagonal(change, np.inf)
        i, j = np.unravel_index(int(np.argmin(change)), change.shape)
        if not change[i, j] < -1e-15:
            break
        shares[i] += 1
        shares[j] -= 1
        cash += p[j] - p[i]
        d[i] += step[i]
        d[j] -= step[j]
        md += metric[:, i] * step[i] - metric[:, j] * step[j]
    return shares
