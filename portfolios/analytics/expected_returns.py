"""Expected-return estimators. Input: prices (adjusted closes, a DataFrame indexed by date,
one column per asset, NaN before a listing) or returns; output: annual expected returns as
fractions (a pd.Series by asset), with `periods_per_year` the data frequency (252 daily, 12
monthly). Conventions follow PyPortfolioOpt's expected_returns module so its numbers are
reproduced:

- mean_historical_return: geometric (compound annual growth over each asset's own life) or
  arithmetic (mean period return * periods_per_year);
- ema_historical_return: exponentially weighted mean period return (pandas ewm span),
  compounded (1 + m)^periods_per_year - 1 or times periods_per_year;
- capm_return: rf + beta * (market return - rf), beta against the given market returns or the
  equal-weighted average of the assets;
- equilibrium_returns: the market-implied (reverse-optimised) returns delta * Sigma * w + rf;
- market_implied_risk_aversion: (annual mean market return - rf) / annual market variance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolios.analytics import returns as returns_module
from portfolios.analytics.errors import InputError


def mean_historical_return(
    prices: pd.DataFrame, *, periods_per_year: int = 252, compounding: bool = True
) -> pd.Series:
    """Geometric: (prod(1 + r))^(periods_per_year / count) - 1 per asset over the returns it
    has; arithmetic: mean(r) * periods_per_year."""
    if compounding:
        return returns_module.annualised_geometric_return(prices, periods_per_year)
    return returns_module.annualised_arithmetic_return(prices, periods_per_year)


def ema_historical_return(
    prices: pd.DataFrame,
    *,
    span: float = 500,
    periods_per_year: int = 252,
    compounding: bool = True,
) -> pd.Series:
    """Exponentially weighted mean period return (newest weighs most; pandas ewm(span),
    adjust=True), annualised by compounding or by scaling."""
    rets = returns_module.simple_returns(prices).dropna(how="all")
    mean = rets.ewm(span=span).mean().iloc[-1]
    return (1 + mean) ** periods_per_year - 1 if compounding else mean * periods_per_year


def capm_return(
    prices: pd.DataFrame,
    *,
    market_prices: pd.Series | None = None,
    risk_free_rate: float = 0.0,
    periods_per_year: int = 252,
    compounding: bool = True,
) -> pd.Series:
    """rf + beta_i * (E[R_m] - rf). beta_i = cov(r_i, r_m) / var(r_m) on pairwise-complete
    period returns; the market is `market_prices` or the equal-weighted mean of the assets'
    returns; E[R_m] geometric (compounding) or arithmetic, annual."""
    rets = returns_module.simple_returns(prices).dropna(how="all")
    if market_prices is None:
        market = rets.mean(axis=1)
    else:
        market = returns_module.simple_returns(market_prices.to_frame()).iloc[:, 0]
        market = market.reindex(rets.index)
    if "__market__" in rets.columns:
        raise InputError("an asset is named __market__", code="invalid_input")
    joined = rets.assign(__market__=market)
    cov = joined.cov()
    betas = cov["__market__"].drop("__market__") / cov.loc["__market__", "__market__"]
    m = joined["__market__"]
    if compounding:
        market_return = (1 + m).prod() ** (periods_per_year / m.count()) - 1
    else:
        market_return = m.mean() * periods_per_year
    return risk_free_rate + betas * (market_return - risk_free_rate)


def equilibrium_returns(
    cov: pd.DataFrame | np.ndarray,
    market_weights: pd.Series | np.ndarray,
    risk_aversion: float,
    *,
    risk_free_rate: float = 0.0,
) -> pd.Series | np.ndarray:
    """Market-implied returns delta * Sigma * w_mkt + rf (Black and Litterman's prior; He and
    Litterman 1999, eq. 2). Market weights are normalised to sum to 1 (market caps may be
    passed); a Series is aligned to the covariance's labels."""
    if isinstance(market_weights, pd.Series) and isinstance(cov, pd.DataFrame):
        missing = [a for a in cov.columns if a not in market_weights.index]
        if missing:
            raise InputError(
                f"no market weight for {missing[0]!r}",
                code="unknown_asset",
                constraint=f"asset:{missing[0]}",
            )
        w = market_weights.reindex(cov.columns).to_numpy(dtype=float)
    else:
        w = np.asarray(market_weights, dtype=float)
    if w.sum() <= 0:
        raise InputError("market weights must have a positive sum", code="invalid_input")
    w = w / w.sum()
    pi = risk_aversion * (np.asarray(cov, dtype=float) @ w) + risk_free_rate
    if isinstance(cov, pd.DataFrame):
        return pd.Series(pi, index=cov.columns)
    return pi


def market_implied_risk_aversion(
    market_prices: pd.Series, *, periods_per_year: int = 252, risk_free_rate: float = 0.0
) -> float:
    """delta = (mean period return * periods_per_year - rf) / (variance * periods_per_year)."""
    rets = market_prices.pct_change(fill_method=None).dropna()
    return float(
        (rets.mean() * periods_per_year - risk_free_rate) / (rets.var() * periods_per_year)
    )
