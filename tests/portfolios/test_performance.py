"""Performance from the ledger (portfolios/performance): selectors against numbers worked by hand.

The account: a $10,000 deposit on day 1, half of it in 50 shares of STK at $100; $5,000 more
on day 2 (start of day), when STK closes at $110; STK closes at $99 on day 3. Days are the last
three sessions up to the suite day, so the dates move with the suite clock.

    value:  day 1: 5,000 cash + 50 x 100 = 10,000
            day 2: 10,000 cash + 50 x 110 = 15,500
            day 3: 10,000 cash + 50 x 99  = 14,950
    TWR:    (10,000 / 10,000) x (15,500 / 15,000) x (14,950 / 15,500) - 1 = 14,950 / 15,000 - 1
            = -0.3333...%
    gain:   14,950 - 15,000 = -$50
    benchmark (100% STK): 99 / 100 - 1 = -1% since the close before day 1 (STK closed at 100)
    benchmark value: 10,000 x 1.0 -> (10,000 + 5,000) x 1.1 = 16,500 -> x 0.9 = 14,850
    attribution (cash is a class the benchmark does not hold, earning 0):
        day 2: cash weight 10,000 / 15,000 = 2/3, allocation (2/3)(0 - 0.10) = -0.066667
        day 3: cash weight 10,000 / 15,500, allocation (10,000 / 15,500)(0 + 0.10) = 0.064516
        GRAP: -0.066667 x (1 + B_3 = 0.9) + 0.064516 x (1 + R_2 = 15,500 / 15,000) = 0.0066667
        = TWR - benchmark = -0.0033333 + 0.01; the stock sleeve matched its index: no effect.
    MWR: g = 1 + cumulative MWR over the span solves 10,000 g + 5,000 g ** f = 14,950, with f
        the share of the span from day 2 to day 3.
"""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.urls import reverse

from portfolios import ledger, market_calendar
from portfolios.models import Portfolio, Price, TargetAllocation, Transaction
from portfolios.performance import selectors
from tests.factories import AssetClassFactory, PortfolioFactory, SecurityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def days(today: dt.date) -> list[dt.date]:
    """The session before day 1, then days 1 to 3 (the last session on or before today)."""
    sessions = market_calendar.sessions(today - dt.timedelta(days=20), today)
    return [d.item() for d in sessions[-4:]]


@pytest.fixture
def account(user, days: list[dt.date]) -> Portfolio:
    stocks = AssetClassFactory(code="perf-stocks", name="Stocks")
    stock = SecurityFactory(ticker="STK", asset_class=stocks)
    for day, close in zip(days, ("100", "100", "110", "99"), strict=True):
        Price.objects.create(security=stock, date=day, close=Decimal(close))
    portfolio = PortfolioFactory(owner=user, name="Taxable")
    TargetAllocation.objects.create(
        portfolio=portfolio, asset_class=stocks, weight=Decimal("1"), security=stock
    )
    d1, d2 = days[1], days[2]
    ledger.record_cash(portfolio, kind="deposit", amount=Decimal("10000"), trade_date=d1)
    ledger.record_buy(
        portfolio, security=stock, quantity=Decimal("50"), price=Decimal("100"), trade_date=d1
    )
    ledger.record_cash(portfolio, kind="deposit", amount=Decimal("5000"), trade_date=d2)
    return portfolio


def test_value_history_starts_at_the_first_transaction(account, days, today) -> None:
    report = selectors.account_report(account, today=today)
    assert report is not None
    assert report.dates[0] == days[1]
    assert report.value[:3] == pytest.approx([10_000, 15_500, 14_950])
    assert report.value[-1] == pytest.approx(14_950)  # carried to today when it is no session


def test_time_weighted_return_and_gain_match_the_hand_computation(account, today) -> None:
    inception = selectors.account_report(account, today=today).period("inception")
    assert inception.twr == pytest.approx(14_950 / 15_000 - 1, abs=1e-12)
    assert inception.gain == pytest.approx(-50)
    assert inception.inflows == pytest.approx(15_000)
    assert not inception.annualised


def test_money_weighted_return_zeroes_the_flows(account, days, today) -> None:
    inception = selectors.account_report(account, today=today).period("inception")
    # The valuation ends at the last session (today's close when today is one).
    span = (days[3] - days[1]).days
    share = (days[3] - days[2]).days / span
    assert not inception.annualised
    g = 1 + inception.mwr
    assert 10_000 * g + 5_000 * g**share == pytest.approx(14_950, abs=1e-6)


def test_benchmark_and_attribution_add_up(account, today) -> None:
    report = selectors.account_report(account, today=today)
    inception = report.period("inception")
    assert inception.benchmark == pytest.approx(-0.01, abs=1e-12)
    assert report.benchmark_value[:3] == pytest.approx([10_000, 16_500, 14_850])
    effects = {row.code: row for row in report.attribution[-1].rows}
    assert effects["cash"].allocation == pytest.approx(0.1 / 15, abs=1e-12)
    assert effects["perf-stocks"].total == pytest.approx(0.0, abs=1e-12)
    assert report.active == pytest.approx(inception.twr - inception.benchmark, abs=1e-12)
    for table in report.attribution:  # every period's effects add up to its active return
        period = report.period(table.period)
        assert table.active == pytest.approx(period.twr - period.benchmark, abs=1e-12)


def test_drawdown_is_the_fall_of_the_time_weighted_index(account, today) -> None:
    report = selectors.account_report(account, today=today)
    # Peak after day 2 (index 15,500 / 15,000), then 14,950 / 15,500 - 1.
    assert report.drawdown[2] == pytest.approx(14_950 / 15_500 - 1)
    assert report.risk["max_drawdown"] == pytest.approx(14_950 / 15_500 - 1)


def test_risk_statistics_are_those_of_the_daily_returns(account, today) -> None:
    report = selectors.account_report(account, today=today)
    daily = np.array([0.0, 15_500 / 15_000 - 1, 14_950 / 15_500 - 1])
    assert report.risk["volatility"] == pytest.approx(daily.std(ddof=1) * np.sqrt(252))
    assert report.risk["sharpe"] == pytest.approx(daily.mean() / daily.std(ddof=1) * np.sqrt(252))
    # The benchmark's days: 0, +10%, -10% (STK itself); least squares by numpy.
    bench = np.array([0.0, 0.1, -0.1])
    beta, alpha = np.polyfit(bench, daily, 1)
    assert report.risk["beta"] == pytest.approx(beta, abs=1e-10)
    assert report.risk["alpha"] == pytest.approx(alpha * 252, abs=1e-10)


def test_an_account_imported_today_has_no_history(user, today) -> None:
    stock = SecurityFactory(ticker="OLD", asset_class=AssetClassFactory(code="perf-old"))
    year_ago = today - dt.timedelta(days=400)
    for day in (year_ago, today - dt.timedelta(days=30), market_calendar.previous_session(today)):
        Price.objects.create(security=stock, date=day, close=Decimal("50") + day.day)
    portfolio = PortfolioFactory(owner=user)
    # The lots import dates the transfer on the lot's purchase, a year ago.
    ledger.record_transfer_in(
        portfolio,
        security=stock,
        quantity=Decimal("10"),
        cost_basis=Decimal("400"),
        acquired_on=year_ago,
    )
    assert Transaction.objects.get(portfolio=portfolio).trade_date == year_ago
    report = selectors.account_report(portfolio, today=today)
    assert report is not None
    assert report.dates == [today]
    inception = report.period("inception")
    assert inception.twr == pytest.approx(0.0)
    assert inception.gain == pytest.approx(0.0)
    assert not report.period("ytd").available
    assert np.isnan(inception.mwr) and inception.mwr_status == "too short"  # one day of flows


def test_no_transactions_no_report(user, today) -> None:
    assert selectors.account_report(PortfolioFactory(owner=user), today=today) is None
    assert selectors.household_report(user, today=today) is None


def test_household_nets_its_accounts(account, user, days, today) -> None:
    other = PortfolioFactory(owner=user, name="IRA", tax_treatment=Portfolio.TaxTreatment.ROTH_IRA)
    ledger.record_cash(other, kind="deposit", amount=Decimal("1000"), trade_date=days[3])
    report = selectors.household_report(user, today=today)
    assert report is not None
    assert report.value[2] == pytest.approx(14_950 + 1_000)
    # Day 3 starts with 15,500 + the IRA's 1,000 deposit and ends at 14,950 + 1,000.
    expected = (15_500 / 15_000) * (15_950 / 16_500) - 1
    assert report.period("inception").twr == pytest.approx(expected, abs=1e-12)
    assert np.isfinite(report.period("inception").mwr)


def test_the_pages_show_the_returns_to_the_owner_only(account, user, other_user, client) -> None:
    client.force_login(user)
    page = client.get(reverse("performance:account", args=[account.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="twr-inception">-0.33%' in body
    assert 'data-testid="active">+0.67%' in body
    assert client.get(reverse("performance:household")).status_code == 200
    client.force_login(other_user)
    assert client.get(reverse("performance:account", args=[account.pk])).status_code == 404
    empty = client.get(reverse("performance:household"))
    assert 'data-testid="no-history"' in empty.content.decode()


def test_the_household_page_reads_a_fixed_number_of_queries(
    account, user, days, client, django_assert_max_num_queries
) -> None:
    for n in range(3):
        extra = PortfolioFactory(owner=user, name=f"Extra {n}")
        ledger.record_cash(extra, kind="deposit", amount=Decimal("100"), trade_date=days[2])
    client.force_login(user)
    with django_assert_max_num_queries(25):
        assert client.get(reverse("performance:household")).status_code == 200


def test_the_dashboard_shows_the_ledger_history_and_gain(account, user, days, client) -> None:
    client.force_login(user)
    page = client.get(reverse("dashboard"))
    summary = page.context["ledger_value"]
    assert summary.dates[0] == days[1]
    assert summary.daily_values[:3] == [10_000, 15_500, 14_950]
    assert summary.gain == pytest.approx(-50)
    assert not summary.whole_year
    assert "-$50 (-0.33%) since" in page.content.decode()


def test_the_dashboard_invents_no_history_for_an_import(user, today, client) -> None:
    stock = SecurityFactory(ticker="IMP", asset_class=AssetClassFactory(code="perf-imp"))
    for back in (300, 100, 1):
        Price.objects.create(
            security=stock,
            date=market_calendar.previous_session(today - dt.timedelta(days=back - 1)),
            close=Decimal(100 + back),
        )
    portfolio = PortfolioFactory(owner=user)
    ledger.record_transfer_in(
        portfolio,
        security=stock,
        quantity=Decimal("10"),
        cost_basis=Decimal("900"),
        acquired_on=today - dt.timedelta(days=400),
    )
    client.force_login(user)
    summary = client.get(reverse("dashboard")).context["ledger_value"]
    assert summary.dates == [today]
    assert summary.gain == pytest.approx(0.0)


def test_the_account_page_shows_its_ledger_value(account, user, days, client) -> None:
    client.force_login(user)
    page = client.get(reverse("portfolios:detail", args=[account.pk]))
    assert page.context["ledger_value"].daily_values[:3] == [10_000, 15_500, 14_950]
    assert 'data-testid="account-gain">-$50 (-0.33%)</span> since' in page.text


def test_every_period_has_an_attribution_that_adds_up(user, today) -> None:
    stocks = AssetClassFactory(code="perf-s2", name="Stocks")
    bonds = AssetClassFactory(code="perf-b2", name="Bonds")
    stock = SecurityFactory(ticker="ST2", asset_class=stocks)
    bond = SecurityFactory(ticker="BD2", asset_class=bonds)
    sessions = [d.item() for d in market_calendar.sessions(today - dt.timedelta(days=130), today)]
    rng = np.random.default_rng(3)
    for security in (stock, bond):
        walk = 100 * np.cumprod(1 + rng.normal(0, 0.01, len(sessions)))
        for day, close in zip(sessions, walk, strict=True):
            Price.objects.create(security=security, date=day, close=Decimal(f"{close:.2f}"))
    portfolio = PortfolioFactory(owner=user)
    for security, asset_class in ((stock, stocks), (bond, bonds)):
        TargetAllocation.objects.create(
            portfolio=portfolio, asset_class=asset_class, weight=Decimal("0.5"), security=security
        )
    start = sessions[1]
    ledger.record_cash(portfolio, kind="deposit", amount=Decimal("20000"), trade_date=start)
    ledger.record_buy(
        portfolio, security=stock, quantity=Decimal("120"), price=Decimal("100"), trade_date=start
    )
    ledger.record_buy(
        portfolio, security=bond, quantity=Decimal("60"), price=Decimal("100"), trade_date=start
    )
    ledger.record_cash(portfolio, kind="deposit", amount=Decimal("3000"), trade_date=sessions[-25])
    report = selectors.account_report(portfolio, today=today)
    names = [table.period for table in report.attribution]
    assert "mtd" in names or "qtd" in names
    for table in report.attribution:
        period = report.period(table.period)
        assert not period.annualised
        assert table.active == pytest.approx(period.twr - period.benchmark, abs=1e-12)
        assert sum(row.total for row in table.rows) == pytest.approx(table.active, abs=1e-12)


def test_a_transfer_never_counts_after_a_later_sale_of_it(user, days, today) -> None:
    stock = SecurityFactory(ticker="TSL", asset_class=AssetClassFactory(code="perf-tsl"))
    for day in days:
        Price.objects.create(security=stock, date=day, close=Decimal("100"))
    portfolio = PortfolioFactory(owner=user)
    ledger.record_transfer_in(
        portfolio,
        security=stock,
        quantity=Decimal("10"),
        cost_basis=Decimal("900"),
        acquired_on=days[0],
    )
    # Recorded today, but a sale of it is dated day 2: the shares were there by then.
    ledger.record_sell(
        portfolio, security=stock, quantity=Decimal("4"), price=Decimal("100"), trade_date=days[2]
    )
    report = selectors.account_report(portfolio, today=today)
    assert report.dates[0] == days[2]
    assert report.value[0] == pytest.approx(1_000)  # 6 shares + $400 cash
