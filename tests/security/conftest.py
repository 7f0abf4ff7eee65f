import datetime as dt
from decimal import Decimal

import pytest

from portfolios.models import Portfolio, Price, Security
from tests.factories import AssetClassFactory, PortfolioFactory, SecurityFactory


@pytest.fixture
def securities(db: None) -> dict[str, Security]:
    stocks = AssetClassFactory(code="us-stocks", name="US stocks")
    bonds = AssetClassFactory(code="us-bonds", name="US bonds")
    out = {
        "VTI": SecurityFactory(ticker="VTI", asset_class=stocks),
        "BND": SecurityFactory(ticker="BND", asset_class=bonds),
    }
    for ticker, close in (("VTI", "250.00"), ("BND", "72.50")):
        Price.objects.create(security=out[ticker], date=dt.date(2026, 11, 20), close=Decimal(close))
    return out


@pytest.fixture
def account(user: object, securities: dict[str, Security]) -> Portfolio:
    return PortfolioFactory(owner=user, name="Taxable")
