"""A taxable account exactly at its 60/40 target, for the money-movement tests.

VTI at 100 (60 shares: 30 bought at 80 three years ago = long-term gain of 20 a share, 30
bought at 120 sixty days ago = short-term loss of 20 a share), BND at 50 (80 shares bought at
50, no gain), no cash: 6,000 + 4,000 = 10,000. Prices on the last ten sessions up to the newest
session on or before today, so proposals built on them are fresh.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from advisor.core import clock
from portfolios import ledger, market_calendar
from portfolios.models import Portfolio, Price, Security, TaxLot
from tests.factories import (
    AssetClassFactory,
    ModelAllocationFactory,
    ModelPortfolioFactory,
    PortfolioFactory,
    SecurityFactory,
)


@dataclass
class World:
    portfolio: Portfolio
    stocks: Security
    bonds: Security
    gain_lot: TaxLot
    loss_lot: TaxLot
    bond_lot: TaxLot


def balanced_account(owner, *, name: str = "Brokerage") -> World:
    today = clock.today()
    us = AssetClassFactory(code="us-stocks", name="US stocks")
    bd = AssetClassFactory(code="bonds", name="Bonds")
    stocks = SecurityFactory(ticker="VTI", name="Vanguard Total Stock Market ETF", asset_class=us)
    bonds = SecurityFactory(ticker="BND", name="Vanguard Total Bond Market ETF", asset_class=bd)
    model = ModelPortfolioFactory(name="Balanced 60/40", slug="balanced-60-40")
    if not model.allocations.exists():
        ModelAllocationFactory(model=model, security=stocks, weight=Decimal("0.6"))
        ModelAllocationFactory(model=model, security=bonds, weight=Decimal("0.4"))
    day = market_calendar.latest_session(today)
    for _ in range(10):
        Price.objects.get_or_create(security=stocks, date=day, defaults={"close": Decimal("100")})
        Price.objects.get_or_create(security=bonds, date=day, defaults={"close": Decimal("50")})
        day = market_calendar.previous_session(day)
    portfolio = PortfolioFactory(owner=owner, name=name, model=model)
    lots = []
    for security, quantity, basis, acquired in (
        (stocks, "30", "2400", today - relativedelta(years=3)),
        (stocks, "30", "3600", today - dt.timedelta(days=60)),
        (bonds, "80", "4000", today - relativedelta(years=2)),
    ):
        txn = ledger.record_transfer_in(
            portfolio,
            security=security,
            quantity=Decimal(quantity),
            cost_basis=Decimal(basis),
            acquired_on=acquired,
        )
        lots.append(TaxLot.objects.get(opened_by=txn))
    portfolio.refresh_from_db()
    return World(portfolio, stocks, bonds, *lots)
