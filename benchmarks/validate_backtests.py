"""Validate the backtester on real ETF history (../shared/data/etf_adjclose_daily.csv) against bt.

Portfolios: 60/40 SPY/AGG (from AGG's first day, 2003-09-29) and a five-fund portfolio
(SPY 35%, EFA 20%, EEM 10%, AGG 25%, VNQ 10%, from VNQ's first day, 2004-09-29), to the end
of the file. Policies: buy-and-hold, monthly, quarterly, annual and a 5-point band, each
without costs and at 10 bps of every trade. Conventions shared with bt: see benchmarks.peers.
Each line prints our final value, bt's and the largest relative difference over all days;
a failure is a difference above 1e-9 without costs or 1e-5 with costs. With costs the two
conventions are not the same to the last digit: the engine sizes trades net of its two-pass
cost estimate and keeps what the estimate over-reserves in cash (bps^2 of the amount traded:
1.00 on the initial 1,000,000 at 10 bps), where bt invests it; over twenty years of monthly
rebalancing the values stay within a few 1e-6 (the test suite checks 1e-6 over three years
of generated prices).
"""

import numpy as np
import pandas as pd

from benchmarks import SHARED_DATA, peers

PORTFOLIOS = {
    "60/40 SPY/AGG": pd.Series({"SPY": 0.6, "AGG": 0.4}),
    "five funds": pd.Series({"SPY": 0.35, "EFA": 0.2, "EEM": 0.1, "AGG": 0.25, "VNQ": 0.1}),
}
POLICIES = {
    "buy_and_hold": {},
    "monthly": {"frequency": "monthly"},
    "quarterly": {"frequency": "quarterly"},
    "annual": {"frequency": "annual"},
    "band": {"absolute_band": 0.05},
}
TOLERANCE = {0.0: 1e-9, 10.0: 1e-5}


def run() -> list[str]:
    from rebalancing.engine import backtest, policy, trades

    failures: list[str] = []
    prices = pd.read_csv(SHARED_DATA / "etf_adjclose_daily.csv", index_col="date", parse_dates=True)
    for label, target in PORTFOLIOS.items():
        frame = prices[list(target.index)].dropna()
        print(
            f"[{label}] {frame.index[0]:%Y-%m-%d} .. {frame.index[-1]:%Y-%m-%d}, {len(frame)} days"
        )
        policies = backtest.replace(
            policy.Policies.uniform(
                len(POLICIES), absolute_band=np.nan, relative_band=np.nan, cash_buffer=0.0,
                min_trade=0.0, cash_flow=False,
            ),
            frequency=np.array([p.get("frequency", "none") for p in POLICIES.values()], dtype=object),
            absolute_band=np.array([p.get("absolute_band", np.nan) for p in POLICIES.values()]),
        )  # fmt: skip
        for bps, tolerance in TOLERANCE.items():
            costs = trades.CostModel(commission=0.0, slippage_bps=bps)
            ours = backtest.run(frame, target, policies, costs=costs)
            for j, name in enumerate(POLICIES):
                theirs = peers.bt_values(peers.bt_backtest(frame, target, name, bps), frame)
                difference = float(np.abs(ours.value[:, j] / theirs - 1).max())
                trades_count = len(set(ours.trades.day[ours.trades.variant == j].tolist()))
                print(
                    f"  {name:>12} {bps:>4.0f} bps: ours {ours.value[-1, j]:>16,.4f}  "
                    f"bt {theirs[-1]:>16,.4f}  max |rel diff| {difference:.2e} "
                    f"(tolerance {tolerance:.0e}; {trades_count} trading days, "
                    f"CAGR {ours.summary.cagr[j]:.2%}, max drawdown "
                    f"{ours.summary.drawdown.depth[j]:.1%})"
                )
                if not difference <= tolerance:
                    failures.append(
                        f"{label} {name} {bps:g} bps: expected bt's {theirs[-1]:,.4f}, got "
                        f"{ours.value[-1, j]:,.4f}, max relative difference {difference:.2e}"
                    )
    return failures
