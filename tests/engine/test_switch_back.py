"""Switch back to the preferred security after the wash-sale window: hand-computed cases."""

import datetime as dt

import numpy as np
import pytest

from rebalancing.engine import switch_back, trades
from tests.engine.books import book

TODAY = dt.date(2026, 11, 25)
FREE = trades.CostModel(commission=0.0, slippage_bps=0.0)
NAN = float("nan")
VTI, ITOT = 0, 1  # one class; VTI (id 101, 200 a share) is the preferred security
VTI_ID, ITOT_ID = 101, 102


def days_ago(n: int) -> np.datetime64:
    return np.datetime64(TODAY - dt.timedelta(days=n), "D")


def make_lots(*rows: tuple[int, int, float, float, np.datetime64]) -> trades.Lots:
    """rows: (portfolio, security, quantity, total basis, holding start); household = p + 1."""
    return trades.Lots(
        portfolio=np.array([r[0] for r in rows]),
        security=np.array([r[1] for r in rows]),
        lot_id=np.arange(1, len(rows) + 1),
        quantity=np.array([r[2] for r in rows], dtype=float),
        cost_basis=np.array([r[3] for r in rows], dtype=float),
        holding_start=np.array([r[4] for r in rows], dtype="datetime64[D]"),
        household=np.array([r[0] + 1 for r in rows]),
    )


def one_class(itot_shares: float = 10, *, fractional: bool = True, vti_shares: float = 0):
    """ITOT 10 x 100 = 1,000 held in place of VTI (200 a share), no cash."""
    return book(
        [[vti_shares, itot_shares]],
        [200.0, 100.0],
        [[1.0]],
        security_class=[0, 0],
        target_security=[[VTI]],
        fractional=[fractional, True],
    )


def run(b, lots, *, max_gain=0.0, allow_st=False, costs=FREE, **kw):
    n = len(b.portfolio_ids)
    return switch_back.propose(
        b,
        lots,
        today=TODAY,
        max_gain=np.broadcast_to(np.asarray(max_gain, dtype=float), (n,)),
        allow_short_term_gains=np.full(n, allow_st),
        costs=costs,
        **kw,
    )


def orders(t, i=0):
    mask = t.portfolio == i
    return {
        (int(s), int(side)): round(float(q), 6)
        for s, side, q in zip(t.security[mask], t.side[mask], t.quantity[mask], strict=True)
    }


def test_a_loss_switch_with_costs_buys_whole_shares_and_keeps_the_rest_in_cash():
    # Proceeds 10 x 100 = 1,000 with a 50 loss. Commission 1 per trade, 10 bps:
    # budget = (1,000 x 0.999 - 1 x 2) / 1.001 = 996.004 -> floor(4.98) = 4 VTI = 800.
    # Costs: sell 1 + 1.00, buy 1 + 0.80 = 3.80; cash 1,000 - 800 - 3.80 = 196.20.
    costs = trades.CostModel(commission=1.0, slippage_bps=10.0, short_term_rate=0.24)
    t = run(one_class(fractional=False), make_lots((0, ITOT, 10, 1050, days_ago(40))), costs=costs)
    assert orders(t) == {(ITOT, trades.SELL): 10.0, (VTI, trades.BUY): 4.0}
    assert t.amount.tolist() == pytest.approx([1000.0, 800.0])
    assert t.cost.tolist() == pytest.approx([2.0, 1.8])
    assert t.total_cost[0] == pytest.approx(3.8)
    assert t.cash_after[0] == pytest.approx(196.2)
    assert t.total_short_term_gain[0] == pytest.approx(-50.0)
    assert t.total_long_term_gain[0] == 0.0
    assert t.tax[0] == pytest.approx(-12.0)  # 50 x 24% saved
    assert t.lot.tolist() == [0] and t.lot_trade.tolist() == [0]
    assert t.lot_quantity.tolist() == [10.0]
    assert t.weights_after[0].tolist() == [1.0]


def test_fractional_shares_spend_the_whole_budget():
    # budget 996.004 / 200 = 4.98002 VTI; costs 2 + (1 + 0.996) = 3.996: cash ends at 0.
    costs = trades.CostModel(commission=1.0, slippage_bps=10.0)
    t = run(one_class(), make_lots((0, ITOT, 10, 1050, days_ago(40))), costs=costs)
    assert orders(t)[(VTI, trades.BUY)] == pytest.approx(997 / 1.001 / 200, abs=1e-6)
    assert t.cash_after[0] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("max_gain", "switched"),
    [(0.0, False), (9.99, False), (10.0, True), (20.0, True), (NAN, False)],
)
def test_a_long_term_gain_switches_only_within_the_limit(max_gain, switched):
    # Basis 990, worth 1,000: a long-term gain of 10.
    t = run(one_class(), make_lots((0, ITOT, 10, 990, days_ago(800))), max_gain=max_gain)
    assert bool(len(t.portfolio)) is switched
    if switched:
        assert orders(t) == {(ITOT, trades.SELL): 10.0, (VTI, trades.BUY): 5.0}
        assert t.total_long_term_gain[0] == pytest.approx(10.0)
        assert t.cash_after[0] == pytest.approx(0.0)


def test_a_zero_gain_switch_is_within_the_default_limit():
    t = run(one_class(), make_lots((0, ITOT, 10, 1000, days_ago(60))))
    assert orders(t) == {(ITOT, trades.SELL): 10.0, (VTI, trades.BUY): 5.0}


def test_a_short_term_gain_is_refused_unless_the_policy_allows_it():
    lots = make_lots((0, ITOT, 10, 990, days_ago(40)))  # short-term gain of 10
    refused = run(one_class(), lots, max_gain=100.0)
    assert len(refused.portfolio) == 0
    assert "short-term gains" in refused.notes[0]
    allowed = run(one_class(), lots, max_gain=100.0, allow_st=True)
    assert allowed.total_short_term_gain[0] == pytest.approx(10.0)


@pytest.mark.parametrize(("age", "switched"), [(30, False), (31, True), (29, False)])
def test_a_lot_younger_than_31_days_stays(age, switched):
    t = run(one_class(), make_lots((0, ITOT, 10, 1050, days_ago(age))))
    assert bool(len(t.portfolio)) is switched


def test_only_the_old_lots_of_a_position_are_switched():
    lots = make_lots((0, ITOT, 6, 660, days_ago(45)), (0, ITOT, 4, 420, days_ago(10)))
    t = run(one_class(), lots)
    # 6 x 100 = 600 sold at a 60 loss; 3 VTI bought.
    assert orders(t) == {(ITOT, trades.SELL): 6.0, (VTI, trades.BUY): 3.0}
    assert t.lot.tolist() == [0]
    assert t.total_short_term_gain[0] == pytest.approx(-60.0)


def test_the_preferred_security_blocked_by_a_recent_loss_sale_is_not_bought():
    lots = make_lots((0, ITOT, 10, 1050, days_ago(40)))
    assert len(run(one_class(), lots, no_buy={(1, VTI_ID)}).portfolio) == 0
    assert len(run(one_class(), lots, no_buy={(2, VTI_ID)}).portfolio) == 2  # other household


def test_a_replacement_bought_recently_in_the_household_is_not_sold():
    lots = make_lots((0, ITOT, 10, 1050, days_ago(40)))
    assert len(run(one_class(), lots, blocked={(1, ITOT_ID)}).portfolio) == 0


def test_a_loss_lot_identical_to_the_preferred_is_not_switched():
    lots = make_lots((0, ITOT, 10, 1050, days_ago(40)))
    assert len(run(one_class(), lots, group=np.array([7, 7])).portfolio) == 0
    gain_lots = make_lots((0, ITOT, 10, 1000, days_ago(40)))
    assert len(run(one_class(), gain_lots, group=np.array([7, 7])).portfolio) == 2


def test_preferred_lots_and_classes_without_a_vehicle_are_left_alone():
    b = one_class(vti_shares=5)
    lots = make_lots((0, VTI, 5, 1500, days_ago(400)), (0, ITOT, 10, 1050, days_ago(40)))
    t = run(b, lots)
    assert orders(t) == {(ITOT, trades.SELL): 10.0, (VTI, trades.BUY): 5.0}
    assert t.lot.tolist() == [1]
    no_vehicle = book(
        [[0, 10]], [200.0, 100.0], [[1.0]], security_class=[0, 0], target_security=[[-1]]
    )
    assert len(run(no_vehicle, make_lots((0, ITOT, 10, 1050, days_ago(40)))).portfolio) == 0


def test_a_switch_too_small_to_buy_a_share_or_the_minimum_trade_is_dropped():
    whole = one_class(itot_shares=1, fractional=False)  # 100 buys no 200 share
    assert len(run(whole, make_lots((0, ITOT, 1, 120, days_ago(40)))).portfolio) == 0
    small = run(
        one_class(), make_lots((0, ITOT, 10, 1050, days_ago(40))), min_trade=np.array([1001.0])
    )
    assert len(small.portfolio) == 0


def test_many_portfolios_at_once_take_losses_first_within_the_limit():
    # Two classes: US (VTI preferred, ITOT held) and intl (VEA preferred, IEFA held).
    # Portfolio 0: ITOT loss 30, IEFA gain 20 (both long term). Running gain: -30, then -10.
    # Limit 0: both switch (total -10). Portfolio 1: same lots, limit -15: only ITOT (-30).
    # Portfolio 2: limit NaN: never.
    b = book(
        [[0, 10, 0, 20]] * 3,
        [200.0, 100.0, 50.0, 25.0],
        [[0.6, 0.4]] * 3,
        security_class=[0, 0, 1, 1],
        target_security=[[0, 2]] * 3,
    )
    rows = []
    for p in range(3):
        rows += [(p, 1, 10, 1030, days_ago(500)), (p, 3, 20, 480, days_ago(500))]
    t = run(b, make_lots(*rows), max_gain=np.array([0.0, -15.0, NAN]))
    assert orders(t, 0) == {
        (1, trades.SELL): 10.0,
        (3, trades.SELL): 20.0,
        (0, trades.BUY): 5.0,
        (2, trades.BUY): 10.0,
    }
    assert t.total_long_term_gain.tolist() == pytest.approx([-10.0, -30.0, 0.0])
    assert orders(t, 1) == {(1, trades.SELL): 10.0, (0, trades.BUY): 5.0}
    assert "more than -15.00" in t.notes[1]
    assert orders(t, 2) == {}
    assert t.count().tolist() == [4, 2, 0]
    # Lot reliefs point at their sell rows.
    assert all(t.side[r] == trades.SELL for r in t.lot_trade)


def test_an_empty_book_proposes_nothing():
    b = book([[0, 0]], [200.0, 100.0], [[1.0]], security_class=[0, 0], target_security=[[0]])
    t = run(b, trades.Lots.empty())
    assert len(t.portfolio) == 0 and t.cash_after.tolist() == [0.0]
