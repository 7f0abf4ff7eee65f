"""The ledger applies wash-sale adjustments when a wash sale happens anyway (imports, trades
outside the product). Hand-worked numbers: 100 VTI bought 2026-01-05 at 50 (basis 5,000.00),
sold 2026-03-02 at 40 (proceeds 4,000.00): a 1,000.00 loss; the shares were held 56 days."""

import datetime as dt
from decimal import Decimal

import pytest

from portfolios import ledger
from portfolios.models import (
    IdenticalGroupMember,
    LotSale,
    Portfolio,
    SubstantiallyIdenticalGroup,
    TaxLot,
    WashSaleBlock,
    WashSaleMatch,
)
from rebalancing.selectors import harvest as selectors_harvest
from tests.factories import PortfolioFactory, SecurityFactory

pytestmark = pytest.mark.django_db

D = dt.date


def _account(owner, name: str, treatment: str = Portfolio.TaxTreatment.TAXABLE) -> Portfolio:
    p = PortfolioFactory(owner=owner, name=name, tax_treatment=treatment)
    ledger.record_cash(p, kind="deposit", amount=Decimal("100000"), trade_date=D(2025, 1, 2))
    return p


@pytest.fixture
def vti():
    return SecurityFactory(ticker="VTI")


@pytest.fixture
def taxable(user) -> Portfolio:
    return _account(user, "Brokerage")


def _loss_sale(account: Portfolio, vti) -> LotSale:
    ledger.record_buy(
        account,
        security=vti,
        quantity=Decimal("100"),
        price=Decimal("50"),
        trade_date=D(2026, 1, 5),
    )
    txn = ledger.record_sell(
        account,
        security=vti,
        quantity=Decimal("100"),
        price=Decimal("40"),
        trade_date=D(2026, 3, 2),
    )
    return LotSale.objects.get(transaction=txn)


def test_buy_after_a_loss_sale_disallows_the_loss_and_moves_it_to_the_new_lot(taxable, vti) -> None:
    sale = _loss_sale(taxable, vti)
    assert sale.gain == Decimal("-1000.00")
    buy = ledger.record_buy(
        taxable,
        security=vti,
        quantity=Decimal("100"),
        price=Decimal("42"),
        trade_date=D(2026, 3, 20),
    )
    sale.refresh_from_db()
    assert sale.wash_sale_disallowed == Decimal("1000.00")
    assert sale.gain == Decimal("0.00")  # -1,000 + 1,000 disallowed
    lot = TaxLot.objects.get(opened_by=buy)
    assert lot.cost_basis == Decimal("5200.00")  # 4,200 paid + 1,000 disallowed
    assert lot.wash_sale_adjustment == Decimal("1000.00")
    assert lot.acquired_on == D(2026, 3, 20)
    assert lot.holding_start == D(2026, 1, 23)  # 2026-03-20 - 56 days
    match = WashSaleMatch.objects.get()
    assert (match.quantity, match.disallowed, match.permanent, match.holding_days_added) == (
        Decimal("100"),
        Decimal("1000.00"),
        False,
        56,
    )


def test_partial_replacement_disallows_only_its_share_of_the_loss(taxable, vti) -> None:
    sale = _loss_sale(taxable, vti)
    buy = ledger.record_buy(
        taxable,
        security=vti,
        quantity=Decimal("30"),
        price=Decimal("42"),
        trade_date=D(2026, 3, 20),
    )
    sale.refresh_from_db()
    assert sale.wash_sale_disallowed == Decimal("300.00")  # 30/100 of 1,000
    assert sale.gain == Decimal("-700.00")
    assert TaxLot.objects.get(opened_by=buy).cost_basis == Decimal("1560.00")  # 1,260 + 300


def test_larger_replacement_lot_is_split_so_only_replacement_shares_carry_the_adjustment(
    taxable, vti
) -> None:
    _loss_sale(taxable, vti)
    buy = ledger.record_buy(
        taxable,
        security=vti,
        quantity=Decimal("250"),
        price=Decimal("42"),
        trade_date=D(2026, 3, 20),
    )
    lots = {lot.quantity: lot for lot in TaxLot.objects.filter(opened_by=buy)}
    assert set(lots) == {Decimal("100"), Decimal("150")}
    assert lots[Decimal("100")].cost_basis == Decimal("5200.00")  # 100 x 42 + 1,000
    assert lots[Decimal("100")].holding_start == D(2026, 1, 23)
    assert lots[Decimal("150")].cost_basis == Decimal("6300.00")  # 150 x 42, untouched
    assert lots[Decimal("150")].holding_start == D(2026, 3, 20)
    assert lots[Decimal("150")].wash_sale_adjustment == 0
    # Nothing was created or lost: 250 shares for 10,500 + 1,000.
    assert sum(lot.cost_basis for lot in lots.values()) == Decimal("11500.00")


def test_buy_before_the_sale_is_caught_when_the_loss_sale_is_recorded(taxable, vti) -> None:
    ledger.record_buy(
        taxable,
        security=vti,
        quantity=Decimal("100"),
        price=Decimal("50"),
        trade_date=D(2026, 1, 5),
    )
    later = ledger.record_buy(
        taxable,
        security=vti,
        quantity=Decimal("100"),
        price=Decimal("45"),
        trade_date=D(2026, 2, 10),
    )
    first = TaxLot.objects.get(portfolio=taxable, acquired_on=D(2026, 1, 5))
    txn = ledger.record_sell(
        taxable, security=vti, quantity=Decimal("100"), price=Decimal("40"), trade_date=D(2026, 3, 2),
        method="specific", picks=[ledger.LotPick(first.pk, Decimal("100"))],
    )  # fmt: skip
    sale = LotSale.objects.get(transaction=txn)
    assert sale.wash_sale_disallowed == Decimal("1000.00") and sale.gain == 0
    replacement = TaxLot.objects.get(opened_by=later)
    assert replacement.cost_basis == Decimal("5500.00")  # 4,500 + 1,000
    assert replacement.holding_start == D(2025, 12, 16)  # 2026-02-10 - 56 days


def test_replacement_in_an_ira_disallows_the_loss_permanently(user, taxable, vti) -> None:
    ira = _account(user, "IRA", Portfolio.TaxTreatment.TRADITIONAL_IRA)
    sale = _loss_sale(taxable, vti)
    buy = ledger.record_buy(
        ira, security=vti, quantity=Decimal("100"), price=Decimal("41"), trade_date=D(2026, 3, 10)
    )
    sale.refresh_from_db()
    assert sale.wash_sale_disallowed == Decimal("1000.00")
    ira_lot = TaxLot.objects.get(opened_by=buy)
    assert ira_lot.cost_basis == Decimal("4100.00")  # no basis adjustment inside an IRA
    assert ira_lot.holding_start == D(2026, 3, 10)
    assert WashSaleMatch.objects.get().permanent is True


def test_a_substantially_identical_security_washes_and_another_household_does_not(
    user, other_user, taxable, vti
) -> None:
    voo, ivv = SecurityFactory(ticker="VOO"), SecurityFactory(ticker="IVV")
    group = SubstantiallyIdenticalGroup.objects.create(name="S&P 500")
    IdenticalGroupMember.objects.bulk_create(
        [IdenticalGroupMember(group=group, security=s) for s in (voo, ivv)]
    )
    ledger.record_buy(
        taxable,
        security=voo,
        quantity=Decimal("10"),
        price=Decimal("500"),
        trade_date=D(2026, 1, 5),
    )
    txn = ledger.record_sell(
        taxable,
        security=voo,
        quantity=Decimal("10"),
        price=Decimal("450"),
        trade_date=D(2026, 3, 2),
    )
    stranger = _account(other_user, "Theirs")
    ledger.record_buy(
        stranger,
        security=voo,
        quantity=Decimal("10"),
        price=Decimal("455"),
        trade_date=D(2026, 3, 3),
    )
    assert LotSale.objects.get(transaction=txn).wash_sale_disallowed == 0
    ledger.record_buy(
        taxable, security=ivv, quantity=Decimal("4"), price=Decimal("455"), trade_date=D(2026, 3, 4)
    )
    # 4 of 10 shares replaced: 4/10 x 500 = 200 disallowed.
    assert LotSale.objects.get(transaction=txn).wash_sale_disallowed == Decimal("200.00")


@pytest.mark.parametrize(("day", "washed"), [(D(2026, 4, 1), True), (D(2026, 4, 2), False)])
def test_day_30_after_the_sale_counts_and_day_31_does_not(taxable, vti, day, washed) -> None:
    sale = _loss_sale(taxable, vti)
    ledger.record_buy(
        taxable, security=vti, quantity=Decimal("100"), price=Decimal("42"), trade_date=day
    )
    sale.refresh_from_db()
    assert sale.wash_sale_disallowed == (Decimal("1000.00") if washed else 0)


def test_a_loss_sale_blocks_purchases_across_the_household_for_31_days(user, taxable, vti) -> None:
    ivv = SecurityFactory(ticker="IVV2")
    group = SubstantiallyIdenticalGroup.objects.create(name="Total market")
    IdenticalGroupMember.objects.bulk_create(
        [IdenticalGroupMember(group=group, security=s) for s in (vti, ivv)]
    )
    _loss_sale(taxable, vti)
    block = WashSaleBlock.objects.get()
    assert (block.household_id, block.security_id, block.until) == (user.pk, vti.pk, D(2026, 4, 1))
    assert selectors_harvest.blocked_purchases([user.pk], D(2026, 3, 2)) == {
        (user.pk, vti.pk),
        (user.pk, ivv.pk),
    }
    assert selectors_harvest.blocked_purchases([user.pk], D(2026, 4, 1)) == {
        (user.pk, vti.pk),
        (user.pk, ivv.pk),
    }
    assert selectors_harvest.blocked_purchases([user.pk], D(2026, 4, 2)) == set()


def test_a_gain_sale_blocks_nothing_and_recording_twice_changes_nothing(taxable, vti) -> None:
    ledger.record_buy(
        taxable, security=vti, quantity=Decimal("10"), price=Decimal("40"), trade_date=D(2026, 1, 5)
    )
    ledger.record_sell(
        taxable, security=vti, quantity=Decimal("10"), price=Decimal("50"), trade_date=D(2026, 3, 2)
    )
    assert not WashSaleBlock.objects.exists()
    _loss_sale(taxable, vti)
    for _ in range(2):
        ledger.record_buy(
            taxable, security=vti, quantity=Decimal("100"), price=Decimal("42"), trade_date=D(2026, 3, 20),
            external_id="import:row-7",
        )  # fmt: skip
    assert WashSaleMatch.objects.count() == 1
