"""Switching back to the preferred security after a harvest, through the real drift check.

The hand-worked household: a 60/40 model (VTI / BND). On 25 October 2026 (HARVEST_DAY) VTI is
harvested: 60 VTI bought at 125 sold at 100 (a 1,500 short-term loss), 120 ITOT bought at 50.
On 25 November (TODAY = HARVEST_DAY + 31) ITOT is at 49: 120 x 49 = 5,880 sold at a loss of
120, and 5,880 x 0.9995 / 1.0005 = 5,874.12 buys floor(58.74) = 58 VTI (whole shares) = 5,800.
Costs at 5 bps: 2.94 + 2.90 = 5.84; cash 5,880 - 5,800 - 5.84 = 74.16. Tax at 24%: -28.80.
Holdings 5,880 / 4,000 keep the account inside its 60/40 bands, so no other rule fires.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portfolios import ledger
from portfolios.models import AssetClass, Portfolio, Price, Security, TaxLot, WashSaleBlock
from rebalancing.models import Proposal, RebalancePolicy, ReplacementPair
from rebalancing.services import drift, harvest
from tests.rebalancing.drift_world import TODAY, make_world

pytestmark = pytest.mark.django_db

HARVEST_DAY = TODAY - dt.timedelta(days=31)  # 2026-10-25
BEFORE = dt.date(2026, 10, 23)  # the Friday close the harvest used


@pytest.fixture(autouse=True)
def _costs(settings) -> None:
    settings.ADVISOR_PAPER_SLIPPAGE_BPS = 5.0
    settings.ADVISOR_PAPER_COMMISSION = 0.0


def _price(security: Security, close: str, day: dt.date) -> None:
    Price.objects.update_or_create(security=security, date=day, defaults={"close": Decimal(close)})


@pytest.fixture
def world():
    w = make_world()  # VTI 100, BND 50 on 24 November
    Security.objects.filter(pk=w.equity.pk).update(allows_fractional=False)
    w.equity.refresh_from_db()
    itot = Security.objects.create(
        ticker="ITOT",
        name="Core Total Market",
        asset_class=AssetClass.objects.get(code="us-equity"),
    )
    ReplacementPair.objects.create(security=w.equity, replacement=itot, priority=1)
    for security, close in ((w.equity, "100"), (w.bonds, "50"), (itot, "50")):
        _price(security, close, BEFORE)
    _price(itot, "49", dt.date(2026, 11, 24))
    w.itot = itot
    return w


def _account(owner, world, name: str = "Brokerage") -> Portfolio:
    p = Portfolio.objects.create(owner=owner, name=name, model=world.model)
    ledger.record_cash(p, kind="deposit", amount=Decimal("11500"), trade_date=dt.date(2026, 1, 2))
    ledger.record_buy(p, security=world.equity, quantity=Decimal("60"), price=Decimal("125"),
                      trade_date=dt.date(2026, 3, 2))  # fmt: skip
    ledger.record_buy(p, security=world.bonds, quantity=Decimal("80"), price=Decimal("50"),
                      trade_date=dt.date(2022, 3, 1))  # fmt: skip
    return p


def _harvest(portfolio: Portfolio) -> Proposal:
    """Scan and execute the harvest through the ledger on HARVEST_DAY."""
    harvest.scan_for_harvest(user_ids=[portfolio.owner_id], on=HARVEST_DAY)
    proposal = Proposal.objects.get(portfolio=portfolio, kind=Proposal.Kind.HARVEST)
    for trade in proposal.trades.order_by("sequence", "id"):
        common = {"security": trade.security, "quantity": trade.quantity, "price": trade.price,
                  "trade_date": HARVEST_DAY}  # fmt: skip
        if trade.side == "sell":
            picks = [ledger.LotPick(int(p["lot"]), Decimal(p["quantity"])) for p in trade.lots]
            ledger.record_sell(portfolio, method="specific", picks=picks, **common)
        else:
            ledger.record_buy(portfolio, **common)
    Proposal.objects.filter(pk=proposal.pk).update(status=Proposal.Status.EXECUTED)
    return proposal


@pytest.fixture
def harvested(user, world):
    portfolio = _account(user, world)
    proposal = _harvest(portfolio)
    buy = proposal.trades.get(side="buy")
    assert (buy.security, buy.quantity) == (world.itot, Decimal("120"))
    assert WashSaleBlock.objects.get().until == HARVEST_DAY + dt.timedelta(days=30)
    portfolio.refresh_from_db()
    assert portfolio.cash == Decimal("0.00")
    return portfolio


def test_31_days_after_the_harvest_the_drift_check_switches_back(harvested, world) -> None:
    result = drift.run_drift_check(harvested, today=TODAY)
    assert (result.status, result.rule) == ("proposed", "switch_back")
    proposal = Proposal.objects.get(pk=result.proposal_id)
    assert (proposal.kind, proposal.rule) == (Proposal.Kind.REBALANCE, "switch_back")
    sell, buy = proposal.trades.order_by("sequence")
    itot_lot = TaxLot.objects.get(portfolio=harvested, security=world.itot)
    assert (sell.side, sell.security, sell.quantity, sell.amount) == (
        "sell", world.itot, Decimal("120"), Decimal("5880.00"),
    )  # fmt: skip
    assert sell.lots == [
        {"lot": itot_lot.pk, "quantity": "120.00000000", "short_term_gain": "-120.00",
         "long_term_gain": "0.00"},
    ]  # fmt: skip
    assert (buy.side, buy.security, buy.quantity, buy.amount) == (
        "buy", world.equity, Decimal("58"), Decimal("5800.00"),
    )  # fmt: skip
    assert (sell.est_cost, buy.est_cost, proposal.est_cost) == (
        Decimal("2.94"), Decimal("2.90"), Decimal("5.84"),
    )  # fmt: skip
    assert proposal.est_short_term_gain == Decimal("-120.00")
    assert proposal.est_long_term_gain == Decimal("0.00")
    assert proposal.est_tax == Decimal("-28.80")
    assert proposal.details["cash_after"] == "74.16"
    assert proposal.details["switches"] == [
        {"sold": ["ITOT"], "bought": "VTI", "asset_class": "us-equity", "gain": "-120.00"}
    ]
    assert proposal.reason == (
        "ITOT has been held for over 30 days in place of VTI, the security your target buys for "
        "US equity (for example as a tax-loss harvest replacement); switching back realises a "
        "loss of 120.00, within your 0.00 limit on the gain a switch back may realise."
    )
    assert proposal.rule_label.startswith("Switch back")
    # The next check keeps the identical proposal.
    assert drift.run_drift_check(harvested, today=TODAY).status == "unchanged"


def test_30_days_after_the_harvest_nothing_is_proposed(harvested) -> None:
    result = drift.run_drift_check(harvested, today=TODAY - dt.timedelta(days=1))
    assert result.status == "no_action"
    assert not Proposal.objects.filter(kind=Proposal.Kind.REBALANCE).exists()


def test_the_policy_limit_decides(harvested, world) -> None:
    _price(world.itot, "51", dt.date(2026, 11, 24))  # now a (short-term) gain of 120
    policy = RebalancePolicy.objects.create(
        portfolio=harvested, allow_short_term_gains=True, switch_back_max_gain=Decimal("119.99")
    )
    assert drift.run_drift_check(harvested, today=TODAY).status == "no_action"
    policy.switch_back_max_gain = Decimal("120")
    policy.save()
    result = drift.run_drift_check(harvested, today=TODAY)
    assert result.rule == "switch_back"
    assert "realises a gain of 120.00, within your 120.00 limit" in result.reason
    policy.switch_back_max_gain = None  # empty: never switch back
    policy.save()
    assert drift.run_drift_check(harvested, today=TODAY).status == "no_action"
    # The model's policy applies when the account has none of its own.
    policy.delete()
    RebalancePolicy.objects.create(model=world.model, allow_short_term_gains=True,
                                   switch_back_max_gain=Decimal("500"))  # fmt: skip
    assert drift.run_drift_check(harvested, today=TODAY).rule == "switch_back"


def test_a_short_term_gain_is_not_switched_unless_allowed(harvested, world) -> None:
    _price(world.itot, "51", dt.date(2026, 11, 24))
    policy = RebalancePolicy.objects.create(
        portfolio=harvested, switch_back_max_gain=Decimal("1000")
    )
    assert not policy.allow_short_term_gains
    assert drift.run_drift_check(harvested, today=TODAY).status == "no_action"
    RebalancePolicy.objects.filter(pk=policy.pk).update(allow_short_term_gains=True)
    assert drift.run_drift_check(harvested, today=TODAY).status == "proposed"


def test_dividends_reinvested_in_another_account_keep_the_replacement(
    harvested, user, world
) -> None:
    ira = Portfolio.objects.create(
        owner=user, name="IRA", tax_treatment=Portfolio.TaxTreatment.ROTH_IRA,
        reinvest_dividends=True,
    )  # fmt: skip
    TaxLot.objects.create(portfolio=ira, security=world.itot, quantity=Decimal("1"), original_quantity=Decimal("1"),
                          cost_basis=Decimal("40"), acquired_on=dt.date(2024, 1, 2), holding_start=dt.date(2024, 1, 2))  # fmt: skip
    # Selling ITOT at a loss while the IRA reinvests ITOT dividends would be a wash sale.
    assert drift.run_drift_check(harvested, today=TODAY).status == "no_action"
    Portfolio.objects.filter(pk=ira.pk).update(reinvest_dividends=False)
    assert drift.run_drift_check(harvested, today=TODAY).rule == "switch_back"


def test_a_rule_that_trades_wins_over_the_switch(harvested) -> None:
    ledger.record_cash(harvested, kind="deposit", amount=Decimal("5000"), trade_date=TODAY)
    result = drift.run_drift_check(harvested, today=TODAY)
    assert result.status == "proposed" and result.rule == "cash_flow"


def test_the_switch_back_adds_a_constant_number_of_queries(user, world) -> None:
    def queries(n: int) -> int:
        Proposal.objects.all().delete()
        with CaptureQueriesContext(connection) as ctx:
            result = drift.check_portfolios(ids, today=TODAY, dry_run=True)
        assert [r.rule for r in result.results] == ["switch_back"] * n
        return len(ctx.captured_queries)

    ids = [_harvest_lots(user, world, f"Account {i}") for i in range(3)]
    three = queries(3)
    ids = ids[:1]
    assert queries(1) == three


def _harvest_lots(user, world, name: str) -> int:
    """An account already holding ITOT bought on HARVEST_DAY instead of VTI (lots made directly)."""
    p = Portfolio.objects.create(owner=user, name=name, model=world.model)
    for security, qty, basis, day in (
        (world.itot, 120, 6000, HARVEST_DAY),
        (world.bonds, 80, 4000, dt.date(2022, 3, 1)),
    ):
        TaxLot.objects.create(portfolio=p, security=security, quantity=Decimal(qty), original_quantity=Decimal(qty),
                              cost_basis=Decimal(basis), acquired_on=day, holding_start=day)  # fmt: skip
    return p.pk


def test_the_proposal_page_and_the_methodology_explain_the_switch(
    client, harvested, other_user
) -> None:
    result = drift.run_drift_check(harvested, today=TODAY)
    client.force_login(harvested.owner)
    page = client.get(reverse("rebalancing:detail", args=[result.proposal_id]))
    assert page.status_code == 200
    assert "Switch back to the preferred security after the wash-sale window" in page.text
    assert "ITOT has been held for over 30 days in place of VTI" in page.text
    assert "Wash-sale check: ITOT was not bought in any of your accounts since Oct 26, 2026" in (
        page.text
    )
    methodology = client.get(reverse("methodology"))
    assert "Switching back" in methodology.text
    assert "a loss or no gain at all, and never a short-term gain" in methodology.text
    assert "We do not track ex-dividend dates" in methodology.text
    client.force_login(other_user)
    assert client.get(reverse("rebalancing:detail", args=[result.proposal_id])).status_code == 404


def test_the_admin_edits_both_settings(client, harvested) -> None:
    from tests.factories import UserFactory

    client.force_login(UserFactory(email="root@example.com", is_staff=True, is_superuser=True))
    listing = client.get(
        reverse("admin:portfolios_portfolio_changelist") + "?reinvest_dividends__exact=0"
    )
    assert listing.status_code == 200 and "Brokerage" in listing.text
    change = client.get(reverse("admin:portfolios_portfolio_change", args=[harvested.pk]))
    assert 'name="reinvest_dividends"' in change.text
    add = client.get(reverse("admin:rebalancing_rebalancepolicy_add"))
    assert 'name="switch_back_max_gain"' in add.text
