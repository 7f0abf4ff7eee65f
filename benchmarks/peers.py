"""The same backtests written for bt and vectorbt (test-only peers), under the conventions the
backtester states: trades at the close of the day a rule fires, fractional shares, the whole
value invested, calendar dates on the first trading day of the month / quarter / year, costs
proportional to each trade's amount. bt sizes its rebalance on the value before costs and lands
slightly off target when it pays them; a second Rebalance the same day sizes on the value after
costs, which is the engine's convention."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

SCHEDULES = ("buy_and_hold", "monthly", "quarterly", "annual", "band")


def bt_backtest(
    prices: pd.DataFrame, target: pd.Series, schedule: str, bps: float, band: float = 0.05
) -> object:
    """A bt Backtest (not run) of `schedule` on `prices`."""
    import bt

    class OutsideBand(bt.Algo):
        """Run on the first day, then when a holding's share of the invested value is more
        than `band` from its target."""

        def __call__(self, strategy: bt.core.StrategyBase) -> bool:
            if not strategy.children:
                return True
            values = np.array([strategy.children[name].value for name in target.index])
            return bool((np.abs(values / values.sum() - target.to_numpy()) > band + 1e-9).any())

    runs = {
        "buy_and_hold": bt.algos.RunOnce(),
        "monthly": bt.algos.RunMonthly(run_on_first_date=True, run_on_end_of_period=False),
        "quarterly": bt.algos.RunQuarterly(run_on_first_date=True, run_on_end_of_period=False),
        "annual": bt.algos.RunYearly(run_on_first_date=True, run_on_end_of_period=False),
        "band": OutsideBand(),
    }
    strategy = bt.Strategy(
        schedule,
        [
            runs[schedule],
            bt.algos.SelectAll(),
            bt.algos.WeighSpecified(**target),
            bt.algos.Rebalance(),
            bt.algos.Rebalance(),
        ],
    )
    kwargs = {"commissions": lambda q, p: abs(q * p) * bps / 1e4} if bps else {}
    return bt.Backtest(
        strategy, prices, integer_positions=False, initial_capital=1e6, progress_bar=False, **kwargs
    )


def bt_values(test: object, prices: pd.DataFrame) -> np.ndarray:
    """Run a bt Backtest and return its daily values on the price dates."""
    import bt

    result = bt.run(test)
    name = next(iter(result.backtests))
    return result.backtests[name].strategy.values.reindex(prices.index).to_numpy()  # noqa: PD011


def vectorbt_monthly(prices: pd.DataFrame, target: pd.Series, bps: float) -> np.ndarray:
    """vectorbt's numba path: target-percent orders on the first trading day of each month."""
    import vectorbt as vbt

    month = prices.index.to_period("M")
    first = np.r_[True, month[1:] != month[:-1]]
    size = np.where(first[:, None], target.to_numpy()[None, :], np.nan)
    portfolio = vbt.Portfolio.from_orders(
        prices, size=size, size_type="targetpercent", group_by=True, cash_sharing=True,
        call_seq="auto", init_cash=1e6, fees=bps / 1e4,
    )  # fmt: skip
    return portfolio.value().to_numpy()


@functools.cache
def _band_functions() -> tuple[object, object]:
    """vectorbt callbacks, compiled once per process (numba caches by function object)."""
    from numba import njit
    from vectorbt.portfolio import nb
    from vectorbt.portfolio.enums import SizeType

    @njit
    def pre_segment(c, weights, band):
        held = c.last_position[c.from_col : c.to_col] * c.close[c.i, c.from_col : c.to_col]
        invested = held.sum()
        value = c.last_cash[c.group] + invested
        rebalance = c.i == 0 or invested <= 0
        if not rebalance:
            rebalance = (np.abs(held / invested - weights) > band + 1e-9).any()
        order_value = np.empty(c.to_col - c.from_col, dtype=np.float64)
        for k in range(c.from_col, c.to_col):
            c.last_val_price[k] = c.close[c.i, k]
            order_value[k - c.from_col] = weights[k - c.from_col] * value - held[k - c.from_col]
        if rebalance:
            nb.sort_call_seq_nb(c, weights, SizeType.TargetPercent, 0, order_value)
        return (rebalance,)

    @njit
    def order(c, rebalance, weights, fees):
        if not rebalance:
            return nb.order_nothing_nb()
        return nb.order_nb(
            size=weights[c.col - c.from_col], price=c.close[c.i, c.col],
            size_type=SizeType.TargetPercent, fees=fees,
        )  # fmt: skip

    return pre_segment, order


def vectorbt_band(prices: pd.DataFrame, target: pd.Series, bps: float, band: float) -> np.ndarray:
    """vectorbt's numba path with a band rule decided inside the simulation (from_order_func):
    on a day a weight is more than `band` from its target, every asset is ordered to its target
    percent (sells first)."""
    import vectorbt as vbt

    pre_segment, order = _band_functions()
    weights = target.to_numpy(dtype=np.float64)
    portfolio = vbt.Portfolio.from_order_func(
        prices, order, weights, bps / 1e4, pre_segment_func_nb=pre_segment,
        pre_segment_args=(weights, band), group_by=True, cash_sharing=True, init_cash=1e6,
    )  # fmt: skip
    return portfolio.value().to_numpy()
