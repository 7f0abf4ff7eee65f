"""Historical return statistics from price series.

Prices: a pandas DataFrame indexed by date, one column per security (adjusted closes), NaN
before a series starts. Returns are simple period returns P_t / P_{t-1} - 1 (or log returns
ln(P_t / P_{t-1})). Annualisation uses `periods_per_year` (12 for month-end prices, 252 for
daily). Units are fractions.

Missing prices are never silently zero-filled: before a listing (and after a delisting) the
return is NaN. A gap inside a series' life (a missing day) gives NaN for that day and, by
default, for the day after too, since that return has no previous price; with
`across_gaps=True` the day after the gap gets the whole return since the last price instead,
so compounding over the gap is kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _previous_prices(prices: pd.DataFrame, across_gaps: bool) -> pd.DataFrame:
    if not across_gaps:
        return prices.shift(1)
    # Carry the last price over a gap inside a series' life only: never before the first
    # price, and never on the missing day itself (it stays NaN).
    return prices.ffill().shift(1).where(prices.notna())


def simple_returns(prices: pd.DataFrame, *, across_gaps: bool = False) -> pd.DataFrame:
    """Period simple returns P_t / P_{t-1} - 1; the first row (no previous price) is dropped.
    NaN where there is no price, and (unless `across_gaps`) on the day after a gap."""
    if not across_gaps:
        return prices.pct_change(fill_method=None).iloc[1:]
    return (prices / _previous_prices(prices, True) - 1.0).iloc[1:]


def log_returns(prices: pd.DataFrame, *, across_gaps: bool = False) -> pd.DataFrame:
    """Period log returns ln(P_t / P_{t-1}); missing data as in `simple_returns`."""
    return np.log(prices / _previous_prices(prices, across_gaps)).iloc[1:]


def annualise_mean(
    mean_period_return: pd.Series | float, periods_per_year: int
) -> pd.Series | float:
    """Arithmetic annualisation of a mean period return: mean * periods_per_year."""
    return mean_period_return * periods_per_year


def annualise_compound(
    mean_period_return: pd.Series | float, periods_per_year: int
) -> pd.Series | float:
    """Compound annualisation: (1 + mean)^periods_per_year - 1."""
    return (1 + mean_period_return) ** periods_per_year - 1


def annualise_covariance(cov: pd.DataFrame, periods_per_year: int) -> pd.DataFrame:
    """Covariance of period returns times periods_per_year (i.i.d. scaling)."""
    return cov * periods_per_year


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
