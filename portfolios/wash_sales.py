"""Wash sales in the ledger: detect them when trades are recorded and apply the adjustments.

The ledger (`portfolios.ledger`) calls `after_trade(txn)` at the end of every buy, sell and transfer-in,
inside the same database transaction, so a wash sale caused by an imported transaction or a
trade outside the product is corrected the moment it is recorded:

- the loss sale's `LotSale.wash_sale_disallowed` grows by the disallowed loss (its `gain` with it);
- a taxable replacement lot gets the disallowed loss added to its basis (and to
  `wash_sale_adjustment`) and its holding period starts earlier by the days the sold shares were
  held; when only part of a lot replaces, the lot is split so that only those shares carry the
  adjustment;
- a replacement in an IRA/401(k) disallows the loss for good (`WashSaleMatch.permanent`);
- every loss sale in a taxable account records a `WashSaleBlock` for the sold security through
  day 30 after the sale, which the harvest scan and the rebalancer honour.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from django.db.models import DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from advisor.core import dates
from portfolios import selectors
from portfolios.models import (
    LotSale,
    Portfolio,
    TaxLot,
    Transaction,
    WashSaleBlock,
    WashSaleMatch,
    basis_of_part,
)
from rebalancing.engine import wash_sales as engine

CENT = Decimal("0.01")
SHARE = Decimal("0.00000001")
WINDOW = dt.timedelta(days=engine.WINDOW_DAYS)
TAX_ADVANTAGED = {
    Portfolio.TaxTreatment.TRADITIONAL_IRA,
    Portfolio.TaxTreatment.ROTH_IRA,
    Portfolio.TaxTreatment.K401,
}


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def after_trade(txn: Transaction) -> list[WashSaleMatch]:
    """Ledger hook: block buys after a loss sale, then apply any wash sale the trade completes."""
    if txn.security_id is None or txn.kind not in (
        Transaction.Kind.BUY,
        Transaction.Kind.SELL,
        Transaction.Kind.TRANSFER_IN,
    ):
        return []
    portfolio = Portfolio.objects.only("owner_id", "tax_treatment").get(pk=txn.portfolio_id)
    if (
        txn.kind == Transaction.Kind.SELL
        and portfolio.tax_treatment == Portfolio.TaxTreatment.TAXABLE
    ):
        loss = LotSale.objects.filter(transaction=txn, cost_basis__gt=F("proceeds")).exists()
        if loss:
            WashSaleBlock.objects.get_or_create(
                source_transaction=txn,
                security_id=txn.security_id,
                defaults={
                    "household_id": portfolio.owner_id,
                    "until": txn.trade_date + WINDOW,
                    "reason": block_reason(txn.trade_date),
                },
            )
    return apply_wash_sales(
        household_id=portfolio.owner_id, security_id=txn.security_id, on=txn.trade_date
    )


def block_reason(sold_on: dt.date) -> str:
    """Why a security is blocked after a loss sale (stored with the block)."""
    return (
        f"Sold at a loss on {dates.day(sold_on)}: buying it back within "
        f"{engine.WINDOW_DAYS} days would be a wash sale."
    )


def apply_wash_sales(*, household_id: int, security_id: int, on: dt.date) -> list[WashSaleMatch]:
    """Match the household's unmatched loss sales of `security_id` (and identical securities)
    dated within 30 days of `on` against replacement lots, and write the adjustments.

    Runs inside the caller's transaction; idempotent (matched shares are never matched again).
    """
    securities = selectors.identical_groups().identical_to(security_id)
    matched_qty = (
        WashSaleMatch.objects.filter(lot_sale=OuterRef("pk"))
        .values("lot_sale")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    zero = Value(Decimal("0"), output_field=DecimalField(max_digits=20, decimal_places=8))
    sales = list(
        LotSale.objects.filter(
            transaction__portfolio__owner_id=household_id,
            transaction__portfolio__tax_treatment=Portfolio.TaxTreatment.TAXABLE,
            transaction__security_id__in=securities,
            transaction__trade_date__range=(on - WINDOW, on + WINDOW),
            cost_basis__gt=F("proceeds"),
        )
        .annotate(matched=Coalesce(Subquery(matched_qty), zero))
        .select_related("transaction", "lot")
        .order_by("transaction__trade_date", "id")
    )
    sales = [s for s in sales if s.quantity - s.matched > 0]
    if not sales:
        return []
    used_qty = (
        WashSaleMatch.objects.filter(replacement_lot=OuterRef("pk"))
        .values("replacement_lot")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    lots = list(
        TaxLot.objects.select_for_update(of=("self",))
        .filter(
            portfolio__owner_id=household_id,
            security_id__in=securities,
            quantity__gt=0,
            acquired_on__range=(on - 2 * WINDOW, on + 2 * WINDOW),
        )
        .annotate(used=Coalesce(Subquery(used_qty), zero))
        .select_related("portfolio")
        .order_by("acquired_on", "id")
    )
    if not lots:
        return []
    found = engine.match(
        sale_group=np.zeros(len(sales), dtype=int),
        sale_date=np.array([s.transaction.trade_date for s in sales], dtype="datetime64[D]"),
        sale_quantity=np.array([float(s.quantity) for s in sales]),
        sale_unmatched=np.array([float(s.quantity - s.matched) for s in sales]),
        sale_loss=np.array([float(s.cost_basis - s.proceeds) for s in sales]),
        sale_lot=np.array([s.lot_id for s in sales]),
        sale_holding_start=np.array([s.lot.holding_start for s in sales], dtype="datetime64[D]"),
        lot_id=np.array([lot.pk for lot in lots]),
        lot_group=np.zeros(len(lots), dtype=int),
        lot_acquired=np.array([lot.acquired_on for lot in lots], dtype="datetime64[D]"),
        lot_available=np.array([float(max(lot.quantity - lot.used, Decimal(0))) for lot in lots]),
        lot_tax_advantaged=np.array(
            [lot.portfolio.tax_treatment in TAX_ADVANTAGED for lot in lots]
        ),
    )
    return [
        _apply_one(sales[s], lots[j], q, d, bool(p), int(days))
        for s, j, q, d, p, days in zip(
            found.sale,
            found.lot,
            found.quantity,
            found.disallowed,
            found.permanent,
            found.holding_days,
            strict=True,
        )
    ]


def _apply_one(
    sale: LotSale, lot: TaxLot, quantity: float, disallowed: float, permanent: bool, days: int
) -> WashSaleMatch:
    qty = Decimal(str(quantity)).quantize(SHARE, rounding=ROUND_HALF_UP)
    if abs(qty - lot.quantity) <= SHARE:
        qty = lot.quantity
    loss = sale.cost_basis - sale.proceeds
    amount = min(_money(disallowed), loss - sale.wash_sale_disallowed)
    sale.wash_sale_disallowed += amount
    sale.gain += amount
    LotSale.objects.filter(pk=sale.pk).update(
        wash_sale_disallowed=F("wash_sale_disallowed") + amount, gain=F("gain") + amount
    )
    replacement = lot
    if not permanent:
        start = lot.acquired_on - dt.timedelta(days=days)
        if qty < lot.quantity:
            # Only `qty` shares replace: split them into their own lot carrying the adjustment.
            part_basis = basis_of_part(lot.cost_basis, lot.quantity, qty)
            lot.quantity -= qty
            lot.original_quantity -= qty
            lot.cost_basis -= part_basis
            lot.save(update_fields=["quantity", "original_quantity", "cost_basis"])
            replacement = TaxLot.objects.create(
                portfolio=lot.portfolio,
                security_id=lot.security_id,
                quantity=qty,
                original_quantity=qty,
                cost_basis=part_basis + amount,
                acquired_on=lot.acquired_on,
                holding_start=start,
                wash_sale_adjustment=amount,
                opened_by_id=lot.opened_by_id,
            )
        else:
            lot.cost_basis += amount
            lot.wash_sale_adjustment += amount
            lot.holding_start = start
            lot.save(update_fields=["cost_basis", "wash_sale_adjustment", "holding_start"])
    return WashSaleMatch.objects.create(
        lot_sale=sale,
        replacement_lot=replacement,
        quantity=qty,
        disallowed=amount,
        permanent=permanent,
        holding_days_added=0 if permanent else days,
    )
