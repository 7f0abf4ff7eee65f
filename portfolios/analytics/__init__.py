"""Pure portfolio analytics (returns, risk, Monte Carlo): numpy/pandas only, never Django.

Modules: assumptions (capital market assumptions per asset class, portfolio expected return and
volatility), returns (returns and historical statistics from prices), monte_carlo (goal
projections), glide_path (risk level as a goal date nears).

Portfolio construction (documented in docs/analytics.md): risk_models (sample, EWMA and
Ledoit-Wolf covariance, PSD check and repair), expected_returns (historical, EWMA, CAPM,
market-implied), optimize (minimum volatility, maximum Sharpe, efficient return and risk,
quadratic utility, frontier; bounds and group limits), risk_parity (risk budgets, inverse
volatility), hrp (hierarchical risk parity), black_litterman (views, He-Litterman and Idzorek
Omega, posterior), allocation (weights to shares), qp (the dense QP solver), errors (the
exceptions, with machine-readable codes). scipy is imported lazily, on first use.

Performance from the ledger (docs/analytics.md, "Performance"): history (daily value and flows
of accounts from transactions and closes), performance (time- and money-weighted returns over
periods, fees, after-tax), irr (vectorised XIRR), benchmark (monthly rebalanced blends of index
series), regression (alpha, beta, R-squared, tracking error, factor regressions), attribution
(Brinson-Fachler, GRAP linking), drawdown (drawdown episodes against a tolerance).
"""
