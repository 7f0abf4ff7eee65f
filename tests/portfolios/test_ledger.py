import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from portfolios import ledger
from portfolios.models import LotSale, Portfolio, TaxLot, Transaction
from tests.factories import PortfolioFactory, SecurityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(user) -> Portfolio:
    portfolio = PortfolioFactory(owner=user)
    ledger.record_cash(
        portfolio, kind="deposit", amount=Decimal("10000"), trade_date=dt.date(2024, 1, 2)
    )
    return portfolio


def _cash_from_ledger(portfolio: Portfolio) -> Decimal:
    return Transaction.objects.filter(portfolio=portfolio).aggregate(total=Sum("amount"))["total"]


def test_buy_opens_a_lot_and_takes_cash_with_fees(account: Portfolio) -> None:
    vti = SecurityFactory(ticker="VTI")
    ledger.record_buy(
        account,
        security=vti,
        quantity=Decimal("10"),
        price=Decimal("200.125"),
        fees=Decimal("1.00"),
        trade_date=dt.date(2024, 2, 1),
    )
    lot = TaxLot.objects.get(portfolio=account)
    assert lot.cost_basis == Decimal("2002.25")  # 10 x 200.125 = 2001.25, + 1.00 fee
    account.refresh_from_db()
    assert account.cash == Decimal("7997.75") == _cash_from_ledger(account)


def test_sell_by_tax_min_relieves_the_loss_lot_first_and_records_gains(account: Portfolio) -> None:
    vti = SecurityFactory(ticker="VTI")
    ledger.record_buy(
        account,
        security=vti,
        quantity=Decimal("10"),
        price=Decimal("100"),
        trade_date=dt.date(2024, 2, 1),
    )
    ledger.record_buy(
        account,
        security=vti,
        quantity=Decimal("10"),
        price=Decimal("150"),
        trade_date=dt.date(2025, 9, 1),
    )
    txn = ledger.record_sell(
        account,
        security=vti,
        quantity=Decimal("12"),
        price=Decimal("130"),
        trade_date=dt.date(2025, 11, 3),
        method="tax_min",
    )
    sales = {
        s.lot.acquired_on: s for s in LotSale.objects.filter(transaction=txn).select_related("lot")
    }
    # The 150 lot (a 20/share short-term loss) goes first, then 2 shares of the 100 lot.
    assert sales[dt.date(2025, 9, 1)].quantity == 10
    assert sales[dt.date(2025, 9, 1)].gain == Decimal("-200.00")
    assert sales[dt.date(2025, 9, 1)].is_long_term is False
    assert sales[dt.date(2024, 2, 1)].quantity == 2
    assert sales[dt.date(2024, 2, 1)].gain == Decimal("60.00")
    assert sales[dt.date(2024, 2, 1)].is_long_term is True
    account.refresh_from_db()
    assert account.cash == Decimal("10000") - 1000 - 1500 + 12 * 130 == _cash_from_ledger(account)
    closed = TaxLot.objects.get(acquired_on=dt.date(2025, 9, 1))
    assert closed.quantity == 0 and closed.closed_on == dt.date(2025, 11, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantity": Decimal("-1")}, "must be positive"),
        ({"quantity": Decimal("0")}, "must be positive"),
        ({"price": Decimal("0")}, "price must be positive"),
        ({"trade_date": dt.date(2099, 1, 1)}, "in the future"),
        ({"quantity": Decimal("1000")}, "Not enough cash"),
    ],
)
def test_a_refused_buy_changes_nothing(account: Portfolio, kwargs: dict, message: str) -> None:
    vti = SecurityFactory(ticker="VTI")
    args = {
        "security": vti,
        "quantity": Decimal("1"),
        "price": Decimal("100"),
        "trade_date": dt.date(2024, 3, 1),
    } | kwargs
    before = (Transaction.objects.count(), TaxLot.objects.count())
    with pytest.raises(ledger.LedgerError, match=message):
        ledger.record_buy(account, **args)
    assert (Transaction.objects.count(), TaxLot.objects.count()) == before
    account.refresh_from_db()
    assert account.cash == Decimal("10000.00")


def test_selling_more_than_held_is_refused(account: Portfolio) -> None:
    vti = SecurityFactory(ticker="VTI")
    ledger.record_buy(
        account,
        security=vti,
        quantity=Decimal("2"),
        price=Decimal("100"),
        trade_date=dt.date(2024, 2, 1),
    )
    with pytest.raises(ledger.LedgerError, match="Cannot sell 3"):
        ledger.record_sell(
            account,
            security=vti,
            quantity=Decimal("3"),
            price=Decimal("100"),
            trade_date=dt.date(2024, 3, 1),
        )
    assert TaxLot.objects.get().quantity == 2


def test_the_same_external_id_is_recorded_once(account: Portfolio) -> None:
    vti = SecurityFactory(ticker="VTI")
    for _ in range(2):
        ledger.record_buy(
            account,
            security=vti,
            quantity=Decimal("1"),
            price=Decimal("100"),
            trade_date=dt.date(2024, 2, 1),
            external_id="fill-1",
        )
    assert TaxLot.objects.count() == 1
    account.refresh_from_db()
    assert account.cash == Decimal("9900.00")


def test_specific_identification_sells_the_named_lot(account: Portfolio) -> None:
    vti = SecurityFactory(ticker="VTI")
    ledger.record_buy(
        account,
        security=vti,
        quantity=Decimal("5"),
        price=Decimal("100"),
        trade_date=dt.date(2024, 2, 1),
    )
    ledger.record_buy(
        account,
        security=vti,
        quantity=Decimal("5"),
        price=Decimal("110"),
        trade_date=dt.date(2024, 3, 1),
    )
    second = TaxLot.objects.get(acquired_on=dt.date(2024, 3, 1))
    ledger.record_sell(
        account,
        security=vti,
        quantity=Decimal("2"),
        price=Decimal("120"),
        trade_date=dt.date(2024, 4, 1),
        method="specific",
        picks=[ledger.LotPick(second.pk, Decimal("2"))],
    )
    second.refresh_from_db()
    assert second.quantity == 3 and second.cost_basis == Decimal("330.00")


def test_a_sell_with_negative_fees_is_refused_with_a_clear_message(account: Portfolio) -> None:
    vti = SecurityFactory(ticker="VTI")
    ledger.record_buy(
        account,
        security=vti,
        quantity=Decimal("2"),
        price=Decimal("100"),
        trade_date=dt.date(2024, 2, 1),
    )
    before = Transaction.objects.count()
    with pytest.raises(ledger.LedgerError, match="Fees cannot be negative"):
        ledger.record_sell(
            account,
            security=vti,
            quantity=Decimal("1"),
            price=Decimal("100"),
            fees=Decimal("-5"),
            trade_date=dt.date(2024, 3, 1),
        )
    assert Transaction.objects.count() == before
    assert TaxLot.objects.get().quantity == 2
