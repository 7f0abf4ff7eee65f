"""Pure portfolio analytics (returns, risk, Monte Carlo): numpy/pandas only, never Django.

Modules: assumptions (capital market assumptions per asset class, portfolio expected return and
volatility), returns (historical statistics from prices), monte_carlo (goal projections),
glide_path (risk level as a goal date nears).
"""
