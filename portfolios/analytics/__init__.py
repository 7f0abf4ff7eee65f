"""Pure portfolio analytics (returns, risk, Monte Carlo): numpy/pandas only, never Django.

Modules: assumptions (capital market assumptions per asset class, portfolio expected return and
volatility), returns (historical statistics from prices), monte_carlo (goal projections),
glide_path (risk level as a goal date nears). Performance from the ledger (docs/analytics.md,
"Performance"): history (daily value and flows of accounts from transactions and closes),
performance (time- and money-weighted returns over periods, fees, after-tax), irr (vectorised
XIRR), benchmark (monthly rebalanced blends of index series), regression (alpha, beta,
R-squared, tracking error, factor regressions), attribution (Brinson-Fachler, GRAP linking),
drawdown (drawdown episodes against a tolerance).
"""
