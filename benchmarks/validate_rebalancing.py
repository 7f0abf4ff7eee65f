"""Threshold-rebalanced 60/40 SPY/AGG, daily from 2004, through the drift engine, cross-checked
against an independent plain pandas/Python loop on the same adjusted closes.

The engine runs all band widths at once (one portfolio per band: the vectorised path the scan
uses); each day: drift.compute -> policy.evaluate -> trades.generate, then the trades are applied.
Without costs both computations must agree on every rebalance date and on the final value to
1e-9 (relative). With costs (5 bps), the engine's value must equal the cost-free path's value
less the costs it reported, compounding aside, so that check is: value + cumulative costs stays
within 0.5% of the cost-free value, and every rebalance lands within the band.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from benchmarks import SHARED_DATA

BANDS = [0.03, 0.05, 0.10]
START = "2004-01-02"
TARGET = np.array([0.6, 0.4])
INITIAL = 100_000.0


def load_prices() -> pd.DataFrame:
    frame = pd.read_csv(
        SHARED_DATA / "etf_adjclose_daily.csv", parse_dates=["date"], index_col="date"
    )
    return frame.loc[START:, ["SPY", "AGG"]].dropna()


def engine_backtest(
    prices: pd.DataFrame, *, bps: float = 0.0
) -> tuple[np.ndarray, list[list[pd.Timestamp]], np.ndarray, np.ndarray]:
    """(final values [B], rebalance dates per band, cumulative costs [B], max |drift| after trades [B])."""
    from rebalancing.engine import drift, policy, trades

    n = len(BANDS)
    values = prices.to_numpy()
    shares = np.tile(INITIAL * TARGET / values[0], (n, 1))
    cash = np.zeros(n)
    dates: list[list[pd.Timestamp]] = [[] for _ in range(n)]
    costs_total = np.zeros(n)
    worst_after = np.zeros(n)
    pol = policy.Policies.uniform(
        n,
        relative_band=np.nan,
        cash_buffer=0.0,
        min_trade=0.0,
        cash_flow=False,
        allow_short_term_gains=True,
    )
    pol = policy.Policies(**{**pol.__dict__, "absolute_band": np.array(BANDS)})
    cost_model = trades.CostModel(commission=0.0, slippage_bps=bps)
    for day, row in zip(prices.index[1:], values[1:], strict=True):
        book = drift.Book(
            portfolio_ids=np.arange(n),
            classes=("equity", "bonds"),
            security_ids=np.array([1, 2]),
            security_class=np.array([0, 1]),
            prices=row,
            fractional=np.array([True, True]),
            quantity=shares.copy(),
            cash=cash.copy(),
            target=np.tile(TARGET, (n, 1)),
            target_security=np.tile([0, 1], (n, 1)),
        )
        state = drift.compute(book)
        decision = policy.evaluate(book, state, pol, today=day.date())
        if not decision.fired.any():
            continue
        held = shares > 0
        p_idx, s_idx = np.nonzero(held)
        lots = trades.Lots(
            portfolio=p_idx,
            security=s_idx,
            lot_id=np.arange(len(p_idx)),
            quantity=shares[p_idx, s_idx],
            cost_basis=shares[p_idx, s_idx] * row[s_idx],
            holding_start=np.full(len(p_idx), np.datetime64("2000-01-01", "D")),
            household=p_idx,
        )
        result = trades.generate(
            book, state, decision, pol, lots, today=day.date(), costs=cost_model
        )
        np.add.at(shares, (result.portfolio, result.security), result.side * result.quantity)
        cash = result.cash_after.copy()
        costs_total += result.total_cost
        for i in np.flatnonzero(decision.fired):
            dates[i].append(day)
            worst_after[i] = max(
                worst_after[i], float(np.abs(result.weights_after[i] - TARGET).max())
            )
    final = shares @ values[-1] + cash
    return final, dates, costs_total, worst_after


def pandas_backtest(prices: pd.DataFrame, band: float) -> tuple[float, list[pd.Timestamp]]:
    """The plain version: hold shares, reset to 60/40 when SPY's weight leaves 60% +- band."""
    spy, agg = prices["SPY"].to_numpy(), prices["AGG"].to_numpy()
    a = INITIAL * 0.6 / spy[0]
    b = INITIAL * 0.4 / agg[0]
    dates = []
    for i in range(1, len(prices)):
        value = a * spy[i] + b * agg[i]
        weight = a * spy[i] / value
        if abs(weight - 0.6) > band + 1e-9:
            a, b = 0.6 * value / spy[i], 0.4 * value / agg[i]
            dates.append(prices.index[i])
    return a * spy[-1] + b * agg[-1], dates


def run() -> list[str]:
    problems: list[str] = []
    prices = load_prices()
    started = time.perf_counter()
    final, dates, _, worst = engine_backtest(prices)
    print(
        f"{len(prices)} days {prices.index[0].date()}..{prices.index[-1].date()} ({time.perf_counter() - started:.1f}s)"
    )
    buy_hold = INITIAL * (
        0.6 * prices["SPY"].iloc[-1] / prices["SPY"].iloc[0]
        + 0.4 * prices["AGG"].iloc[-1] / prices["AGG"].iloc[0]
    )
    print(f"buy and hold 60/40: {buy_hold:,.2f}")
    for i, band in enumerate(BANDS):
        reference, ref_dates = pandas_backtest(prices, band)
        rel = abs(final[i] / reference - 1)
        print(
            f"band {band:.0%}: engine {final[i]:,.2f} vs pandas {reference:,.2f} (rel diff {rel:.1e}); "
            f"rebalances {len(dates[i])} vs {len(ref_dates)}; max |weight - target| after trades {worst[i]:.1e}"
        )
        if rel > 1e-9:
            problems.append(f"band {band}: final value differs by {rel:.2e}")
        if dates[i] != ref_dates:
            problems.append(
                f"band {band}: rebalance dates differ ({len(dates[i])} vs {len(ref_dates)})"
            )
        if worst[i] > 1e-9:
            problems.append(
                f"band {band}: weights after a full rebalance {worst[i]:.2e} from target"
            )
    costly, _, costs, worst_costly = engine_backtest(prices, bps=5.0)
    for i, band in enumerate(BANDS):
        gap = abs((costly[i] + costs[i]) / final[i] - 1)
        print(
            f"band {band:.0%} with 5 bps: {costly[i]:,.2f}, costs {costs[i]:,.2f}, value + costs vs cost-free {gap:.2%}"
        )
        if gap > 0.005:
            problems.append(f"band {band}: costs do not account for the value gap ({gap:.2%})")
        if worst_costly[i] > band:
            problems.append(
                f"band {band}: after a costly rebalance a weight is {worst_costly[i]:.3f} from target"
            )
    return problems
