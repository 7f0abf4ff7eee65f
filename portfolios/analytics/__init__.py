"""Pure portfolio analytics (returns, risk, Monte Carlo): numpy/pandas only, never Django."""
