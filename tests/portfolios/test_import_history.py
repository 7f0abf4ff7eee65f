"""The set-based history writer gives exactly what the row-by-row ledger gives.

Two households start from the same state (a second taxable account with a recent loss sale, an
IRA buying a substantially identical fund); the same random history, with losses sold and bought
back inside 30 days, is recorded into one through `portfolios.ledger` row by row and imported
into the other. Every transaction, lot, lot sale, wash-sale match and block must agree.
"""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from dateutil.relativedelta import relativedelta
from django.db.models import Sum

from accounts.models import InvestorProfile
from portfolios import ledger
from portfolios.imports import services as imports
from portfolios.models import (
    IdenticalGroupMember,
    LotSale,
    Portfolio,
    Security,
    SubstantiallyIdenticalGroup,
    TaxLot,
    Transaction,
    WashSaleBlock,
    WashSaleMatch,
)
from tests.factories import PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = ["date", "kind", "ticker", "quantity", "price", "amount", "fees", "external_id"]


@pytest.fixture
def identical(securities: dict[str, Security]) -> None:
    group = SubstantiallyIdenticalGroup.objects.create(name="US total market")
    for ticker in ("VTI", "ITOT"):
        IdenticalGroupMember.objects.create(group=group, security=securities[ticker])


def history(start: dt.date, end: dt.date, seed: int) -> list[list[object]]:
    """Deposits, buys, sells (often at a loss, then bought back), dividends, fees."""
    rng = np.random.default_rng(seed)
    price = {"VTI": 200.0, "ITOT": 100.0, "BND": 70.0}
    held = {"VTI": Decimal(0), "ITOT": Decimal(0), "BND": Decimal(0)}
    rows: list[list[object]] = [[start, "deposit", "", "", "", "250000", "", "d0"]]
    day, n = start + dt.timedelta(days=1), 0
    while day <= end:
        for ticker in price:
            price[ticker] *= float(np.exp(rng.normal(0, 0.03)))
        for _ in range(int(rng.integers(0, 3))):
            n += 1
            ticker = str(rng.choice(list(price)))
            p = Decimal(f"{price[ticker]:.2f}")
            if held[ticker] > 0 and rng.random() < 0.45:
                q = min(held[ticker], Decimal(int(rng.integers(1, 12))))
                held[ticker] -= q
                rows.append([day, "sell", ticker, q, p, "", "0.50", f"s{n}"])
            elif rng.random() < 0.9:
                q = Decimal(int(rng.integers(1, 10)))
                held[ticker] += q
                rows.append([day, "buy", ticker, q, p, "", "", f"b{n}"])
            else:
                rows.append(
                    [day, "dividend", ticker, "", "", f"{rng.uniform(1, 50):.2f}", "", f"v{n}"]
                )
        day += dt.timedelta(days=int(rng.integers(1, 6)))
    rows.append([end, "fee", "", "", "", "12.50", "", "f-end"])
    return rows


def household(owner: object, securities: dict[str, Security], start: dt.date) -> Portfolio:
    """A taxable account that sold ITOT at a loss just before the history starts, and an IRA
    that buys VTI inside the window of the history's first sales."""
    other = PortfolioFactory(owner=owner, name="Joint")
    ledger.record_cash(
        other, kind="deposit", amount=Decimal("5000"), trade_date=start - relativedelta(months=3)
    )
    ledger.record_buy(
        other,
        security=securities["ITOT"],
        quantity=Decimal("20"),
        price=Decimal("120"),
        trade_date=start - relativedelta(months=2),
    )
    ledger.record_sell(
        other,
        security=securities["ITOT"],
        quantity=Decimal("12"),
        price=Decimal("95"),
        trade_date=start - dt.timedelta(days=10),
    )
    ira = PortfolioFactory(owner=owner, name="IRA", tax_treatment=Portfolio.TaxTreatment.ROTH_IRA)
    ledger.record_cash(ira, kind="deposit", amount=Decimal("3000"), trade_date=start)
    ledger.record_buy(
        ira,
        security=securities["VTI"],
        quantity=Decimal("4"),
        price=Decimal("190"),
        trade_date=start + dt.timedelta(days=20),
    )
    return PortfolioFactory(owner=owner, name="Taxable")


def record_row_by_row(portfolio: Portfolio, rows: list[list[object]], securities: dict) -> None:
    """The reference: each row through the ledger, in date order."""
    for day, kind, ticker, q, p, amount, fees, ref in rows:
        common = {"trade_date": day, "source": Transaction.Source.IMPORT, "external_id": ref}
        if kind in ("buy", "sell"):
            record = ledger.record_buy if kind == "buy" else ledger.record_sell
            record(
                portfolio,
                security=securities[ticker],
                quantity=Decimal(q),
                price=Decimal(p),
                fees=Decimal(fees or "0"),
                **common,
            )
        else:
            ledger.record_cash(
                portfolio,
                kind=kind,
                amount=Decimal(amount),
                security=securities.get(ticker),
                **common,
            )


def state(owner: object) -> dict[str, list[tuple[object, ...]]]:
    """The household's ledger, without database ids (which differ between the households)."""
    txn = Transaction.objects.filter(portfolio__owner=owner)
    return {
        "cash": sorted(Portfolio.objects.filter(owner=owner).values_list("name", "cash")),
        "transactions": sorted(
            txn.values_list(
                "portfolio__name",
                "external_id",
                "kind",
                "trade_date",
                "security__ticker",
                "quantity",
                "price",
                "fees",
                "amount",
                "lot_relief_method",
            ),
            key=str,
        ),
        "lots": sorted(
            TaxLot.objects.filter(portfolio__owner=owner).values_list(
                "portfolio__name",
                "security__ticker",
                "quantity",
                "original_quantity",
                "cost_basis",
                "acquired_on",
                "holding_start",
                "wash_sale_adjustment",
                "opened_by__external_id",
                "closed_on",
            ),
            key=str,
        ),
        "sales": sorted(
            LotSale.objects.filter(transaction__portfolio__owner=owner).values_list(
                "transaction__external_id",
                "lot__acquired_on",
                "lot__opened_by__external_id",
                "quantity",
                "proceeds",
                "cost_basis",
                "gain",
                "is_long_term",
                "wash_sale_disallowed",
            ),
            key=str,
        ),
        "matches": sorted(
            WashSaleMatch.objects.filter(lot_sale__transaction__portfolio__owner=owner).values_list(
                "lot_sale__transaction__external_id",
                "replacement_lot__opened_by__external_id",
                "replacement_lot__portfolio__name",
                "quantity",
                "disallowed",
                "permanent",
                "holding_days_added",
            ),
            key=str,
        ),
        "blocks": sorted(
            WashSaleBlock.objects.filter(household=owner).values_list(
                "source_transaction__external_id", "security__ticker", "until", "reason"
            ),
            key=str,
        ),
    }


@pytest.mark.parametrize("method", [None, "fifo", "hifo"])
def test_the_set_based_import_equals_the_row_by_row_ledger(
    securities: dict[str, Security], identical: None, today: dt.date, method: str | None
) -> None:
    """Sells relieve lots by the investor's chosen method (tax-minimising without a profile)."""
    start = today - relativedelta(years=2)
    rows = history(start, today - dt.timedelta(days=5), seed=7)
    reference, imported = UserFactory(), UserFactory()
    if method:
        for user in (reference, imported):
            InvestorProfile.objects.update_or_create(
                user=user, defaults={"lot_relief_method": method}
            )
    record_row_by_row(household(reference, securities, start), rows, securities)
    taxable = household(imported, securities, start)
    data = imports.csv_bytes(HEADER, [[str(c) for c in row] for row in rows])
    imports.import_file(data, kind="transactions", portfolio=taxable, today=today)

    expected, got = state(reference), state(imported)
    assert len(expected["matches"]) > 10 and len(expected["sales"]) > 100  # the case is real
    assert any(m[5] for m in expected["matches"])  # a permanent one, from the IRA
    assert {t[-1] for t in expected["transactions"] if t[2] == "sell"} == {method or "tax_min"}
    for name in expected:
        assert got[name] == expected[name], name
    taxable.refresh_from_db()
    assert taxable.transactions.aggregate(s=Sum("amount"))["s"] == taxable.cash


def test_a_sell_of_a_whole_share_fund_in_fractions_is_refused_and_nothing_written(
    account: Portfolio, securities: dict[str, Security], today: dt.date
) -> None:
    Security.objects.filter(pk=securities["VTI"].pk).update(allows_fractional=False)
    day = today - dt.timedelta(days=30)
    rows = [
        [day, "deposit", "", "", "", "1000", "", "d"],
        [day, "buy", "VTI", "1.5", "10", "", "", "b"],
    ]
    data = imports.csv_bytes(HEADER, [[str(c) for c in row] for row in rows])
    with pytest.raises(imports.ImportRejected, match="VTI trades in whole shares only"):
        imports.import_file(data, kind="transactions", portfolio=account, today=today)
    assert not Transaction.objects.filter(portfolio=account).exists()
    account.refresh_from_db()
    assert account.cash == Decimal("0.00")
