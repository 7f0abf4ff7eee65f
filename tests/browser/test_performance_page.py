"""A new investor's performance in a real Chromium, from the ledger, on days moved by time_machine.

Day 1 (the third-last session up to the suite day): the investor imports 10 shares of STK
bought over a year ago (STK rose from 50 to 100 over that year: priced backwards, that would
be a year of gains they never had here). The pages show one day, no gain.
Day 2: a $1,000 deposit, STK closes at 110, and a rebalance buys 10 BND at 50 (paper broker,
no slippage or commission in this test). Day 3: STK 104, BND 51.

Worked by hand (values at each close; the import arrives at the start of day 1 at the close
before it, 10 x 100 = 1,000):
    day 1: 10 x 100 = 1,000                         r1 = 1,000 / 1,000 - 1 = 0
    day 2: 10 x 110 + 10 x 50 + 500 cash = 2,100     r2 = 2,100 / (1,000 + 1,000) - 1 = 5%
    day 3: 10 x 104 + 10 x 51 + 500 cash = 2,050     r3 = 2,050 / 2,100 - 1
    TWR = 1.05 x 2,050 / 2,100 - 1 = 2,050 / 2,000 - 1 = +2.50%
    MWR (cumulative, under a year): g solves 1,000 g + 1,000 g ** f = 2,050, f the share of
    the calendar days from day 1 to day 3 that lie after day 2; solved below by bisection.
"""

import datetime as dt
import re
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from playwright.sync_api import expect

from advisor.core import clock
from portfolios import ledger, market_calendar
from portfolios.models import Price, TargetAllocation
from rebalancing.models import Proposal
from rebalancing.selectors import holdings
from rebalancing.services import approval, drafts, execution, proposals
from tests.browser.a11y import check_page
from tests.conftest import screenshot
from tests.factories import AssetClassFactory, PortfolioFactory, SecurityFactory, UserFactory

pytestmark = [pytest.mark.browser]

EMAIL, PASSWORD = "perf@example.com", "perf-password-2026"


def _evening(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(18, 30), tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))


def _log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()


def _mwr_by_hand(d1: dt.date, d2: dt.date, d3: dt.date) -> float:
    share = (d3 - d2).days / (d3 - d1).days
    low, high = 0.5, 2.0
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if 1000 * middle + 1000 * middle**share < 2050 else (low, middle)
    return low - 1


def _rebalance(portfolio, bonds, day: dt.date) -> Proposal:
    draft = drafts.ProposalDraft(
        portfolio_id=portfolio.pk,
        rule="cash",
        reason="Cash waiting to be invested: buy bonds up to their 50% target.",
        prices_as_of=day,
        holdings_fingerprint=holdings.holdings_fingerprint([portfolio.pk])[portfolio.pk],
        trades=[
            drafts.TradeDraft(
                security_id=bonds.pk,
                side="buy",
                quantity=Decimal("10"),
                price=Decimal("50"),
                sequence=0,
            )
        ],
        before_weights={"perf-stocks": 1.0},
        after_weights={"perf-stocks": 0.6875, "perf-bonds": 0.3125},
        target_weights={"perf-stocks": 0.5, "perf-bonds": 0.5},
        drift={"perf-stocks": 0.5, "perf-bonds": -0.5},
        total_value=Decimal("2100"),
    )
    created = proposals.write_proposals([draft], kind="rebalance").created[0]
    return Proposal.objects.get(pk=created.pk)


def test_a_new_investor_sees_no_invented_history_then_true_returns(
    page, live_server, settings, today
):
    settings.ADVISOR_PAPER_SLIPPAGE_BPS = 0.0
    settings.ADVISOR_PAPER_COMMISSION = 0.0
    sessions = market_calendar.sessions(today - dt.timedelta(days=20), today)
    d0, d1, d2, d3 = (d.item() for d in sessions[-4:])
    user = UserFactory(email=EMAIL, first_name="Pat", last_name="Newcomer")
    user.set_password(PASSWORD)
    user.save()
    stocks_class = AssetClassFactory(code="perf-stocks", name="US stocks")
    bonds_class = AssetClassFactory(code="perf-bonds", name="Bonds")
    stock = SecurityFactory(ticker="STK", name="Stock index fund", asset_class=stocks_class)
    bonds = SecurityFactory(ticker="BDX", name="Bond index fund", asset_class=bonds_class)
    year = market_calendar.sessions(d0 - dt.timedelta(days=365), d0)
    for i, day in enumerate(year):
        close = Decimal("50") + Decimal(50 * i) / Decimal(len(year) - 1)
        Price.objects.create(security=stock, date=day.item(), close=close.quantize(Decimal("0.01")))
        Price.objects.create(security=bonds, date=day.item(), close=Decimal("50"))
    Price.objects.create(security=stock, date=d1, close=Decimal("100"))
    Price.objects.create(security=bonds, date=d1, close=Decimal("50"))
    portfolio = PortfolioFactory(owner=user, name="Brokerage")
    for security, asset_class in ((stock, stocks_class), (bonds, bonds_class)):
        TargetAllocation.objects.create(
            portfolio=portfolio, asset_class=asset_class, weight=Decimal("0.5"), security=security
        )

    with time_machine.travel(_evening(d1), tick=True):
        assert clock.today() == d1
        ledger.record_transfer_in(
            portfolio,
            security=stock,
            quantity=Decimal("10"),
            cost_basis=Decimal("600"),
            acquired_on=d1 - dt.timedelta(days=400),
        )
        _log_in(page, live_server)
        expect(page.get_by_test_id("household-gain")).to_contain_text("+$0 (0.00%) since")
        page.wait_for_function("document.querySelector('#value-chart').width > 0")
        screenshot(page, "dashboard-imported-today")
        check_page(page)
        page.goto(f"{live_server.url}/portfolios/{portfolio.pk}/")
        expect(page.get_by_test_id("account-gain")).to_have_text("+$0 (0.00%)")
        check_page(page)
        page.goto(f"{live_server.url}/performance/accounts/{portfolio.pk}/")
        expect(page.get_by_test_id("current-value")).to_have_text("$1,000")
        expect(page.get_by_test_id("twr-inception")).to_have_text("0.00%")
        expect(page.get_by_test_id("gain-inception")).to_have_text("$0")
        assert (
            page.evaluate(
                "JSON.parse(document.getElementById('performance-data').textContent).labels.length"
            )
            == 1
        )
        screenshot(page, "performance-imported-today")

    with time_machine.travel(_evening(d2), tick=True):
        Price.objects.create(security=stock, date=d2, close=Decimal("110"))
        Price.objects.create(security=bonds, date=d2, close=Decimal("50"))
        ledger.record_cash(portfolio, kind="deposit", amount=Decimal("1000"), trade_date=d2)
        proposal = _rebalance(portfolio, bonds, d2)
        assert not approval.approve_proposal(proposal.pk, by=user).stale
        assert execution.execute_proposal(proposal.pk) == Proposal.Status.EXECUTED

    Price.objects.create(security=stock, date=d3, close=Decimal("104"))
    Price.objects.create(security=bonds, date=d3, close=Decimal("51"))
    _log_in(page, live_server)  # days later: the session has timed out
    page.goto(f"{live_server.url}/performance/accounts/{portfolio.pk}/")
    expect(page.get_by_test_id("current-value")).to_have_text("$2,050")
    expect(page.get_by_test_id("twr-inception")).to_have_text("+2.50%")
    mwr = _mwr_by_hand(d1, d2, d3)
    expect(page.get_by_test_id("mwr-inception")).to_have_text(f"{mwr * 100:+.2f}%")
    expect(page.get_by_test_id("gain-inception")).to_have_text("$50")
    page.wait_for_function("document.querySelector('#value-benchmark-chart').width > 0")
    screenshot(page, "performance-account")
    check_page(page)
    page.goto(f"{live_server.url}/performance/")
    expect(page.get_by_test_id("twr-inception")).to_have_text("+2.50%")
    screenshot(page, "performance-household")
    check_page(page)
