"""Trade generation: hand-computed cases for every option, and hypothesis properties."""

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.engine import drift, policy, trades
from tests.engine.books import book, lots_for

TODAY = dt.date(2026, 11, 25)
NAN = float("nan")
FREE = trades.CostModel(commission=0.0, slippage_bps=0.0)


def run(b, lots=None, *, costs=FREE, withdrawal=None, blocked=frozenset(), **policy_values):
    policy_values.setdefault("cash_buffer", 0.0)
    policy_values.setdefault("min_trade", 0.0)
    policy_values.setdefault("allow_short_term_gains", True)
    pol = policy.Policies.uniform(len(b.portfolio_ids), **policy_values)
    d = drift.compute(b)
    w = None if withdrawal is None else np.array(withdrawal, dtype=float)
    decision = policy.evaluate(b, d, pol, today=TODAY, withdrawal=w)
    lots = lots if lots is not None else lots_for(b)
    return decision, trades.generate(
        b, d, decision, pol, lots, today=TODAY, costs=costs, blocked=blocked, withdrawal=w
    )


def orders(t, i=0):
    """{(security index, side): quantity} of portfolio i."""
    mask = t.portfolio == i
    return {
        (int(s), int(side)): round(float(q), 6)
        for s, side, q in zip(t.security[mask], t.side[mask], t.quantity[mask], strict=True)
    }


def lot(portfolio, security, quantity, cost_per_share, start, lot_id, household=1):
    return dict(
        p=portfolio,
        s=security,
        q=quantity,
        c=quantity * cost_per_share,
        d=start,
        i=lot_id,
        h=household,
    )


def make_lots(*rows):
    return trades.Lots(
        portfolio=np.array([r["p"] for r in rows]),
        security=np.array([r["s"] for r in rows]),
        lot_id=np.array([r["i"] for r in rows]),
        quantity=np.array([r["q"] for r in rows], dtype=float),
        cost_basis=np.array([r["c"] for r in rows], dtype=float),
        holding_start=np.array([r["d"] for r in rows], dtype="datetime64[D]"),
        household=np.array([r["h"] for r in rows]),
    )


# 70 x 100 equity + 60 x 50 bonds = 7000 / 3000: 10 points over a 60/40 target.
SEVENTY_THIRTY = ([[70, 60]], [100, 50], [[0.6, 0.4]])


def test_full_rebalance_sells_the_loss_lot_first():
    b = book(*SEVENTY_THIRTY)
    lots = make_lots(
        lot(0, 0, 30, 110, "2020-01-02", 1),  # long-term loss of 10 a share
        lot(0, 0, 40, 50, "2026-06-01", 2),  # short-term gain
        lot(0, 1, 60, 50, "2020-01-02", 3),
    )
    decision, t = run(b, lots)
    assert decision.rule[0] == "threshold"
    # Sell 1000 of equity (10 shares) from lot 1: loss 10 x 10 = -100; buy 1000 of bonds.
    assert orders(t) == {(0, -1): 10.0, (1, 1): 20.0}
    assert t.lot.tolist() == [0] and t.lot_quantity.tolist() == [10.0]
    assert t.total_long_term_gain[0] == pytest.approx(-100)
    # Nothing else realised this year: the net loss is deducted from ordinary income
    # (Schedule D, under the 3,000 limit) at the short-term rate, 35% of 100.
    assert t.tax[0] == pytest.approx(-35)
    np.testing.assert_allclose(t.weights_after[0], [0.6, 0.4])
    assert t.cash_after[0] == pytest.approx(0)


def test_available_cash_is_used_before_selling():
    # 7000 / 3000 + 2000 cash: targets of 12,000 are 7200 / 4800 -> only buys, no sells.
    b = book(*SEVENTY_THIRTY, cash=[2000])
    _, t = run(b)
    assert orders(t) == {(0, 1): 2.0, (1, 1): 36.0}
    assert t.cash_after[0] == pytest.approx(0)


def test_cash_buffer_is_kept():
    # Buffer 5% of 12,000 = 600 stays in cash: investable 11,400 -> 6840 / 4560.
    b = book(*SEVENTY_THIRTY, cash=[2000])
    _, t = run(b, cash_buffer=0.05)
    assert orders(t) == {(0, -1): 1.6, (1, 1): 31.2}
    assert t.cash_after[0] == pytest.approx(600)


def test_band_edge_moves_only_back_to_the_band():
    # 75 / 25 against 60 / 40 with a 5-point band: back to 65 / 35, i.e. sell 1000 / buy 1000.
    b = book([[75, 50]], [100, 50], [[0.6, 0.4]])
    _, t = run(b, absolute_band=0.05, relative_band=NAN, full=False)
    assert orders(t) == {(0, -1): 10.0, (1, 1): 20.0}
    np.testing.assert_allclose(t.weights_after[0], [0.65, 0.35])


def test_cash_flow_goes_to_the_most_underweight_first():
    # Values 4000 / 2500 / 2500 + 1000 cash, targets 50/30/20 of 10,000 = 5000 / 3000 / 2000.
    # Shortfalls 1000 and 500, only 1000 to spend: level 250 -> buy 750 and 250, sell nothing.
    b = book([[40, 25, 25]], [100, 100, 100], [[0.5, 0.3, 0.2]], cash=[1000])
    decision, t = run(b, absolute_band=NAN, relative_band=NAN)
    assert decision.rule[0] == "cash_flow"
    assert orders(t) == {(0, 1): 7.5, (1, 1): 2.5}
    assert t.cash_after[0] == pytest.approx(0)


def test_withdrawal_is_raised_from_the_most_overweight():
    # 6500 / 3500, withdraw 1000: 9000 invested afterwards -> goals 5400 / 3600; only equity is
    # over its goal (by 1100), so the whole 1000 comes from equity; the cash waits for payout.
    b = book([[65, 35]], [100, 100], [[0.6, 0.4]])
    decision, t = run(b, withdrawal=[1000], absolute_band=NAN, relative_band=NAN)
    assert decision.rule[0] == "cash_flow"
    assert orders(t) == {(0, -1): 10.0}
    assert t.cash_after[0] == pytest.approx(1000)


def test_minimum_trade_drops_small_trades():
    b = book(*SEVENTY_THIRTY)
    decision, t = run(b, min_trade=2000.0)
    assert decision.threshold[0]
    assert len(t.portfolio) == 0


def test_whole_shares_round_buys_down():
    # 25 x 300 = 7500 / 35 x 70 = 2450 + 50 cash = 10,000: targets 6000 / 4000.
    # Sell 1500 = 5 shares; buy 1550 / 70 = 22.14 -> 22 shares (1540); 10 left in cash.
    b = book([[25, 35]], [300, 70], [[0.6, 0.4]], cash=[50], fractional=[False, False])
    _, t = run(b)
    assert orders(t) == {(0, -1): 5.0, (1, 1): 22.0}
    assert t.cash_after[0] == pytest.approx(10)


def test_whole_share_sell_of_a_partial_lot_rounds_up():
    # Need to sell 1000 of a 300-a-share security: 3.33 shares -> 4 (never more than held).
    b = book([[25, 10]], [300, 250], [[0.6, 0.4]], cash=[0], fractional=[False, True])
    _, t = run(b)
    # Total 10,000, equity target 6000: 7500 - 6000 = 1500 = exactly 5 shares; so use the
    # band edge (65%) to get a partial share: sell 1000 -> 3.33 -> 4 shares (1200).
    _, t = run(b, full=False, absolute_band=0.05, relative_band=NAN)
    assert orders(t)[(0, -1)] == 4.0


def test_short_term_gains_are_held_back_unless_allowed():
    b = book(*SEVENTY_THIRTY)
    lots = make_lots(lot(0, 0, 70, 50, "2026-09-01", 1), lot(0, 1, 60, 50, "2020-01-02", 2))
    _, held = run(b, lots, allow_short_term_gains=False)
    assert orders(held) == {}
    assert "short-term gains were not sold" in held.notes[0]
    # What the hold-back kept unrealised: the 10 shares the allowed run sells, 10 x (100 - 50).
    assert held.held_back_short_term_gain is not None
    assert held.held_back_short_term_gain[0] == pytest.approx(500)
    _, allowed = run(b, lots, allow_short_term_gains=True)
    assert orders(allowed) == {(0, -1): 10.0, (1, 1): 20.0}
    assert allowed.total_short_term_gain[0] == pytest.approx(500)  # 10 x (100 - 50)
    assert allowed.held_back_short_term_gain[0] == 0.0
    assert allowed.tax[0] == pytest.approx(175)  # 35%


def test_max_tax_cost_holds_back_the_most_expensive_shares():
    # Sell 10 equity shares at 100 from long-term lots: A (5 sh, basis 80: gain 20/sh) goes
    # first, then B (basis 50: gain 50/sh): tax 15% x (100 + 250) = 52.50. Cap 30: hold back
    # 22.50 of tax from B at 7.50 a share = 3 shares -> sell 5 + 2 = 7 shares, tax 15 + 15.
    b = book(*SEVENTY_THIRTY)
    lots = make_lots(
        lot(0, 0, 5, 80, "2020-01-02", 1),
        lot(0, 0, 65, 50, "2019-01-02", 2),
        lot(0, 1, 60, 50, "2020-01-02", 3),
    )
    _, uncapped = run(b, lots)
    assert uncapped.tax[0] == pytest.approx(52.5)
    _, t = run(b, lots, max_tax_cost=30.0)
    assert orders(t) == {(0, -1): 7.0, (1, 1): 14.0}  # 700 of proceeds buy 14 bond shares
    assert t.tax[0] == pytest.approx(30.0)
    assert "estimated tax within 30.00" in t.notes[0]


def test_wash_sale_blocked_loss_lot_is_not_sold():
    b = book(*SEVENTY_THIRTY)
    lots = make_lots(
        lot(0, 0, 10, 120, "2020-01-02", 1, household=7),  # loss lot
        lot(0, 0, 60, 50, "2020-01-02", 2, household=7),  # long-term gain
        lot(0, 1, 60, 50, "2020-01-02", 3, household=7),
    )
    _, free = run(b, lots)
    assert free.lot.tolist() == [0]
    # Household 7 bought security 101 (book index 0) within 30 days: the loss lot stays.
    _, t = run(b, lots, blocked={(7, 101)})
    assert t.lot.tolist() == [1]
    assert t.total_long_term_gain[0] == pytest.approx(500)
    assert "wash sale" in t.notes[0]
    _, other = run(b, lots, blocked={(8, 101)})  # another household's purchase does not matter
    assert other.lot.tolist() == [0]


def test_costs_are_estimated_and_paid_from_the_trades():
    # Commission 1 per trade + 10 bps. Pass 1 estimates 2 + 0.001 x 2000 = 4, so the investable
    # value is 9996: sell 7000 - 5997.6 = 1002.4; the buy is what the proceeds pay for after
    # costs: (1002.4 x 0.999 - 2) / 1.001 = 998.3992.
    b = book(*SEVENTY_THIRTY)
    _, t = run(b, costs=trades.CostModel(commission=1.0, slippage_bps=10.0))
    sell = t.amount[t.side == -1][0]
    buy = t.amount[t.side == 1][0]
    assert sell == pytest.approx(1002.4)
    assert buy == pytest.approx(998.3992, abs=1e-6)
    assert t.total_cost[0] == pytest.approx(2 + 0.001 * (1002.4 + 998.3992))
    assert t.cash_after[0] == pytest.approx(0, abs=1e-6)


def test_portfolio_that_does_not_fire_gets_no_trades():
    # 6200 / 3800 is inside 60/40 +- 5 points; 30 of cash is below the 50 minimum trade.
    b = book([[62, 76]], [100, 50], [[0.6, 0.4]], cash=[30])
    decision, t = run(b, min_trade=50.0)
    assert not decision.fired[0]
    assert len(t.portfolio) == 0 and t.cash_after[0] == 30


def test_waterfill_spends_the_budget_on_the_largest_first():
    np.testing.assert_allclose(
        trades.waterfill(np.array([[1000, 500, 0]]), np.array([1000])), [[750, 250, 0]]
    )
    np.testing.assert_allclose(trades.waterfill(np.array([[3, 1]]), np.array([10])), [[3, 1]])
    np.testing.assert_allclose(trades.waterfill(np.array([[3, 1]]), np.array([0])), [[0, 0]])


# --- properties ------------------------------------------------------------------------------

weights3 = st.lists(st.floats(0.05, 1.0), min_size=3, max_size=3).map(
    lambda w: [x / sum(w) for x in w]
)
portfolio = st.tuples(
    st.lists(st.one_of(st.just(0.0), st.floats(1, 500)), min_size=3, max_size=3),  # shares
    st.one_of(st.just(0.0), st.floats(1, 20000)),  # cash
    weights3,
    st.lists(st.floats(0.3, 2.0), min_size=3, max_size=3),  # basis / price
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    portfolios=st.lists(portfolio, min_size=1, max_size=4),
    prices=st.lists(st.floats(1, 500), min_size=3, max_size=3),
    full=st.booleans(),
    absolute=st.floats(0.01, 0.10),
    relative=st.sampled_from([NAN, 0.25]),
    buffer=st.floats(0, 0.05),
    bps=st.floats(0, 25),
    commission=st.sampled_from([0.0, 1.0]),
)
def test_trades_respect_bands_cash_and_value(
    portfolios, prices, full, absolute, relative, buffer, bps, commission
):
    b = book(
        [p[0] for p in portfolios],
        prices,
        [p[2] for p in portfolios],
        cash=[p[1] for p in portfolios],
    )
    base = lots_for(b)
    ratio = np.array([p[3] for p in portfolios])[base.portfolio, base.security]
    lots = trades.Lots(
        base.portfolio,
        base.security,
        base.lot_id,
        base.quantity,
        base.cost_basis * ratio,
        base.holding_start,
        base.household,
    )
    costs = trades.CostModel(commission=commission, slippage_bps=bps)
    decision, t = run(
        b,
        lots,
        costs=costs,
        full=full,
        absolute_band=absolute,
        relative_band=relative,
        cash_buffer=buffer,
    )
    d = drift.compute(b)
    # Cash never negative, nothing short, no lot sold beyond what it holds.
    assert (t.cash_after >= -1e-6).all()
    sold = np.zeros(len(lots.quantity))
    np.add.at(sold, t.lot, t.lot_quantity)
    assert (sold <= lots.quantity + 1e-9).all()
    after_qty = b.quantity.copy()
    np.add.at(after_qty, (t.portfolio, t.security), t.side * t.quantity)
    assert (after_qty >= -1e-9).all()
    # Value changes only by the estimated costs.
    value_after = (after_qty * b.prices).sum(axis=1) + t.cash_after
    np.testing.assert_allclose(value_after, d.total - t.total_cost, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(
        t.total_cost, np.bincount(t.portfolio, t.cost, minlength=len(portfolios)), atol=1e-9
    )
    for i in range(len(portfolios)):
        if not decision.fired[i]:
            assert (t.portfolio != i).all()  # inside its bands with no cash waiting: no trades
            continue
        if "costs would exceed" in t.notes[i]:
            # A tiny account (a few dollars against a fixed commission) cannot pay for its
            # trades: nothing trades, and the note says why.
            assert commission > 0 and (t.portfolio != i).all()
            continue
        if "Not enough cash for every buy" in t.notes[i]:
            # The commissions eat the budget of a tiny account: the buys it can afford (maybe
            # none) are made, so the target is not reached, and the note says why.
            assert commission > 0 or buffer > 0 or d.total[i] < 50
            continue
        if decision.rebalance[i] and t.weights_after[i].sum() > 0:
            tolerance = 2e-3 + 2 * bps / 1e4
            if full:
                np.testing.assert_allclose(t.weights_after[i], b.target[i], atol=tolerance)
            else:
                assert (
                    np.abs(t.weights_after[i] - b.target[i]) <= decision.band[i] + tolerance
                ).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1000), min_size=1, max_size=6), st.floats(0, 5000))
def test_waterfill_never_overspends_and_favours_the_largest(amounts, budget):
    a = np.array([amounts])
    out = trades.waterfill(a, np.array([budget]))[0]
    assert out.sum() <= min(budget, a.sum()) + 1e-6
    assert out.sum() == pytest.approx(min(budget, a.sum()), abs=1e-6)
    assert (out <= a[0] + 1e-9).all() and (out >= 0).all()
    order = np.argsort(-a[0], kind="stable")
    assert (np.diff(out[order]) <= 1e-9).all()


def test_no_buy_pairs_are_not_bought():
    # Bonds (security 102) were sold at a loss by household 5 last week: the buy is left out.
    b = book(*SEVENTY_THIRTY)
    pol = policy.Policies.uniform(1, cash_buffer=0.0, min_trade=0.0, allow_short_term_gains=True)
    d = drift.compute(b)
    decision = policy.evaluate(b, d, pol, today=TODAY)
    t = trades.generate(
        b,
        d,
        decision,
        pol,
        lots_for(b),
        today=TODAY,
        costs=FREE,
        no_buy={(5, 102)},
        households=np.array([5]),
    )
    assert orders(t) == {(0, -1): 10.0}
    assert "wash-sale window" in t.notes[0]
    assert t.cash_after[0] == pytest.approx(1000)


@pytest.mark.parametrize(
    ("relief", "sold_lot", "long_term_gain"),
    [
        (0, 0, -100.0),  # tax order: the loss lot (10 shares at 110)
        (1, 1, 500.0),  # FIFO: the 2019 lot (10 shares at 50, a gain of 50 each)
        (2, 0, -100.0),  # HIFO: the highest cost per share, 110
    ],
)
def test_the_investors_lot_relief_method_orders_the_sells(relief, sold_lot, long_term_gain):
    b = book(*SEVENTY_THIRTY)
    lots = make_lots(
        lot(0, 0, 30, 110, "2020-01-02", 1),
        lot(0, 0, 40, 50, "2019-01-02", 2),
        lot(0, 1, 60, 50, "2020-01-02", 3),
    )
    _, t = run(b, lots, costs=trades.CostModel(commission=0.0, slippage_bps=0.0, relief=relief))
    assert t.lot.tolist() == [sold_lot] and t.lot_quantity.tolist() == [10.0]
    assert t.total_long_term_gain[0] == pytest.approx(long_term_gain)
