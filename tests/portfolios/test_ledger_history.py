"""The pure value history reads the ledger the way the ledger services write it: transactions
recorded through portfolios.ledger (and the lot import), loaded as arrays, give back the
portfolio's cash and its open lots."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from portfolios import ledger
from portfolios.analytics import history
from portfolios.analytics import performance as perf
from portfolios.models import Portfolio, TaxLot, Transaction
from tests.factories import PortfolioFactory, SecurityFactory

pytestmark = pytest.mark.django_db


def test_the_pure_kinds_are_the_transaction_kinds() -> None:
    assert set(history.KINDS) == set(Transaction.Kind.values)
    signs = {Transaction.Kind(k): s for k, s in ledger.CASH_SIGN.items()}
    # every kind record_cash books as money in or out of the investor's pocket is external
    external = {history.KINDS[k] for k in history.EXTERNAL}
    assert external == {k.value for k in signs if k not in ("dividend", "interest", "fee")}


def _arrays(portfolios: list[Portfolio], securities: list) -> history.Ledger:
    index = {p.pk: i for i, p in enumerate(portfolios)}
    column = {s.pk: j for j, s in enumerate(securities)}
    rows = list(
        Transaction.objects.filter(portfolio__in=portfolios)
        .order_by("trade_date", "id")
        .values_list(
            "portfolio_id", "trade_date", "kind", "security_id", "quantity", "amount", "fees"
        )
    )
    return history.Ledger.from_columns(
        account=[index[r[0]] for r in rows],
        date=np.array([r[1] for r in rows], dtype="datetime64[D]"),
        kind=[r[2] for r in rows],
        security=[column[r[3]] if r[3] else -1 for r in rows],
        quantity=[float(r[4]) if r[4] is not None else None for r in rows],
        amount=[float(r[5]) for r in rows],
        fees=[float(r[6]) for r in rows],
        n_accounts=len(portfolios),
    )


def test_cash_and_positions_agree_with_the_ledger_services(user: object) -> None:
    vti, bnd = SecurityFactory(ticker="VTI"), SecurityFactory(ticker="BND")
    taxable = PortfolioFactory(owner=user, name="Taxable")
    ira = PortfolioFactory(owner=user, name="IRA", tax_treatment=Portfolio.TaxTreatment.ROTH_IRA)
    d = dt.date(2024, 3, 1)
    ledger.record_cash(taxable, kind="deposit", amount=Decimal("10000"), trade_date=d)
    ledger.record_buy(
        taxable,
        security=vti,
        quantity=Decimal("20"),
        price=Decimal("200"),
        fees=Decimal("1.50"),
        trade_date=d,
    )
    ledger.record_buy(
        taxable,
        security=bnd,
        quantity=Decimal("30"),
        price=Decimal("70"),
        trade_date=d + dt.timedelta(days=3),
    )
    ledger.record_sell(
        taxable,
        security=vti,
        quantity=Decimal("5"),
        price=Decimal("210"),
        fees=Decimal("1.00"),
        trade_date=d + dt.timedelta(days=10),
    )
    ledger.record_cash(
        taxable,
        kind="dividend",
        amount=Decimal("12.34"),
        security=bnd,
        trade_date=d + dt.timedelta(days=12),
    )
    ledger.record_cash(
        taxable, kind="fee", amount=Decimal("5"), trade_date=d + dt.timedelta(days=12)
    )
    ledger.record_cash(
        taxable, kind="withdrawal", amount=Decimal("500"), trade_date=d + dt.timedelta(days=14)
    )
    ledger.record_transfer_in(
        ira,
        security=vti,
        quantity=Decimal("7.5"),
        cost_basis=Decimal("1200"),
        acquired_on=d + dt.timedelta(days=2),
    )

    dates = np.arange(np.datetime64(d, "D"), np.datetime64(d, "D") + 20)
    closes = np.column_stack([np.linspace(200, 220, 20), np.linspace(70, 69, 20)])
    arrays = _arrays([taxable, ira], [vti, bnd])
    h = history.value_history(arrays, dates, closes)

    for i, portfolio in enumerate((taxable, ira)):
        portfolio.refresh_from_db()
        assert h.cash[-1, i] == pytest.approx(float(portfolio.cash), abs=1e-9)
        held = {
            j: float(
                sum(
                    lot.quantity
                    for lot in TaxLot.objects.open().filter(portfolio=portfolio, security=s)
                )
            )
            for j, s in enumerate((vti, bnd))
        }
        expected = float(portfolio.cash) + sum(q * closes[-1, j] for j, q in held.items())
        assert h.value[-1, i] == pytest.approx(expected, rel=1e-12)
    # flows: the deposit and withdrawal (taxable), the imported position at the previous close (IRA)
    assert h.inflow[:, 0].sum() == 10000.0 and h.outflow[:, 0].sum() == 500.0
    assert h.inflow[2, 1] == pytest.approx(7.5 * closes[1, 0])
    assert (
        h.fees[:, 0].sum() == 5.0 and h.costs[:, 0].sum() == 2.5 and h.income[:, 0].sum() == 12.34
    )
    assert np.isnan(h.value[1, 1]) and h.inception.tolist() == [0, 2]
    result = perf.period_returns(h, [perf.Period("all", None, dates[-1].item(), annualise=False)])
    assert np.isfinite(result.twr).all() and np.isfinite(result.mwr).all()
