"""Value history and returns from the ledger: published worked examples, an independent naive
reference on generated ledgers (hypothesis), and the edge cases."""

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize

from portfolios.analytics import history, irr
from portfolios.analytics import performance as perf
from tests.analytics import ledger_reference as ref

DAY0 = np.datetime64("2020-01-01", "D")


def _ledger(rows: list[tuple], n_accounts: int = 1) -> history.Ledger:
    """rows: (account, day number, kind, amount, security, quantity, fees)."""
    padded = [(*row, *(-1, 0.0, 0.0)[len(row) - 4 :]) for row in rows]
    account, day, kind, amount, security, quantity, fees = zip(*padded, strict=True)
    return history.Ledger.from_columns(
        account=account,
        date=DAY0 + np.array(day),
        kind=kind,
        amount=amount,
        security=security,
        quantity=quantity,
        fees=fees,
        n_accounts=n_accounts,
    )


def _since_inception(days: int) -> list[perf.Period]:
    end = (DAY0 + days).item()
    return [perf.Period("inception", None, end, annualise=None)]


# --- published worked examples ----------------------------------------------------------------


def test_cfa_level_one_example_time_and_money_weighted() -> None:
    """CFA Program curriculum, Level I, "Rates and Returns" (money- vs time-weighted returns):
    buy one share at $100 at t = 0, a second at $120 at t = 1, sell both at $130 at t = 2; the
    stock pays $2 a share at the end of each year. Published answers: TWR = sqrt(1.22 x 1.10)
    - 1 = 15.84% a year (FinCal's `twrr(ev=c(120,260), bv=c(100,240), cfr=c(2,4))` documents
    0.1584472, https://rdrr.io/cran/FinCal/man/twrr.html); MWR: the IRR of CF0 = 100,
    CF1 = 118, CF2 = -264 (as set out in Kaplan's CFA notes,
    https://online.flipbuilder.com/bmcx/mfst/files/basic-html/page91.html) = 13.86%.

    As a ledger: the year-1 dividend arrives the day before the second deposit, so the
    valuation before the flow includes it (sub-period 1 = (120 + 2) / 100 - 1 = 22%)."""
    closes = np.full((731, 1), 100.0)
    closes[364:730] = 120.0
    closes[730] = 130.0
    ledger = _ledger(
        [
            (0, 0, "deposit", 100.0),
            (0, 0, "buy", -100.0, 0, 1.0),
            (0, 364, "dividend", 2.0, 0),
            (0, 365, "deposit", 118.0),
            (0, 365, "buy", -120.0, 0, 1.0),
            (0, 730, "dividend", 4.0, 0),
            (0, 730, "sell", 260.0, 0, 2.0),
            (0, 730, "withdrawal", -264.0),
        ]
    )
    h = history.value_history(ledger, DAY0 + np.arange(731), closes)
    result = perf.period_returns(h, _since_inception(730), days_per_year=365)
    row = result["inception"]
    assert row["twr"][0] == pytest.approx(0.1584472, abs=5e-8)
    assert row["twr_cumulative"][0] == pytest.approx(1.22 * 1.10 - 1, rel=1e-12)
    closed_form = (-118 + math.sqrt(118**2 + 4 * 100 * 264)) / 200 - 1  # 100x^2 + 118x - 264 = 0
    assert closed_form == pytest.approx(0.1386, abs=5e-5)
    assert row["mwr"][0] == pytest.approx(closed_form, rel=1e-10)
    assert row["mwr_status"][0] == irr.OK
    assert row["annualised"][0]
    assert row["income"][0] == 6.0 and row["gain"][0] == pytest.approx(264 - 218)


def test_mid_month_contribution_example() -> None:
    """Worked exam example (published with its solution at https://www.gaodun.com/q/c03v59):
    a portfolio worth $18.6m at the start of the month is worth $21.2m just before a $5m
    contribution in the middle of the month and $19.4m at the end. Sub-period returns
    +13.98% and -25.95%, TWR = -15.6%; MWR: the half-month IRR solves 19.4 = 18.6 (1 + R)^2 +
    5 (1 + R), R = -10.43%, so the month's MWR = (1 - 0.1043)^2 - 1 = -19.8%.

    As a ledger: 186,000 shares bought at $100; the contribution arrives at the start of day 16
    of a 32-day span (exactly mid-period) and buys at the previous close."""
    closes = np.full((33, 1), 100.0)
    p_mid = 21.2e6 / 186_000
    closes[15:32] = p_mid
    added = 5e6 / p_mid
    closes[32] = 19.4e6 / (186_000 + added)
    ledger = _ledger(
        [
            (0, 0, "deposit", 18.6e6),
            (0, 0, "buy", -18.6e6, 0, 186_000.0),
            (0, 16, "deposit", 5e6),
            (0, 16, "buy", -5e6, 0, added),
        ]
    )
    h = history.value_history(ledger, DAY0 + np.arange(33), closes)
    month = perf.Period("month", DAY0.item(), (DAY0 + 32).item())
    row = perf.period_returns(h, [month])["month"]
    assert h.value[15, 0] == pytest.approx(21.2e6) and h.value[32, 0] == pytest.approx(19.4e6)
    assert row["twr"][0] == pytest.approx((21.2 / 18.6) * (19.4 / 26.2) - 1, rel=1e-12)
    assert round(row["twr"][0], 3) == -0.156
    half = (-5 + math.sqrt(25 + 4 * 18.6 * 19.4)) / (2 * 18.6) - 1  # 18.6x^2 + 5x - 19.4 = 0
    assert round(half, 4) == -0.1043
    assert row["mwr"][0] == pytest.approx((1 + half) ** 2 - 1, rel=1e-10)
    assert round(row["mwr"][0], 3) == -0.198
    assert not row["annualised"][0]


def test_xirr_matches_the_spreadsheet_documentation_example() -> None:
    """Microsoft's XIRR documentation (https://support.microsoft.com/excel/functions/xirr-function):
    -10,000 on 2008-01-01, 2,750 on 2008-03-01, 4,250 on 2008-10-30, 3,250 on 2009-02-15 and
    2,750 on 2009-04-01 give 0.373362535 (37.34%), on a 365-day year."""
    days = np.array(["2008-01-01", "2008-03-01", "2008-10-30", "2009-02-15", "2009-04-01"])
    result = irr.xirr(
        [-10_000, 2_750, 4_250, 3_250, 2_750], days.astype("datetime64[D]"), days_per_year=365
    )
    # Excel stops iterating at a 1e-8 relative change; our root is exact to 1e-13.
    assert result.rate[0] == pytest.approx(0.373362535, abs=1e-8)
    assert result.status[0] == irr.OK
    t = (days.astype("datetime64[D]") - days.astype("datetime64[D]")[0]).astype(int) / 365
    npv = np.sum(np.array([-10_000, 2_750, 4_250, 3_250, 2_750]) / (1 + result.rate[0]) ** t)
    assert abs(npv) < 1e-8


# --- generated ledgers against the naive reference -------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref.ledgers())
def test_value_history_matches_a_transaction_by_transaction_replay(g: ref.GeneratedLedger) -> None:
    h = history.value_history(g.ledger, g.dates, g.closes)
    for account in range(g.ledger.n_accounts):
        expected = ref.simulate(g, account)
        got = h.value[:, account]
        for t, v in enumerate(expected.value):
            if v is None:
                assert np.isnan(got[t])
            else:
                assert got[t] == pytest.approx(v, rel=1e-9, abs=1e-6)
        np.testing.assert_allclose(h.inflow[:, account], expected.inflow, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(h.outflow[:, account], expected.outflow, rtol=1e-9, atol=1e-6)
    # cash is the running sum of amounts: the ledger's invariant
    for account in range(g.ledger.n_accounts):
        mine = g.ledger.account == account
        assert h.cash[-1, account] == pytest.approx(g.ledger.amount[mine].sum(), abs=1e-6)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref.ledgers())
def test_twr_equals_the_product_of_sub_period_returns(g: ref.GeneratedLedger) -> None:
    h = history.value_history(g.ledger, g.dates, g.closes)
    end = g.dates[-1].item()
    result = perf.period_returns(h, [perf.Period("all", None, end, annualise=False)])
    for account in range(g.ledger.n_accounts):
        expected = ref.simulate(g, account)
        assert result.twr[0, account] == pytest.approx(
            ref.subperiod_twr(expected), rel=1e-9, abs=1e-9
        )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref.ledgers())
def test_mwr_is_a_root_of_the_npv_of_the_external_flows(g: ref.GeneratedLedger) -> None:
    h = history.value_history(g.ledger, g.dates, g.closes)
    end = g.dates[-1]
    result = perf.period_returns(h, [perf.Period("all", None, end.item(), annualise=False)])
    for account in range(g.ledger.n_accounts):
        expected = ref.simulate(g, account)
        flows = [*expected.flows, (int(end.astype(np.int64)), expected.value[-1])]
        first = min(d for d, _ in flows)
        span = int(end.astype(np.int64)) - first
        status = result.mwr_status[0, account]
        if span == 0:
            assert status == irr.TOO_SHORT
            continue
        if status not in (irr.OK, irr.MULTIPLE):
            # No rate: NPV keeps one sign over the whole searched range.
            assert status == irr.NO_RATE
            continue
        growth = 1 + result.mwr_cumulative[0, account]  # over the span

        def npv(g_: float, flows: list = flows, first: int = first, span: int = span) -> float:
            return sum(a * g_ ** (-(d - first) / span) for d, a in flows)

        scale = sum(abs(a) for _, a in flows)
        assert abs(npv(growth)) <= 1e-9 * scale
        # An independent solver (scipy's Brent) finds the same root when it is unique.
        if status == irr.OK and npv(1e-6) * npv(1e6) < 0:
            assert optimize.brentq(npv, 1e-6, 1e6, xtol=1e-14) == pytest.approx(growth, rel=1e-8)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref.ledgers(external_flows=False), st.integers(0, 10))
def test_without_external_flows_twr_equals_mwr_equals_simple_return(
    g: ref.GeneratedLedger, start_offset: int
) -> None:
    h = history.value_history(g.ledger, g.dates, g.closes)
    s = min(start_offset, len(g.dates) - 2)
    period = perf.Period("p", g.dates[s].item(), g.dates[-1].item(), annualise=True)
    result = perf.period_returns(h, [period])
    for account in range(g.ledger.n_accounts):
        if h.inception[account] > s or not result.start_value[0, account] > 0:
            continue  # opened after the start (or empty at it): no return for the period
        simple = h.value[-1, account] / h.value[s, account] - 1
        years = (g.dates[-1] - g.dates[s]).astype(int) / 365.25
        assert result.twr_cumulative[0, account] == pytest.approx(simple, rel=1e-9, abs=1e-12)
        assert result.mwr_cumulative[0, account] == pytest.approx(simple, rel=1e-9, abs=1e-12)
        annual = (1 + simple) ** (1 / years) - 1
        assert result.twr[0, account] == pytest.approx(annual, rel=1e-8, abs=1e-12)
        assert result.mwr[0, account] == pytest.approx(annual, rel=1e-8, abs=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref.ledgers(max_accounts=5))
def test_chunked_batch_equals_one_call(g: ref.GeneratedLedger) -> None:
    periods = perf.standard_periods(g.dates[-1].item())
    whole = perf.period_returns(history.value_history(g.ledger, g.dates, g.closes), periods)
    chunked = perf.performance(g.ledger, g.dates, g.closes, periods, accounts_per_chunk=2)
    np.testing.assert_allclose(chunked.twr, whole.twr, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(chunked.mwr, whole.mwr, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(chunked.mwr_status, whole.mwr_status)
    np.testing.assert_allclose(chunked.gain, whole.gain, rtol=1e-12, equal_nan=True)


# --- conventions and edge cases ----------------------------------------------------------------


def test_no_value_before_the_first_transaction_and_weekend_flows_count_on_monday() -> None:
    # Calendar: Friday 2020-01-03, Monday 01-06, Tuesday 01-07; a deposit on Saturday 01-04.
    dates = np.array(["2020-01-03", "2020-01-06", "2020-01-07"], dtype="datetime64[D]")
    ledger = history.Ledger.from_columns(
        account=[0, 1],
        date=np.array(["2020-01-03", "2020-01-04"], dtype="datetime64[D]"),
        kind=["deposit", "deposit"],
        amount=[100.0, 50.0],
    )
    h = history.value_history(ledger, dates, np.ones((3, 1)))
    assert h.value[:, 0].tolist() == [100.0, 100.0, 100.0]
    assert np.isnan(h.value[0, 1]) and h.value[1:, 1].tolist() == [50.0, 50.0]
    assert h.inception.tolist() == [0, 1]
    r = perf.daily_returns(h)
    assert np.isnan(r[0, 1]) and r[1, 1] == 0.0


def test_transactions_outside_the_calendar_are_refused() -> None:
    ledger = _ledger([(0, 5, "deposit", 10.0)])
    with pytest.raises(ValueError, match="outside the calendar"):
        history.value_history(ledger, DAY0 + np.arange(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match="unknown transaction kinds"):
        history.kind_codes(["deposit", "gift"])


def test_flow_timing_inflows_at_the_start_outflows_at_the_end() -> None:
    # Day 0: deposit 1,000 and buy 10 @ 100 (close 100). Day 1: close 110, deposit 1,000 (start
    # of day: earns nothing but sits in cash) and withdraw 500 (end of day).
    closes = np.array([[100.0], [110.0]])
    ledger = _ledger(
        [
            (0, 0, "deposit", 1000.0),
            (0, 0, "buy", -1000.0, 0, 10.0),
            (0, 1, "deposit", 1000.0),
            (0, 1, "withdrawal", -500.0),
        ]
    )
    h = history.value_history(ledger, DAY0 + np.arange(2), closes)
    r = perf.daily_returns(h)
    # capital at the start of day 1: 1,000 + 1,000; at its end 1,100 + 500 in cash + 500 paid out
    assert r[1, 0] == pytest.approx((1100 + 500 + 500) / 2000 - 1)
    assert r[0, 0] == 0.0


def test_securities_transferred_in_count_at_the_previous_close() -> None:
    # An imported position (transfer in, amount 0) on day 1 earns day 1's move (100 -> 105).
    closes = np.array([[100.0], [105.0]])
    ledger = _ledger([(0, 1, "transfer_in", 0.0, 0, 10.0)])
    h = history.value_history(ledger, DAY0 + np.arange(2), closes)
    assert h.inflow[1, 0] == 1000.0 and h.value[1, 0] == 1050.0
    assert perf.daily_returns(h)[1, 0] == pytest.approx(0.05)


def test_fees_are_inside_the_net_return_and_flows_in_the_gross_one() -> None:
    ledger = _ledger([(0, 0, "deposit", 1000.0), (0, 1, "fee", -10.0)])
    h = history.value_history(ledger, DAY0 + np.arange(2), np.ones((2, 1)))
    assert h.fees[1, 0] == 10.0
    assert perf.daily_returns(h)[1, 0] == pytest.approx(-0.01)
    assert perf.daily_returns(h, gross_of_fees=True)[1, 0] == 0.0
    row = perf.period_returns(h, _since_inception(1))["inception"]
    assert row["fees"][0] == 10.0 and row["gain"][0] == -10.0


def test_commissions_are_trading_costs_not_flows() -> None:
    ledger = _ledger([(0, 0, "deposit", 1000.0), (0, 0, "buy", -1001.0 + 1.0 + 0.0, 0, 9.99, 1.0)])
    h = history.value_history(ledger, DAY0 + np.arange(1), np.full((1, 1), 100.0))
    assert h.costs[0, 0] == 1.0 and h.inflow[0, 0] == 1000.0


def test_household_nets_transfers_between_its_accounts() -> None:
    # Account 0 moves 500 to account 1 on day 1; the household's day-1 return is 0, not diluted.
    closes = np.array([[100.0], [100.0], [110.0]])
    ledger = _ledger(
        [
            (0, 0, "deposit", 1000.0),
            (0, 0, "buy", -500.0, 0, 5.0),
            (0, 1, "withdrawal", -500.0),
            (1, 1, "deposit", 500.0),
            (1, 1, "buy", -500.0, 0, 5.0),
        ],
        n_accounts=2,
    )
    h = history.value_history(ledger, DAY0 + np.arange(3), closes)
    house = history.combine(h, np.array([0, 0]), 1)
    assert house.inflow[1, 0] == 0.0 and house.outflow[1, 0] == 0.0
    assert house.value[:, 0].tolist() == [1000.0, 1000.0, 1100.0]
    assert perf.daily_returns(house)[:, 0].tolist() == pytest.approx([0.0, 0.0, 0.1])
    assert house.inception.tolist() == [0]


def test_after_tax_return_charges_the_tax_of_realised_gains_and_income() -> None:
    # Buy 10 @ 100, sell at 120 on day 1 (gain 200, short term), dividend 10 on day 1.
    closes = np.array([[100.0], [120.0]])
    ledger = _ledger(
        [
            (0, 0, "deposit", 1000.0),
            (0, 0, "buy", -1000.0, 0, 10.0),
            (0, 1, "dividend", 10.0, 0),
            (0, 1, "sell", 1200.0, 0, 10.0),
        ]
    )
    dates = DAY0 + np.arange(2)
    h = history.value_history(ledger, dates, closes)
    gains = history.daily_totals(dates, np.array([0]), np.array([dates[1]]), np.array([200.0]), 1)
    tax = perf.tax_charges(
        short_term_gains=gains,
        long_term_gains=np.zeros_like(gains),
        income=h.income,
        short_term_rate=0.35,
        long_term_rate=0.15,
        income_rate=0.15,
    )
    assert tax[1, 0] == pytest.approx(200 * 0.35 + 10 * 0.15)
    result = perf.period_returns(h, _since_inception(1), tax=tax)
    assert result.twr[0, 0] == pytest.approx(0.21)
    assert result.twr_after_tax[0, 0] == pytest.approx((1210 - 71.5) / 1000 - 1)
    assert result.tax[0, 0] == pytest.approx(71.5)
    zero = perf.period_returns(h, _since_inception(1), tax=np.zeros_like(tax))
    assert zero.twr_after_tax[0, 0] == pytest.approx(result.twr[0, 0], rel=1e-15)
    # post-liquidation: also the tax on what is still unrealised (nothing here) -> unchanged;
    # with 50 of liquidation tax the last day loses 50 more
    post = perf.period_returns(h, _since_inception(1), tax=tax, liquidation_tax=np.array([50.0]))
    assert post.twr_after_tax[0, 0] == pytest.approx((1210 - 71.5 - 50) / 1000 - 1)


def test_fund_expenses_are_estimated_from_the_expense_ratio() -> None:
    ledger = _ledger([(0, 0, "transfer_in", 0.0, 0, 100.0)])
    dates = np.array(["2021-01-01", "2021-01-04"], dtype="datetime64[D]")
    ledger = history.Ledger.from_columns(
        account=[0],
        date=dates[:1],
        kind=["transfer_in"],
        amount=[0.0],
        security=[0],
        quantity=[100.0],
    )
    h = history.value_history(
        ledger, dates, np.full((2, 1), 100.0), expense_ratios=np.array([0.0365])
    )
    # 10,000 x 3.65% x 3 days / 365.25 on Monday
    assert h.fund_expenses[1, 0] == pytest.approx(10_000 * 0.0365 * 3 / 365.25)


def test_standard_periods() -> None:
    periods = {p.name: p for p in perf.standard_periods(dt.date(2024, 2, 29))}
    assert periods["mtd"].start == dt.date(2024, 1, 31)
    assert periods["qtd"].start == dt.date(2023, 12, 31)
    assert periods["ytd"].start == dt.date(2023, 12, 31)
    assert periods["1y"].start == dt.date(2023, 2, 28)
    assert periods["3y"].start == dt.date(2021, 2, 28) and periods["3y"].annualise
    assert periods["5y"].start == dt.date(2019, 2, 28)
    assert periods["inception"].start is None and periods["inception"].annualise is None
    assert not periods["1y"].annualise


def test_periods_before_inception_are_unavailable_and_since_inception_annualises_after_a_year() -> (
    None
):
    n = 800
    ledger = _ledger(
        [(0, 0, "deposit", 100.0), (0, 0, "buy", -100.0, 0, 1.0), (1, 500, "deposit", 50.0)], 2
    )
    closes = (100.0 * 1.0002 ** np.arange(n))[:, None]
    h = history.value_history(ledger, DAY0 + np.arange(n), closes)
    result = perf.period_returns(h, perf.standard_periods((DAY0 + n - 1).item()))
    ytd, one_year, three = result["ytd"], result["1y"], result["3y"]
    assert np.isfinite(ytd["twr"][0]) and np.isnan(one_year["twr"][1])
    assert np.isnan(three["twr"]).all() and (three["mwr_status"] == irr.TOO_SHORT).all()
    inception = result["inception"]
    assert inception["annualised"].tolist() == [True, False]
    assert inception["twr"][1] == 0.0 and inception["mwr"][1] == 0.0


def test_irr_statuses() -> None:
    result = irr.xirr(
        np.array([100.0, 50.0, -100.0, 230.0, -132.0, -5.0, 5.0]),
        np.array([0, 10, 0, 365, 730, 3, 3]),
        np.array([0, 0, 1, 1, 1, 2, 2]),
        4,
        days_per_year=365,
    )
    assert result.status.tolist() == [irr.NO_RATE, irr.MULTIPLE, irr.TOO_SHORT, irr.TOO_SHORT]
    assert result.rate[1] == pytest.approx(0.10)  # roots 10% and 20%: the one nearest zero
    assert np.isnan(result.rate[[0, 2, 3]]).all()


@pytest.mark.parametrize("growth", [1e-9, 0.01, 0.5, 1.0, 3.0, 40.0, 1e6])
def test_irr_recovers_known_rates_over_short_and_long_spans(growth: float) -> None:
    for span in (1, 30, 365, 3650):
        result = irr.xirr([-1.0, growth], [0, span])
        assert result.cumulative[0] == pytest.approx(growth - 1, rel=1e-10, abs=1e-12)


def test_accounts_without_transactions_have_no_value_and_no_returns() -> None:
    dates = DAY0 + np.arange(5)
    ledger = _ledger([(1, 2, "deposit", 100.0)], n_accounts=3)
    h = history.value_history(ledger, dates, np.ones((5, 1)))
    assert np.isnan(h.value[:, [0, 2]]).all() and h.inception.tolist() == [5, 2, 5]
    result = perf.performance(
        ledger, dates, np.ones((5, 1)), perf.standard_periods(dates[-1].item())
    )
    assert np.isnan(result.twr[:, [0, 2]]).all()
    assert (result.mwr_status[:, [0, 2]] == irr.TOO_SHORT).all()
    assert result["inception"]["twr"][1] == 0.0
