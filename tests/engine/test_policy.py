"""Which rule fires and why: bands (absolute, relative, 5/25, volatility-adjusted), calendar,
cash flow. Every expected number is worked out by hand in the comments."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from rebalancing.engine import drift, policy
from tests.engine.books import book

TODAY = dt.date(2026, 11, 25)
NAN = float("nan")


def _decide(b, **policy_values):
    d = drift.compute(b)
    pol = policy.Policies.uniform(len(b.portfolio_ids), **policy_values)
    return policy.evaluate(b, d, pol, today=policy_values.pop("today", TODAY))


@pytest.mark.parametrize(
    ("absolute", "relative", "expected"),
    [
        (0.05, NAN, [0.05, 0.05]),  # absolute only
        (NAN, 0.25, [0.15, 0.025]),  # 25% of 60% and of 10%
        (0.05, 0.25, [0.05, 0.025]),  # 5/25: the smaller
        (NAN, NAN, [np.inf, np.inf]),  # no threshold rule
    ],
)
def test_band_widths(absolute, relative, expected):
    pol = policy.Policies.uniform(1, absolute_band=absolute, relative_band=relative)
    np.testing.assert_allclose(policy.bands(np.array([[0.6, 0.1]]), pol)[0], expected)


def test_volatility_adjusted_band_scales_only_adjusted_portfolios():
    pol = policy.Policies.uniform(2, absolute_band=0.05, relative_band=NAN)
    pol.volatility_adjusted[0] = True
    width = policy.bands(np.array([[0.6, 0.4], [0.6, 0.4]]), pol, np.array([2.0, 0.5]))
    np.testing.assert_allclose(width, [[0.10, 0.025], [0.05, 0.05]])


def test_volatility_scale_is_recent_over_long_run_std():
    # Calm for 100 days (+-1%), then 10 wild days (+-4%): the recent window sees only wild days.
    calm = np.tile([0.01, -0.01], 50)
    wild = np.tile([0.04, -0.04], 5)
    returns = np.r_[calm, wild]
    prices = pd.DataFrame({"X": 100 * np.cumprod(np.r_[1.0, 1 + returns])})
    expected = np.std(wild, ddof=1) / np.std(returns, ddof=1)
    scale = policy.volatility_scale(prices, recent=10, long_run=1000, cap=10)
    assert scale["X"] == pytest.approx(expected)
    assert policy.volatility_scale(prices, recent=10, long_run=1000)["X"] == 2.0  # capped
    short = policy.volatility_scale(prices.head(5), recent=10, long_run=1000)
    assert short["X"] == 1.0  # too little history: no adjustment


@pytest.mark.parametrize(
    ("quantity", "fired"),
    [
        ([[66, 34]], False),  # 66/34: drift 6 points, inside the 15-point relative band
        ([[71, 29]], True),  # bonds 29% vs 40%: drift -11 > 10 points (25% of 40%)
    ],
)
def test_relative_band_threshold(quantity, fired):
    b = book(quantity, [100, 100], [[0.6, 0.4]])
    decision = _decide(b, absolute_band=NAN, relative_band=0.25)
    assert decision.threshold[0] == fired
    assert decision.rule[0] == ("threshold" if fired else "")


def test_five_twenty_five_fires_on_the_small_class_and_explains_why():
    # Targets 85/15; holdings 89/11: drift of 4 points is inside the 5-point absolute band, but
    # 25% of 15% is 3.75 points, so the 5/25 rule fires on the small class.
    b = book([[89, 11]], [100, 100], [[0.85, 0.15]], classes=("us-equity", "bonds"))
    assert not _decide(b, absolute_band=0.05, relative_band=NAN).threshold[0]
    decision = _decide(b, absolute_band=0.05, relative_band=0.25)
    assert decision.threshold[0]
    assert decision.outside[0].tolist() == [False, True]
    assert decision.reason[0] == (
        "bonds is at 11.0% against a target of 15.0% (drift -4.0 points, band ±3.8 points)."
    )


@pytest.mark.parametrize(
    ("frequency", "day", "today", "expected"),
    [
        ("monthly", 15, dt.date(2026, 11, 25), dt.date(2026, 11, 15)),
        ("monthly", 28, dt.date(2026, 11, 25), dt.date(2026, 10, 28)),
        ("quarterly", 1, dt.date(2026, 11, 25), dt.date(2026, 10, 1)),
        ("quarterly", 5, dt.date(2026, 1, 3), dt.date(2025, 10, 5)),
        ("semiannual", 1, dt.date(2026, 11, 25), dt.date(2026, 7, 1)),
        ("annual", 10, dt.date(2026, 1, 9), dt.date(2025, 1, 10)),
        ("annual", 10, dt.date(2026, 1, 10), dt.date(2026, 1, 10)),
        ("none", 1, dt.date(2026, 11, 25), None),
    ],
)
def test_last_calendar_date(frequency, day, today, expected):
    assert policy.last_calendar_date(frequency, day, today) == expected


def test_calendar_fires_once_per_period():
    b = book([[60, 40], [60, 40], [60, 40]], [100, 100], [[0.6, 0.4]] * 3)
    pol = policy.Policies.uniform(3, frequency="quarterly", calendar_day=1)
    pol.last_calendar[1] = np.datetime64("2026-10-01")  # already proposed this quarter
    pol.last_calendar[2] = np.datetime64("2026-09-30")  # last quarter
    decision = policy.evaluate(b, drift.compute(b), pol, today=TODAY)
    assert decision.calendar.tolist() == [True, False, True]
    assert decision.rule.tolist() == ["calendar", "", "calendar"]
    assert decision.reason[0] == "Scheduled quarterly rebalance date 2026-10-01 reached."
    assert not decision.threshold.any()


def test_cash_flow_fires_on_cash_above_buffer_and_minimum():
    # Total 10,000 + cash; buffer 1% of total. Cash 150 -> excess 150 - 101.5 = 48.5 < 50: no.
    # Cash 700 -> excess 700 - 107 = 593 >= 50: yes.
    b = book([[60, 40], [60, 40]], [100, 100], [[0.6, 0.4]] * 2, cash=[150, 700])
    decision = _decide(b, cash_buffer=0.01, min_trade=50.0)
    assert decision.cash_flow.tolist() == [False, True]
    assert decision.reason[1] == "593.00 of cash above the 1.0% buffer is waiting to be invested."
    assert not _decide(b, cash_flow=False).cash_flow.any()


def test_withdrawal_fires_cash_flow():
    b = book([[60, 40]], [100, 100], [[0.6, 0.4]])
    d = drift.compute(b)
    decision = policy.evaluate(
        b, d, policy.Policies.uniform(1), today=TODAY, withdrawal=np.array([1000.0])
    )
    assert decision.cash_flow[0] and decision.rule[0] == "cash_flow"
    assert "withdrawal of 1,000.00" in decision.reason[0]


def test_portfolio_without_target_never_fires():
    b = book([[70, 30]], [100, 100], [[0.0, 0.0]], cash=[5000])
    decision = _decide(b, frequency="monthly")
    assert not decision.fired.any()
