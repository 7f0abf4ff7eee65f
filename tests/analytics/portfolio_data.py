"""Generated market data for the optimiser tests (a factor model; no files, no network)."""

import numpy as np
import pandas as pd


def factor_returns(n_assets: int, n_days: int = 1260, seed: int = 0) -> pd.DataFrame:
    """Daily returns of `n_assets` stocks: market and sector factors plus idiosyncratic noise,
    realistic dispersion of betas and volatilities."""
    rng = np.random.default_rng(seed)
    sectors = 8
    market = rng.standard_normal(n_days) * 0.011
    sector = rng.standard_normal((n_days, sectors)) * 0.006
    beta = rng.normal(1.0, 0.3, n_assets)
    member = rng.integers(0, sectors, n_assets)
    loading = rng.normal(1.0, 0.3, n_assets)
    idio = rng.uniform(0.15, 0.45, n_assets) / np.sqrt(252)
    drift = rng.normal(0.0004, 0.0003, n_assets)
    values = (
        drift
        + np.outer(market, beta)
        + sector[:, member] * loading
        + rng.standard_normal((n_days, n_assets)) * idio
    )
    return pd.DataFrame(values, columns=[f"A{i:03d}" for i in range(n_assets)])


def mean_cov(returns: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Annualised arithmetic mean and sample covariance."""
    return returns.mean() * 252, returns.cov() * 252
