"""Historical return statistics from price series.

Prices: a pandas DataFrame indexed by date, one column per security (adjusted closes), NaN
before a series starts. Returns are simple period returns P_t / P_{t-1} - 1. Annualisation
uses `periods_per_year` (12 for month-end prices, 252 for daily). Units are fractions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simple_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Period simple returns; the first row of each series (no previous price) is dropped."""
    return prices.pct_change(fill_method=None).iloc[1:]


def annualised_geometric_return(prices: pd.DataFrame, periods_per_year: int = 12) -> pd.Series:
    """Compound annual growth rate per column: (prod(1 + r))^(periods_per_year / n) - 1."""
    rets = simple_returns(prices)
    out = {}
    for col in rets.columns:
        r = rets[col].dropna().to_numpy()
        out[col] = (
            float(np.prod(1.0 + r) ** (periods_per_year / len(r)) - 1.0) if len(r) else np.nan
        )
    return pd.Series(out)


def annualised_arithmetic_return(prices: pd.DataFrame, periods_per_year: int = 12) -> pd.Series:
    """Mean period return times periods_per_year, per column."""
    return simple_returns(prices).mean() * periods_per_year


def annualised_volatility(prices: pd.DataFrame, periods_per_year: int = 12) -> pd.Series:
    """Sample standard deviation (ddof=1) of period returns times sqrt(periods_per_year)."""
    return simple_returns(prices).std(ddof=1) * np.sqrt(periods_per_year)


def sample_covariance(prices: pd.DataFrame, periods_per_year: int = 12) -> pd.DataFrame:
    """Annualised sample covariance of period returns (pairwise complete observations)."""
    return simple_returns(prices).cov() * periods_per_year


def portfolio_volatility(weights: np.ndarray, covariance: np.ndarray) -> float:
    """sqrt(w' Sigma w): weights are fractions, covariance annual; the result is annual."""
    w = np.asarray(weights, dtype=float)
    return float(np.sqrt(w @ np.asarray(covariance, dtype=float) @ w))
