"""Database constraints: what must never happen is refused by PostgreSQL itself."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from portfolios.models import (
    ImportBatch,
    ModelAllocation,
    Portfolio,
    Price,
    Security,
    TaxLot,
    Transaction,
)
from tests.factories import (
    AssetClassFactory,
    ModelPortfolioFactory,
    PortfolioFactory,
    PriceFactory,
    SecurityFactory,
    TaxLotFactory,
)

pytestmark = pytest.mark.django_db


def refused(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_one_price_per_security_and_day_and_positive_closes() -> None:
    price = PriceFactory()
    refused(
        lambda: Price.objects.create(security=price.security, date=price.date, close=Decimal("1"))
    )
    refused(
        lambda: Price.objects.create(
            security=price.security, date=dt.date(2026, 1, 2), close=Decimal("0")
        )
    )
    refused(lambda: Price.objects.create(security=price.security, date=dt.date(2026, 1, 3), close=Decimal("1"),
                                         adjusted_close=Decimal("-1")))  # fmt: skip
    assert Price.objects.count() == 1


def test_tickers_are_upper_case_and_unique() -> None:
    cls = AssetClassFactory()
    Security.objects.create(ticker="VTI", name="x", asset_class=cls)
    refused(lambda: Security.objects.create(ticker="vti2", name="x", asset_class=cls))
    refused(lambda: Security.objects.create(ticker="VTI", name="y", asset_class=cls))
    refused(
        lambda: Security.objects.create(
            ticker="ABC", name="y", asset_class=cls, expense_ratio=Decimal("1.5")
        )
    )


def test_lot_quantities_basis_and_dates() -> None:
    lot = TaxLotFactory()
    for change in (
        {"quantity": Decimal("-1")},
        {"quantity": Decimal("11")},  # more than the original 10
        {"cost_basis": Decimal("-0.01")},
        {"holding_start": lot.acquired_on + dt.timedelta(days=1)},
        {"quantity": Decimal("0")},  # empty but not closed
        {"closed_on": dt.date(2025, 1, 1)},  # closed but not empty
    ):
        refused(lambda change=change: TaxLot.objects.filter(pk=lot.pk).update(**change))
    TaxLot.objects.filter(pk=lot.pk).update(
        quantity=0, closed_on=dt.date(2025, 1, 1)
    )  # a properly closed lot


def test_portfolio_cash_never_negative_and_names_unique_per_owner() -> None:
    portfolio = PortfolioFactory()
    refused(lambda: Portfolio.objects.filter(pk=portfolio.pk).update(cash=Decimal("-0.01")))
    refused(lambda: PortfolioFactory(owner=portfolio.owner, name=portfolio.name))
    PortfolioFactory(name=portfolio.name)  # another owner may use the same name


def test_transactions_need_what_their_kind_needs_and_external_ids_are_unique() -> None:
    portfolio = PortfolioFactory()
    security = SecurityFactory()
    base = {"portfolio": portfolio, "trade_date": dt.date(2026, 1, 5), "amount": Decimal("-100")}
    refused(lambda: Transaction.objects.create(kind="buy", **base))  # no security/quantity/price
    refused(
        lambda: Transaction.objects.create(
            kind="buy", security=security, quantity=Decimal("-1"), price=Decimal("1"), **base
        )
    )
    refused(lambda: Transaction.objects.create(kind="fee", fees=Decimal("-1"), **base))
    Transaction.objects.create(kind="fee", external_id="x1", **base)
    refused(lambda: Transaction.objects.create(kind="fee", external_id="x1", **base))


def test_model_allocation_weights_and_one_row_per_class() -> None:
    model = ModelPortfolioFactory()
    security = SecurityFactory()
    ModelAllocation.objects.create(
        model=model, asset_class=security.asset_class, security=security, weight=Decimal("0.6")
    )
    refused(
        lambda: ModelAllocation.objects.create(
            model=model, asset_class=security.asset_class, security=security, weight=Decimal("0.4")
        )
    )
    other = SecurityFactory()
    refused(
        lambda: ModelAllocation.objects.create(
            model=model, asset_class=other.asset_class, security=other, weight=Decimal("1.2")
        )
    )
    refused(lambda: ModelPortfolioFactory(risk_level=11))


def test_an_import_batch_cannot_be_marked_imported_with_errors() -> None:
    portfolio = PortfolioFactory()
    refused(lambda: ImportBatch.objects.create(owner=portfolio.owner, portfolio=portfolio, kind="lots", layout="canonical",
                                               sha256="0" * 64, status="imported", error_count=2))  # fmt: skip
    refused(
        lambda: ImportBatch.objects.create(
            owner=portfolio.owner, kind="lots", layout="canonical", sha256="0" * 64
        )
    )
