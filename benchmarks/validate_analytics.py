"""Validate portfolios.analytics on real month-end ETF prices (../shared/data/etf_adjclose_monthly.csv).

1. Historical statistics (portfolios.analytics.returns) against independent computations:
   PyPortfolioOpt's expected_returns.mean_historical_return / risk_models.sample_cov with
   frequency=12, and numpy directly (np.cov, np.std). Must agree to 1e-10.
2. portfolio_volatility(w, covariance) against the standard deviation of the monthly-rebalanced
   portfolio's own return series (an identity: the variance of w'r is w' Sigma w).
3. The capital market assumptions (assumptions.py) against the realised 2007-06 .. 2025-08
   history of one ETF per asset class (SPY, EFA, EEM, AGG, TIP, VNQ, GLD, BIL):
   * expected return within 2 standard errors of the realised arithmetic mean plus 2
     percentage points (CMAs are forward-looking by design: today's yields, valuations);
   * volatility within 35% (relative) or 1 percentage point of the realised volatility;
   * correlations within 0.30 of the realised ones (cash excluded: its realised correlations
     are noise around a near-constant series).
   Sanity rather than proof: the assumptions should be of the right size and sign.
"""

import itertools
import math

import numpy as np
import pandas as pd

from benchmarks import SHARED_DATA

PROXIES = {
    "us-stocks": "SPY",
    "intl-developed": "EFA",
    "emerging": "EEM",
    "us-bonds": "AGG",
    "tips": "TIP",
    "reits": "VNQ",
    "gold": "GLD",
    "cash": "BIL",
}


def run() -> list[str]:
    from pypfopt import expected_returns, risk_models

    from portfolios.analytics import assumptions, returns

    failures: list[str] = []
    prices = pd.read_csv(
        SHARED_DATA / "etf_adjclose_monthly.csv", index_col="date", parse_dates=True
    )
    window = prices[list(PROXIES.values())].dropna()
    print(f"window {window.index[0]:%Y-%m} .. {window.index[-1]:%Y-%m}, {len(window)} month-ends")

    # 1. our statistics vs PyPortfolioOpt and numpy (full ragged file and the common window)
    for label, frame in (("all 21 ETFs (ragged starts)", prices), ("common window", window)):
        ours_g = returns.annualised_geometric_return(frame, 12)
        ref_g = expected_returns.mean_historical_return(frame, frequency=12, compounding=True)
        ours_a = returns.annualised_arithmetic_return(frame, 12)
        ref_a = expected_returns.mean_historical_return(frame, frequency=12, compounding=False)
        diff_g = float((ours_g - ref_g).abs().max())
        diff_a = float((ours_a - ref_a).abs().max())
        print(
            f"[{label}] geometric return vs pypfopt: max |diff| {diff_g:.2e}; arithmetic: {diff_a:.2e}"
        )
        if diff_g > 1e-10 or diff_a > 1e-10:
            failures.append(
                f"{label}: annualised returns differ from PyPortfolioOpt by {max(diff_g, diff_a):.2e}"
            )
    cov = returns.sample_covariance(window, 12)
    ref_cov = risk_models.sample_cov(window, frequency=12)
    rets = window.pct_change().iloc[1:].to_numpy()
    np_cov = np.cov(rets, rowvar=False, ddof=1) * 12
    np_vol = rets.std(axis=0, ddof=1) * math.sqrt(12)
    d1 = float(np.abs(cov.to_numpy() - ref_cov.to_numpy()).max())
    d2 = float(np.abs(cov.to_numpy() - np_cov).max())
    d3 = float(np.abs(returns.annualised_volatility(window, 12).to_numpy() - np_vol).max())
    print(
        f"covariance vs pypfopt sample_cov: {d1:.2e}; vs np.cov: {d2:.2e}; volatility vs np.std: {d3:.2e}"
    )
    if max(d1, d2, d3) > 1e-10:
        failures.append(
            f"covariance/volatility differ from the references by {max(d1, d2, d3):.2e}"
        )

    # 2. portfolio volatility identity on a 60/40 SPY/AGG monthly-rebalanced portfolio
    w = np.array([0.6, 0.4])
    two = window[["SPY", "AGG"]]
    series = two.pct_change().iloc[1:].to_numpy() @ w
    direct = float(series.std(ddof=1) * math.sqrt(12))
    formula = returns.portfolio_volatility(w, returns.sample_covariance(two, 12).to_numpy())
    print(f"60/40 volatility: w'Sigma w {formula:.6f} vs the portfolio's own series {direct:.6f}")
    if abs(formula - direct) > 1e-12:
        failures.append(f"portfolio volatility {formula} != {direct}")

    # 3. capital market assumptions vs realised history
    years = (len(window) - 1) / 12
    realised_mu = returns.annualised_arithmetic_return(window, 12)
    realised_vol = returns.annualised_volatility(window, 12)
    print(
        f"\n{'class':<16}{'ETF':<5}{'CMA mu':>8}{'hist mu':>9}{'band':>8}{'CMA vol':>9}{'hist vol':>9}"
    )
    for cls, ticker in PROXIES.items():
        mu, vol = assumptions.EXPECTED_RETURN[cls], assumptions.VOLATILITY[cls]
        h_mu, h_vol = float(realised_mu[ticker]), float(realised_vol[ticker])
        band = 2 * h_vol / math.sqrt(years) + 0.02
        print(f"{cls:<16}{ticker:<5}{mu:>8.2%}{h_mu:>9.2%}{band:>8.2%}{vol:>9.2%}{h_vol:>9.2%}")
        if abs(mu - h_mu) > band:
            failures.append(
                f"{cls}: expected return {mu:.2%} vs realised {h_mu:.2%} (band {band:.2%})"
            )
        if abs(vol - h_vol) > max(0.35 * h_vol, 0.01):
            failures.append(f"{cls}: volatility {vol:.2%} vs realised {h_vol:.2%}")
    corr = window.pct_change().iloc[1:].corr()
    worst = (0.0, "")
    for a, b in itertools.combinations([c for c in PROXIES if c != "cash"], 2):
        cma = assumptions.correlation_matrix((a, b))[0, 1]
        hist = float(corr.loc[PROXIES[a], PROXIES[b]])
        if abs(cma - hist) > worst[0]:
            worst = (abs(cma - hist), f"{a}/{b}: CMA {cma:.2f} vs realised {hist:.2f}")
        if abs(cma - hist) > 0.30:
            failures.append(f"correlation {a}/{b}: {cma:.2f} vs realised {hist:.2f}")
    print(f"largest correlation gap: {worst[1]}")
    return failures
