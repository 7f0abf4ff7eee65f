"""Pre-tax backtests: bt as an independent implementation on generated prices, the engine's
decisions replayed day by day, and the API's errors.

Conventions shared with bt for the cross-checks: trades at the close of the day a rule fires,
fractional shares, the whole value invested (cash buffer 0, minimum trade 0), calendar dates
on the first trading day of the month / quarter / year, buy-and-hold = bt's RunOnce.
Costs: proportional (10 bps of each trade's amount). bt takes each buy's cost out of the buy's
amount and pays sales' costs from cash; the engine deducts the estimated cost of all trades
from the value to invest before sizing them. The two conventions differ at second order (a
few hundredths of the cost carried for a period); over three years of monthly rebalancing at
10 bps the values stay within 1e-6.
"""

import datetime as dt

import bt
import numpy as np
import pandas as pd
import pytest

from portfolios.analytics import metrics
from rebalancing.engine import backtest, drift, policy, trades

TICKERS = ["EQ", "INTL", "BOND", "GOLD"]
TARGET = pd.Series([0.4, 0.2, 0.3, 0.1], index=TICKERS)
PLAIN = {
    "absolute_band": np.nan,
    "relative_band": np.nan,
    "cash_buffer": 0.0,
    "min_trade": 0.0,
    "cash_flow": False,
}


def generated_prices(days: int = 780, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vol = np.array([0.012, 0.014, 0.004, 0.01])
    returns = rng.normal(0.0002, 1.0, size=(days, len(TICKERS))) * vol
    returns[0] = 0.0
    index = pd.bdate_range("2019-01-02", periods=days)
    return pd.DataFrame(100 * np.cumprod(1 + returns, axis=0), index=index, columns=TICKERS)


class OutsideBand(bt.Algo):
    """bt's side of the band rule, written from its definition: run on the first day, then on
    any day a holding's share of the invested value is more than `band` from its target."""

    def __init__(self, target: pd.Series, band: float) -> None:
        super().__init__()
        self.target, self.band = target, band

    def __call__(self, strategy: bt.core.StrategyBase) -> bool:
        if not strategy.children:
            return True
        values = pd.Series({name: strategy.children[name].value for name in self.target.index})
        return bool(((values / values.sum() - self.target).abs() > self.band + 1e-9).any())


def bt_values(prices: pd.DataFrame, schedule: str, bps: float, band: float = 0.05) -> pd.Series:
    runs = {
        "buy_and_hold": bt.algos.RunOnce(),
        "monthly": bt.algos.RunMonthly(run_on_first_date=True, run_on_end_of_period=False),
        "quarterly": bt.algos.RunQuarterly(run_on_first_date=True, run_on_end_of_period=False),
        "annual": bt.algos.RunYearly(run_on_first_date=True, run_on_end_of_period=False),
        "band": OutsideBand(TARGET, band),
    }
    strategy = bt.Strategy(
        schedule,
        [
            runs[schedule],
            bt.algos.SelectAll(),
            bt.algos.WeighSpecified(**TARGET),
            bt.algos.Rebalance(),
            # bt sizes one pass on the value before its costs, landing ~1e-5 off target; a
            # second pass sizes on the value after costs, the engine's convention.
            bt.algos.Rebalance(),
        ],
    )
    kwargs = {"commissions": lambda q, p: abs(q * p) * bps / 1e4} if bps else {}
    test = bt.Backtest(
        strategy, prices, integer_positions=False, initial_capital=1e6, progress_bar=False, **kwargs
    )
    return bt.run(test).backtests[schedule].strategy.values.reindex(prices.index)  # noqa: PD011 (bt attribute)


VARIANTS = {
    "buy_and_hold": {},
    "monthly": {"frequency": "monthly"},
    "quarterly": {"frequency": "quarterly"},
    "annual": {"frequency": "annual"},
    "band": {"absolute_band": 0.05},
}


@pytest.mark.parametrize(("bps", "tolerance"), [(0.0, 1e-9), (10.0, 1e-6)])
def test_values_agree_with_bt(bps: float, tolerance: float) -> None:
    prices = generated_prices()
    policies = backtest.replace(
        policy.Policies.uniform(5, **PLAIN),
        frequency=np.array([v.get("frequency", "none") for v in VARIANTS.values()], dtype=object),
        absolute_band=np.array([v.get("absolute_band", np.nan) for v in VARIANTS.values()]),
    )
    costs = trades.CostModel(commission=0.0, slippage_bps=bps)
    result = backtest.run(prices, TARGET, policies, costs=costs)
    for j, name in enumerate(VARIANTS):
        theirs = bt_values(prices, name, bps).to_numpy()
        difference = np.abs(result.value[:, j] / theirs - 1).max()
        assert difference < tolerance, (name, difference)
    # the band variant really traded, and less often than monthly
    days = {j: len(set(result.trades.day[result.trades.variant == j])) for j in range(5)}
    assert days[0] == 1 and 1 < days[4] < days[1]


def test_each_decision_is_the_drift_checks() -> None:
    """Replay every day of random policies: the drift check's `evaluate`, given the backtest's
    holdings of the evening before, fires exactly on the days the backtest traded."""
    prices = generated_prices(days=400, seed=5)
    rng = np.random.default_rng(11)
    n = 24
    policies = backtest.replace(
        policy.Policies.uniform(n),
        frequency=rng.choice(["none", "monthly", "quarterly", "annual"], n).astype(object),
        calendar_day=rng.integers(1, 29, n),
        absolute_band=np.where(rng.random(n) < 0.7, rng.uniform(0.01, 0.08, n), np.nan),
        relative_band=np.where(rng.random(n) < 0.5, rng.uniform(0.1, 0.4, n), np.nan),
        full=rng.random(n) < 0.5,
        cash_buffer=rng.choice([0.0, 0.01, 0.02], n),
        min_trade=rng.choice([0.0, 50.0, 500.0], n),
        cash_flow=rng.random(n) < 0.5,
    )
    costs = trades.CostModel(commission=rng.choice([0.0, 1.0]), slippage_bps=5.0)
    result = backtest.run(prices, TARGET, policies, costs=costs, initial=100_000.0)
    traded = np.zeros((len(prices), n), dtype=bool)
    traded[result.trades.day, result.trades.variant] = True
    dates = result.dates
    shares = np.stack([result.shares(v) for v in range(n)], axis=1)  # [T, n, S]
    last = np.array(
        [
            policy.scheduled_dates(str(f), int(d), dates[:1])[0]
            for f, d in zip(policies.frequency, policies.calendar_day, strict=True)
        ]
    )
    costs_n = costs.take(np.zeros(n, dtype=int), 1)
    for t in range(1, len(dates)):
        book = drift.Book(
            portfolio_ids=np.arange(n),
            classes=tuple(TICKERS),
            security_ids=np.arange(4),
            security_class=np.arange(4),
            prices=prices.to_numpy()[t],
            fractional=np.ones(4, dtype=bool),
            quantity=shares[t - 1],
            cash=result.cash[t - 1],
            target=np.tile(TARGET.to_numpy(), (n, 1)),
            target_security=np.tile(np.arange(4), (n, 1)),
        )
        today_policies = backtest.replace(policies, last_calendar=last)
        state = drift.compute(book)
        decision = policy.evaluate(
            book, state, today_policies, today=dates[t].astype(dt.date), explain=False
        )
        sell, buy, _, _ = backtest.position_trades(
            book, state, decision, today_policies, costs_n, np.zeros(n)
        )
        trades_today = decision.fired & ((sell > 0).any(axis=1) | (buy > 0).any(axis=1))
        np.testing.assert_array_equal(traded[t], trades_today, err_msg=str(dates[t]))
        last = np.where(decision.calendar, decision.calendar_due, last)


def random_book(rng: np.random.Generator, n_p: int) -> tuple[drift.Book, trades.Lots]:
    k = 4
    prices = rng.uniform(20, 200, k)
    quantity = rng.uniform(0, 400, (n_p, k)) * (rng.random((n_p, k)) < 0.9)
    target = rng.dirichlet(np.ones(k), n_p) * (rng.random((n_p, k)) < 0.85)
    target[target.sum(axis=1) == 0, 0] = 1.0
    book = drift.Book(
        portfolio_ids=np.arange(n_p),
        classes=("a", "b", "c", "d"),
        security_ids=np.arange(k),
        security_class=np.arange(k),
        prices=prices,
        fractional=np.ones(k, dtype=bool),
        quantity=quantity,
        cash=rng.uniform(0, 20_000, n_p) * (rng.random(n_p) < 0.5),
        target=drift.normalise_targets(target),
        target_security=np.tile(np.arange(k), (n_p, 1)),
    )
    p, s = np.nonzero(quantity > 0)
    lots = trades.Lots(
        portfolio=p,
        security=s,
        lot_id=np.arange(len(p)),
        quantity=quantity[p, s],
        cost_basis=quantity[p, s] * prices[s] * rng.uniform(0.5, 1.5, len(p)),
        holding_start=np.full(len(p), np.datetime64("2020-01-02")),
        household=p,
    )
    return book, lots


@pytest.mark.parametrize("seed", range(6))
def test_position_trades_are_what_generate_trades(seed: int) -> None:
    """The pre-tax backtest's trades equal trades.generate's on the same holdings, for random
    policies (no lot rule binding: short-term gains allowed, no tax cap, no wash sales)."""
    rng = np.random.default_rng(seed)
    n_p = 200
    book, lots = random_book(rng, n_p)
    policies = backtest.replace(
        policy.Policies.uniform(n_p),
        frequency=rng.choice(["none", "monthly"], n_p).astype(object),
        absolute_band=np.where(rng.random(n_p) < 0.7, rng.uniform(0.005, 0.1, n_p), np.nan),
        relative_band=np.where(rng.random(n_p) < 0.5, rng.uniform(0.05, 0.5, n_p), np.nan),
        full=rng.random(n_p) < 0.5,
        cash_buffer=rng.choice([0.0, 0.01, 0.05], n_p),
        min_trade=rng.choice([0.0, 50.0, 1000.0], n_p),
        cash_flow=rng.random(n_p) < 0.6,
        allow_short_term_gains=np.ones(n_p, dtype=bool),
    )
    withdrawal = np.where(rng.random(n_p) < 0.2, rng.uniform(0, 5_000, n_p), 0.0)
    costs = trades.CostModel(commission=float(rng.choice([0.0, 2.0])), slippage_bps=7.5)
    today = dt.date(2024, 3, 12)
    state = drift.compute(book)
    decision = policy.evaluate(book, state, policies, today=today, withdrawal=withdrawal)
    assert decision.fired.sum() > 50
    live = trades.generate(
        book, state, decision, policies, lots, today=today, costs=costs, withdrawal=withdrawal
    )
    sell, buy, cost, cash_after = backtest.position_trades(
        book, state, decision, policies, costs, withdrawal
    )
    live_sell = np.zeros_like(sell)
    live_buy = np.zeros_like(buy)
    selling = live.side < 0
    live_sell[live.portfolio[selling], live.security[selling]] = live.amount[selling]
    live_buy[live.portfolio[~selling], live.security[~selling]] = live.amount[~selling]
    np.testing.assert_allclose(sell, live_sell, rtol=1e-12, atol=1e-8)
    np.testing.assert_allclose(buy, live_buy, rtol=1e-12, atol=1e-8)
    np.testing.assert_allclose(cost.sum(axis=1), live.total_cost, rtol=1e-12, atol=1e-8)
    np.testing.assert_allclose(cash_after, live.cash_after, rtol=1e-12, atol=1e-6)


def test_variants_in_one_call_equal_separate_runs() -> None:
    prices = generated_prices(days=300)
    grid = backtest.policy_grid(
        absolute_band=[0.02, 0.05],
        frequency=["none", "quarterly"],
        cash_buffer=[0.0],
        min_trade=[0.0],
    )
    costs = trades.CostModel(commission=1.0, slippage_bps=5.0)
    together = backtest.run(prices, TARGET, grid, costs=costs)
    for j in range(4):
        alone = backtest.run(
            prices, TARGET, backtest._policy_rows(grid, np.array([j])), costs=costs
        )
        np.testing.assert_allclose(together.value[:, j], alone.value[:, 0], rtol=1e-13)
        assert together.costs[j] == pytest.approx(alone.costs[0], rel=1e-12)


def test_flows_go_to_the_most_underweight_and_come_from_the_most_overweight() -> None:
    prices = generated_prices(days=60)
    prices.iloc[20:, 0] *= 1.3  # equities run up: overweight from day 20
    flows = pd.Series({prices.index[30]: -30_000.0, prices.index[40]: 20_000.0})
    policies = policy.Policies.uniform(1, **{**PLAIN, "cash_flow": True})
    result = backtest.run(prices, TARGET, policies, flows=flows)
    log = result.trades.frame(result.dates, result.securities)
    withdrawal = log[log["date"] == prices.index[30]]
    assert set(withdrawal["side"]) == {"sell"} and set(withdrawal["security"]) == {"EQ"}
    assert withdrawal["amount"].sum() == pytest.approx(30_000.0)
    deposit = log[log["date"] == prices.index[40]]
    assert set(deposit["side"]) == {"buy"} and "EQ" not in set(deposit["security"])
    assert deposit["amount"].sum() == pytest.approx(20_000.0)
    assert result.cash[30, 0] == pytest.approx(0.0, abs=1e-6)


def test_outputs_add_up() -> None:
    prices = generated_prices(days=500)
    policies = policy.Policies.uniform(1, **{**PLAIN, "frequency": "monthly"})
    costs = trades.CostModel(commission=5.0, slippage_bps=10.0)
    result = backtest.run(prices, TARGET, policies, costs=costs)
    # value = holdings at the close + cash, every day
    np.testing.assert_allclose(
        (result.shares(0) * prices.to_numpy()).sum(axis=1) + result.cash[:, 0], result.value[:, 0]
    )
    weights = result.weights(0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    assert result.costs[0] == pytest.approx(result.trades.cost.sum())
    # buy-and-hold keeps the day-0 shares: its value is theirs at every close
    first = result.shares(0)[0]
    np.testing.assert_allclose(
        result.buy_and_hold[:, 0], prices.to_numpy() @ first + result.cash[0, 0]
    )
    assert result.summary.tracking_difference[0] == pytest.approx(
        result.summary.cagr[0] - metrics.cagr(result.buy_and_hold[:, 0], result.dates)
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "2030-01-01"}, "No price data"),
        ({"start": "2019-03-01", "end": "2019-03-01"}, "at least two trading days"),
        ({"policies": {"absolute_band": 0.0}}, "above 0% and below 100%"),
        ({"policies": {"relative_band": 1.0}}, "above 0% and below 100%"),
        ({"target": {"EQ": 0.5, "NOPE": 0.5}}, "No prices at all for NOPE"),
        ({"empty": "GOLD"}, "GOLD has no prices"),
        ({"late": "GOLD"}, "GOLD has no price on some days"),
    ],
)
def test_clear_errors(kwargs: dict, message: str) -> None:
    prices = generated_prices(days=100)
    if "empty" in kwargs:
        prices[kwargs.pop("empty")] = np.nan
    if "late" in kwargs:
        prices.iloc[:10, prices.columns.get_loc(kwargs.pop("late"))] = np.nan
    policies = policy.Policies.uniform(1, **{**PLAIN, **kwargs.pop("policies", {})})
    target = pd.Series(kwargs.pop("target", TARGET.to_dict()))
    with pytest.raises(ValueError, match=message):
        backtest.run(prices, target, policies, **kwargs)


def test_volatility_adjusted_bands_use_the_ratio_of_each_day() -> None:
    prices = generated_prices(days=900, seed=8)
    ratio = policy.volatility_scale_history(prices)
    for day in (prices.index[70], prices.index[400], prices.index[-1]):
        np.testing.assert_allclose(
            ratio.loc[day].to_numpy(),
            policy.volatility_scale(prices.loc[:day]).to_numpy(),
            rtol=1e-9,
        )
    plain = policy.Policies.uniform(2, **{**PLAIN, "absolute_band": 0.03})
    adjusted = backtest.replace(plain, volatility_adjusted=np.array([False, True]))
    result = backtest.run(prices, TARGET, adjusted)
    assert not np.allclose(result.value[:, 0], result.value[:, 1])


@pytest.mark.parametrize("frequency", ["monthly", "quarterly"])
@pytest.mark.parametrize("bps", [0.0, 10.0])
def test_a_calendar_backtest_split_in_time_equals_the_day_by_day_run(
    frequency: str, bps: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = generated_prices(days=1500, seed=9)
    policies = policy.Policies.uniform(2, **{**PLAIN, "frequency": frequency})
    policies = backtest.replace(policies, calendar_day=np.array([1, 15]))
    costs = trades.CostModel(commission=0.0, slippage_bps=bps)
    split = backtest.run(prices, TARGET, policies, costs=costs)
    monkeypatch.setattr(backtest, "CHUNK_EVENTS", 10**9)  # never split
    plain = backtest.run(prices, TARGET, policies, costs=costs)
    np.testing.assert_allclose(split.value, plain.value, rtol=1e-13)
    # cash is a residual of a few cents: equal to 1e-12 of the value
    np.testing.assert_allclose(split.cash, plain.cash, rtol=0, atol=1e-12 * 1e6)
    columns = ["variant", "date", "side", "security"]
    ours = split.trades.frame(split.dates, split.securities).sort_values(columns)
    theirs = plain.trades.frame(plain.dates, plain.securities).sort_values(columns)
    np.testing.assert_array_equal(ours["date"].to_numpy(), theirs["date"].to_numpy())
    np.testing.assert_allclose(ours["amount"].to_numpy(), theirs["amount"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(split.shares(1), plain.shares(1), rtol=1e-12)
    assert split.costs == pytest.approx(plain.costs, rel=1e-12)


def test_a_withdrawal_larger_than_the_portfolio_empties_it() -> None:
    prices = generated_prices(days=40)
    flows = pd.Series({prices.index[20]: -5_000_000.0})
    policies = policy.Policies.uniform(1, **PLAIN)
    result = backtest.run(prices, TARGET, policies, flows=flows)
    assert result.value[20:, 0] == pytest.approx(0.0, abs=1e-6)
    assert result.summary.total_return[0] == pytest.approx(-1.0)
