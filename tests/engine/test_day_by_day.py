"""The engine called with one date per portfolio (as a backtest calls it) decides as it does
when each portfolio is called on its own date."""

import datetime as dt

import numpy as np
import pytest

from rebalancing.engine import drift, lots, policy, trades
from tests.engine.test_backtest import random_book


def scheduled_by_hand(frequency: str, day: int, today: dt.date) -> dt.date | None:
    """The rule written out month by month: the latest scheduled date on or before today."""
    months = policy.FREQUENCY_MONTHS.get(frequency)
    if not months:
        return None
    year, month = today.year, today.month
    for _ in range(13):
        if month in months and dt.date(year, month, day) <= today:
            return dt.date(year, month, day)
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return None


@pytest.mark.parametrize("frequency", ["none", "monthly", "quarterly", "semiannual", "annual"])
@pytest.mark.parametrize("day", [1, 7, 28])
def test_scheduled_dates_for_every_day_of_four_years(frequency: str, day: int) -> None:
    days = np.arange("2019-12-01", "2024-03-05", dtype="datetime64[D]")
    got = policy.scheduled_dates(frequency, day, days)
    expected = [scheduled_by_hand(frequency, day, d.astype(dt.date)) for d in days]
    assert [None if np.isnat(g) else g.astype(dt.date) for g in got] == expected


def test_evaluate_and_generate_with_a_date_per_portfolio() -> None:
    rng = np.random.default_rng(4)
    n_p = 60
    book, book_lots = random_book(rng, n_p)
    book_lots = trades.Lots(
        **{
            **book_lots.__dict__,
            "holding_start": np.datetime64("2023-01-01")
            + rng.integers(0, 600, len(book_lots.lot_id)).astype("timedelta64[D]"),
        }
    )
    policies = policy.Policies.uniform(
        n_p,
        frequency="monthly",
        calendar_day=9,
        absolute_band=0.03,
        allow_short_term_gains=False,
        last_calendar=np.datetime64("2024-01-09"),
    )
    days = np.datetime64("2024-01-02") + rng.integers(0, 90, n_p).astype("timedelta64[D]")
    state = drift.compute(book)
    together = policy.evaluate(book, state, policies, today=days, explain=False)
    costs = trades.CostModel(commission=1.0, slippage_bps=5.0)
    generated = trades.generate(book, state, together, policies, book_lots, today=days, costs=costs)
    for i in range(n_p):
        day = days[i].astype(dt.date)
        alone = policy.evaluate(book, state, policies, today=day)
        assert alone.fired[i] == together.fired[i] and alone.rule[i] == together.rule[i]
        assert alone.calendar_due[i] == together.calendar_due[i] or (
            np.isnat(alone.calendar_due[i]) and np.isnat(together.calendar_due[i])
        )
        one = trades.generate(book, state, alone, policies, book_lots, today=day, costs=costs)
        mine = generated.portfolio == i
        np.testing.assert_allclose(one.quantity[one.portfolio == i], generated.quantity[mine])
        assert one.total_long_term_gain[i] == pytest.approx(generated.total_long_term_gain[i])
    assert together.calendar.any() and not together.calendar.all()
    # holding periods per lot on its own date: the anniversary rule
    on = days[book_lots.portfolio]
    assert (
        lots.is_long_term(book_lots.holding_start, on)
        == (on > lots.anniversary(book_lots.holding_start))
    ).all()


def test_breach_levels_are_the_band_rule_turned_around() -> None:
    rng = np.random.default_rng(12)
    n, k = 4000, 5
    target = drift.normalise_targets(rng.random((n, k)) * (rng.random((n, k)) < 0.8) + 1e-9)
    target[rng.random((n, k)) < 0.1] = 0.0
    class_values = rng.random((n, k)) * (rng.random((n, k)) < 0.9) * 100
    invested = class_values.sum(axis=1)
    weights = drift.weights_of(class_values)
    scale = rng.uniform(0.5, 2.0, (n, k))
    absolute = np.where(rng.random(n) < 0.7, rng.uniform(0.005, 0.2, n), np.nan)
    relative = np.where(rng.random(n) < 0.6, rng.uniform(0.05, 0.6, n), np.nan)
    policies = policy.Policies.uniform(
        n, absolute_band=absolute, relative_band=relative, volatility_adjusted=True
    )
    width = policy.bands(target, policies, scale)
    rule = policy.outside_bands(class_values, weights - target, invested, target, width).any(axis=1)
    level_a, level_r = policy.breach_levels(class_values, weights - target, invested, target, scale)
    turned = (absolute < level_a) | (relative < level_r)  # NaN compares False: no such band
    assert rule.sum() > n / 10 and (~rule).sum() > n / 10
    np.testing.assert_array_equal(rule, turned)
