"""A small market for drift tests: two asset classes, a 60/40 model, prices, and portfolios
created in bulk (so worker tests can make hundreds quickly)."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from accounts.models import User
from portfolios.models import (
    AssetClass,
    ModelAllocation,
    ModelPortfolio,
    Portfolio,
    Price,
    Security,
    TaxLot,
)

PRICE_DATE = dt.date(2026, 11, 24)  # Tuesday
TODAY = dt.date(2026, 11, 25)
#: Tests that reach code reading the clock (commands, views, tasks) travel here first: the
#: evening of TODAY in New York, when PRICE_DATE's closes are one session old.
MOMENT = dt.datetime(2026, 11, 25, 18, 0, tzinfo=ZoneInfo("America/New_York"))


@dataclass
class World:
    equity: Security
    bonds: Security
    model: ModelPortfolio


def make_world(*, price_date: dt.date = PRICE_DATE) -> World:
    eq_class, _ = AssetClass.objects.get_or_create(code="us-equity", defaults={"name": "US equity"})
    bond_class, _ = AssetClass.objects.get_or_create(code="us-bonds", defaults={"name": "US bonds"})
    equity, _ = Security.objects.get_or_create(
        ticker="VTI", defaults={"name": "Total Stock", "asset_class": eq_class}
    )
    bonds, _ = Security.objects.get_or_create(
        ticker="BND", defaults={"name": "Total Bond", "asset_class": bond_class}
    )
    Price.objects.get_or_create(
        security=equity, date=price_date, defaults={"close": Decimal("100")}
    )
    Price.objects.get_or_create(security=bonds, date=price_date, defaults={"close": Decimal("50")})
    model, created = ModelPortfolio.objects.get_or_create(
        slug="balanced-60-40", defaults={"name": "Balanced 60/40", "risk_level": 5}
    )
    if created:
        ModelAllocation.objects.create(
            model=model, asset_class=eq_class, security=equity, weight=Decimal("0.6")
        )
        ModelAllocation.objects.create(
            model=model, asset_class=bond_class, security=bonds, weight=Decimal("0.4")
        )
    return World(equity, bonds, model)


def make_portfolios(
    world: World,
    n: int,
    *,
    equity_shares: int = 70,
    bond_shares: int = 60,
    cash: str = "0.00",
    owner: User | None = None,
) -> list[Portfolio]:
    """n portfolios on the 60/40 model holding `equity_shares` x 100 and `bond_shares` x 50.

    Defaults: 7000 / 3000, i.e. 10 points over target: the 5-point band fires.
    """
    if owner is None:
        owner = User.objects.create_user(
            email=f"bulk{User.objects.count()}@example.com", password="x"
        )
    start = Portfolio.objects.filter(owner=owner).count()
    portfolios = Portfolio.objects.bulk_create(
        [
            Portfolio(
                owner=owner, name=f"Account {start + i}", model=world.model, cash=Decimal(cash)
            )
            for i in range(n)
        ]
    )
    lots = []
    for p in portfolios:
        for security, shares, basis in (
            (world.equity, equity_shares, 80),
            (world.bonds, bond_shares, 52),
        ):
            if shares:
                lots.append(
                    TaxLot(
                        portfolio=p,
                        security=security,
                        quantity=Decimal(shares),
                        original_quantity=Decimal(shares),
                        cost_basis=Decimal(shares * basis),
                        acquired_on=dt.date(2022, 3, 1),
                        holding_start=dt.date(2022, 3, 1),
                    )
                )
    TaxLot.objects.bulk_create(lots)
    return portfolios
