"""Test data for approval/execution/pages: a drifted household and a real proposal, built
through the ledger and the shared proposal writer (not by hand-set numbers)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from advisor.core import clock
from portfolios import ledger, market_calendar
from portfolios.models import Portfolio, Price, Security
from rebalancing.models import Proposal
from rebalancing.services import proposals
from tests.factories import (
    AssetClassFactory,
    ModelAllocationFactory,
    ModelPortfolioFactory,
    PortfolioFactory,
    SecurityFactory,
)


@dataclass
class Household:
    portfolio: Portfolio
    stocks: Security
    bonds: Security
    proposal: Proposal


def last_weekday(today: dt.date | None = None) -> dt.date:
    """The newest trading session on or before `today` (the suite day by default)."""
    return market_calendar.latest_session(today or clock.today())


def drifted_household(owner, *, name: str = "Brokerage", cash: str = "500.00") -> Household:
    """A taxable account, target 60/40, holding 80/20 (US stocks 20 points over target).

    VTI 80 shares at 100 (two lots: 50 bought at 70 long-term, 30 bought at 110 short-term),
    BND 40 shares at 50 -> 8,000 + 2,000 + 500 cash. The proposal sells 20 VTI from the
    110 lot (a loss) and buys 48 BND.
    """
    us = AssetClassFactory(code="us-stocks", name="US stocks")
    bd = AssetClassFactory(code="bonds", name="Bonds")
    stocks = SecurityFactory(ticker="VTI", name="Vanguard Total Stock Market ETF", asset_class=us)
    bonds = SecurityFactory(ticker="BND", name="Vanguard Total Bond Market ETF", asset_class=bd)
    model = ModelPortfolioFactory(name="Balanced 60/40", slug="balanced-60-40")
    if not model.allocations.exists():
        ModelAllocationFactory(model=model, security=stocks, weight=Decimal("0.6"))
        ModelAllocationFactory(model=model, security=bonds, weight=Decimal("0.4"))
    day = last_weekday()
    for back in range(30, -1, -1):
        date = day - dt.timedelta(days=back)
        if market_calendar.is_session(date):
            drift = Decimal(back) / Decimal(10)
            Price.objects.get_or_create(
                security=stocks, date=date, defaults={"close": Decimal("100") - drift}
            )
            Price.objects.get_or_create(
                security=bonds, date=date, defaults={"close": Decimal("50") + drift / 10}
            )
    portfolio = PortfolioFactory(owner=owner, name=name, model=model)
    ledger.record_cash(portfolio, kind="deposit", amount=Decimal(cash), trade_date=day)
    old = ledger.record_transfer_in(
        portfolio,
        security=stocks,
        quantity=Decimal("50"),
        cost_basis=Decimal("3500"),
        acquired_on=dt.date(2023, 3, 1),
    )
    new = ledger.record_transfer_in(
        portfolio,
        security=stocks,
        quantity=Decimal("30"),
        cost_basis=Decimal("3300"),
        acquired_on=day - dt.timedelta(days=60),
    )
    ledger.record_transfer_in(
        portfolio,
        security=bonds,
        quantity=Decimal("40"),
        cost_basis=Decimal("2100"),
        acquired_on=dt.date(2024, 6, 3),
    )
    loss_lot = new.opened_lots.get()
    assert old.opened_lots.exists()
    proposal = make_proposal(portfolio, stocks, bonds, loss_lot.pk, day)
    return Household(portfolio, stocks, bonds, proposal)


def make_proposal(
    portfolio: Portfolio, stocks: Security, bonds: Security, lot_id: int, day: dt.date
) -> Proposal:
    fingerprint = proposals.holdings_fingerprint([portfolio.pk])[portfolio.pk]
    draft = proposals.ProposalDraft(
        portfolio_id=portfolio.pk,
        rule="threshold",
        reason="US stocks are 20.0 points above target (80.0% vs 60.0%), beyond your 5-point band.",
        prices_as_of=day,
        holdings_fingerprint=fingerprint,
        trades=[
            proposals.TradeDraft(
                security_id=stocks.pk,
                side="sell",
                quantity=Decimal("20"),
                price=Decimal("100"),
                lots=[{"lot": lot_id, "quantity": "20"}],
                est_short_term_gain=Decimal("-200"),
                sequence=0,
            ),
            proposals.TradeDraft(
                security_id=bonds.pk,
                side="buy",
                quantity=Decimal("48"),
                price=Decimal("50"),
                sequence=1,
                est_cost=Decimal("1.20"),
            ),
        ],
        before_weights={"us-stocks": 0.7619, "bonds": 0.1905},
        after_weights={"us-stocks": 0.5714, "bonds": 0.4191},
        target_weights={"us-stocks": 0.6, "bonds": 0.4},
        drift={"us-stocks": 0.1619, "bonds": -0.2095},
        total_value=Decimal("10500"),
        est_short_term_gain=Decimal("-200"),
        est_tax=Decimal("-48"),
        est_cost=Decimal("2.20"),
    )
    created = proposals.write_proposals([draft], kind="rebalance").created[0]
    return Proposal.objects.get(pk=created.pk)


def expected_after_execution(bps: float = 5.0) -> dict[str, Decimal]:
    """Hand-computed: sell 20 VTI at 100 x (1 - 0.0005) = 99.95 -> +1,999.00;
    buy 48 BND at 50 x 1.0005 = 50.025 -> -2,401.20; cash 500 + 1,999.00 - 2,401.20 = 97.80."""
    assert bps == 5.0
    return {"cash": Decimal("97.80"), "vti": Decimal("60"), "bnd": Decimal("88")}
