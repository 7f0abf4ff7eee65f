"""The ledger: every change to lots and cash goes through these services.

Each function is one database transaction that locks the portfolio row first, so two writers
on the same account queue up instead of interleaving. `external_id` makes a call idempotent:
recording the same broker fill or import row twice returns the first transaction.

Invariant (tested): `portfolio.cash == sum(transaction.amount)`, and every open lot was opened
by a transaction.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol, TypeVar

import numpy as np
from django.db import transaction
from django.db.models import F

from accounts.models import InvestorProfile
from advisor.core import clock, inputs
from portfolios import wash_sales
from portfolios.models import LotSale, Portfolio, Security, TaxLot, Transaction, basis_of_part
from rebalancing.engine.lots import ReliefMethod, relief_order


class _OpenLot(Protocol):
    quantity: Decimal


L = TypeVar("L", bound=_OpenLot)

CENT = Decimal("0.01")
SHARE = Decimal("0.00000001")


class LedgerError(ValueError):
    """A change the ledger refuses; the message is meant for the investor."""


def money(value: Decimal | float | int | str) -> Decimal:
    try:
        return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than any column holds
        raise LedgerError(f"The amount {value} is too large.") from None


def shares(value: Decimal | float | int | str) -> Decimal:
    try:
        return Decimal(str(value)).quantize(SHARE, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise LedgerError(f"The quantity {value} is too large.") from None


@dataclass(frozen=True)
class LotPick:
    """A specific lot and how many of its shares to sell (specific identification)."""

    lot_id: int
    quantity: Decimal


def _lock(portfolio: Portfolio) -> Portfolio:
    return Portfolio.objects.select_for_update().get(pk=portfolio.pk)


def _existing(portfolio: Portfolio, external_id: str | None) -> Transaction | None:
    if not external_id:
        return None
    return Transaction.objects.filter(portfolio=portfolio, external_id=external_id).first()


def _check_date(trade_date: dt.date) -> None:
    if trade_date > clock.today():
        raise LedgerError(f"The date {trade_date:%Y-%m-%d} is in the future.")
    if trade_date < inputs.EARLIEST_DATE:
        raise LedgerError(f"The date {trade_date:%Y-%m-%d} is before {inputs.EARLIEST_DATE:%Y}.")


def _check_fits(value: Decimal, name: str, precision: inputs.Precision) -> None:
    """Refuse a number its column cannot hold before anything is written (not a DataError)."""
    try:
        inputs.check_fits(value, name, precision)
    except inputs.InputError as exc:
        raise LedgerError(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None


def _check_quantity(security: Security, quantity: Decimal) -> None:
    if quantity <= 0:
        raise LedgerError("The quantity must be positive.")
    if not security.allows_fractional and quantity != quantity.to_integral_value():
        raise LedgerError(f"{security.ticker} trades in whole shares only.")


def _check_trade(
    security: Security, quantity: Decimal, price: Decimal, fees: Decimal, trade_date: dt.date
) -> None:
    """What every buy and sell must satisfy before anything is written."""
    _check_date(trade_date)
    _check_quantity(security, quantity)
    if price <= 0:
        raise LedgerError("The price must be positive.")
    if fees < 0:
        raise LedgerError("Fees cannot be negative.")
    _check_fits(quantity, "the quantity", inputs.QUANTITY)
    _check_fits(price, "the price", inputs.PRICE)
    _check_fits(quantity * price + fees, "the amount", inputs.MONEY)


def _move_cash(portfolio: Portfolio, amount: Decimal) -> None:
    if portfolio.cash + amount < 0:
        raise LedgerError(
            f"Not enough cash in {portfolio.name}: {portfolio.cash:,.2f} available, {-amount:,.2f} needed."
        )
    _check_fits(portfolio.cash + amount, f"the cash balance of {portfolio.name}", inputs.MONEY)
    portfolio.cash += amount
    Portfolio.objects.filter(pk=portfolio.pk).update(
        cash=F("cash") + amount, updated_at=clock.now()
    )


def _open_lot(txn: Transaction, *, cost_basis: Decimal, acquired_on: dt.date) -> TaxLot:
    assert txn.quantity is not None and txn.security is not None
    return TaxLot.objects.create(
        portfolio_id=txn.portfolio_id,
        security=txn.security,
        quantity=txn.quantity,
        original_quantity=txn.quantity,
        cost_basis=cost_basis,
        acquired_on=acquired_on,
        holding_start=acquired_on,
        opened_by=txn,
    )


@transaction.atomic
def record_buy(
    portfolio: Portfolio,
    *,
    security: Security,
    quantity: Decimal,
    price: Decimal,
    trade_date: dt.date,
    fees: Decimal = Decimal("0"),
    source: str = Transaction.Source.MANUAL,
    external_id: str | None = None,
    note: str = "",
) -> Transaction:
    """Buy shares with the portfolio's cash: one transaction, one new lot."""
    portfolio = _lock(portfolio)
    if existing := _existing(portfolio, external_id):
        return existing
    quantity, price, fees = shares(quantity), Decimal(price), money(fees)
    _check_trade(security, quantity, price, fees, trade_date)
    cost = money(quantity * price) + fees
    _move_cash(portfolio, -cost)
    txn = Transaction.objects.create(
        portfolio=portfolio,
        kind=Transaction.Kind.BUY,
        trade_date=trade_date,
        security=security,
        quantity=quantity,
        price=price,
        fees=fees,
        amount=-cost,
        source=source,
        external_id=external_id,
        note=note,
    )
    _open_lot(txn, cost_basis=cost, acquired_on=trade_date)
    wash_sales.after_trade(txn)  # a buy near a loss sale in the household is a wash sale
    return txn


@transaction.atomic
def record_transfer_in(
    portfolio: Portfolio,
    *,
    security: Security,
    quantity: Decimal,
    cost_basis: Decimal,
    acquired_on: dt.date,
    trade_date: dt.date | None = None,
    source: str = Transaction.Source.IMPORT,
    external_id: str | None = None,
) -> Transaction:
    """Shares that arrive with their own basis and date (an imported position): no cash moves."""
    portfolio = _lock(portfolio)
    if existing := _existing(portfolio, external_id):
        return existing
    quantity, cost_basis = shares(quantity), money(cost_basis)
    _check_date(acquired_on)
    _check_quantity(security, quantity)
    _check_fits(quantity, "the quantity", inputs.QUANTITY)
    _check_fits(cost_basis, "the cost basis", inputs.MONEY)
    if cost_basis < 0:
        raise LedgerError("The cost basis cannot be negative.")
    txn = Transaction.objects.create(
        portfolio=portfolio,
        kind=Transaction.Kind.TRANSFER_IN,
        trade_date=trade_date or acquired_on,
        security=security,
        quantity=quantity,
        price=None,
        amount=Decimal("0.00"),
        source=source,
        external_id=external_id,
    )
    _open_lot(txn, cost_basis=cost_basis, acquired_on=acquired_on)
    wash_sales.after_trade(txn)
    return txn


def picks_from(lots: list[TaxLot], quantity: Decimal) -> list[LotPick]:
    """Specific identification from the lots an investor ticked: `quantity` shares taken from
    them oldest first. Refused when they hold fewer shares."""
    picks, remaining = [], shares(quantity)
    for lot in sorted(lots, key=lambda lot: (lot.acquired_on, lot.pk)):
        if remaining <= 0:
            break
        take = min(lot.quantity, remaining)
        picks.append(LotPick(lot_id=lot.pk, quantity=take))
        remaining -= take
    if remaining > 0:
        held = sum((lot.quantity for lot in lots), Decimal("0"))
        raise LedgerError(
            f"The lots ticked hold {held.normalize():f} shares; "
            f"{Decimal(quantity).normalize():f} are sold."
        )
    return picks


def owner_relief_method(owner_id: int) -> ReliefMethod:
    """The lot relief method the investor chose for sells that name no lots."""
    chosen = (
        InvestorProfile.objects.filter(user_id=owner_id)
        .values_list("lot_relief_method", flat=True)
        .first()
    )
    return ReliefMethod(chosen or ReliefMethod.TAX_MIN)


def _relief_plan(
    lots: list[TaxLot],
    quantity: Decimal,
    method: ReliefMethod,
    price: Decimal,
    trade_date: dt.date,
    picks: list[LotPick] | None,
) -> list[tuple[TaxLot, Decimal]]:
    if method is ReliefMethod.SPECIFIC:
        if not picks:
            raise LedgerError("Specific identification needs the lots to sell.")
        by_id = {lot.pk: lot for lot in lots}
        plan = []
        for pick in picks:
            lot = by_id.get(pick.lot_id)
            if lot is None:
                raise LedgerError(
                    f"Lot {pick.lot_id} is not an open lot of this security in this account."
                )
            if pick.quantity <= 0 or pick.quantity > lot.quantity:
                raise LedgerError(
                    f"Lot {pick.lot_id} holds {lot.quantity}; cannot sell {pick.quantity} from it."
                )
            plan.append((lot, shares(pick.quantity)))
        if sum(q for _, q in plan) != quantity:
            raise LedgerError(
                "The quantities picked from the lots do not add up to the quantity sold."
            )
        return plan
    return relief_plan(
        lots,
        quantity,
        method,
        price,
        trade_date,
        cost_per_share=[float(lot.cost_per_share) for lot in lots],
        acquired=np.array([lot.acquired_on for lot in lots], dtype="datetime64[D]"),
        holding_start=np.array([lot.holding_start for lot in lots], dtype="datetime64[D]"),
    )


def relief_plan(
    lots: Sequence[L],
    quantity: Decimal,
    method: ReliefMethod,
    price: Decimal,
    trade_date: dt.date,
    *,
    cost_per_share: Sequence[float],
    acquired: np.ndarray,
    holding_start: np.ndarray,
) -> list[tuple[L, Decimal]]:
    """The open lots a sale of `quantity` relieves by `method` (any but specific
    identification) and the shares taken from each, in order. The ledger and the import's
    in-memory replay both sell through it (their lots are rows or plain records)."""
    order = relief_order(
        method,
        cost_per_share=np.asarray(cost_per_share, dtype=float),
        acquired=acquired,
        holding_start=holding_start,
        price=float(price),
        on=np.datetime64(trade_date, "D"),
    )
    plan, remaining = [], quantity
    for i in order:
        if remaining <= 0:
            break
        take = min(lots[i].quantity, remaining)
        plan.append((lots[i], take))
        remaining -= take
    return plan


@transaction.atomic
def record_sell(
    portfolio: Portfolio,
    *,
    security: Security,
    quantity: Decimal,
    price: Decimal,
    trade_date: dt.date,
    fees: Decimal = Decimal("0"),
    method: ReliefMethod | str | None = None,
    picks: list[LotPick] | None = None,
    source: str = Transaction.Source.MANUAL,
    external_id: str | None = None,
    note: str = "",
) -> Transaction:
    """Sell shares, relieving lots by `method` (None: the method the owner chose in their
    settings, tax-minimising without a profile); records the realised gain per lot (LotSale)."""
    portfolio = _lock(portfolio)
    if existing := _existing(portfolio, external_id):
        return existing
    method = ReliefMethod(method or owner_relief_method(portfolio.owner_id))
    quantity, price, fees = shares(quantity), Decimal(price), money(fees)
    _check_trade(security, quantity, price, fees, trade_date)
    lots = list(
        TaxLot.objects.select_for_update()
        .filter(portfolio=portfolio, security=security, quantity__gt=0, acquired_on__lte=trade_date)
        .order_by("acquired_on", "id")
    )
    held = sum((lot.quantity for lot in lots), Decimal("0"))
    if quantity > held:
        raise LedgerError(
            f"Cannot sell {quantity} {security.ticker}: {held} held on {trade_date:%Y-%m-%d}."
        )
    plan = _relief_plan(lots, quantity, method, price, trade_date, picks)

    gross = money(quantity * price)
    net = gross - fees
    txn = Transaction.objects.create(
        portfolio=portfolio,
        kind=Transaction.Kind.SELL,
        trade_date=trade_date,
        security=security,
        quantity=quantity,
        price=price,
        fees=fees,
        amount=net,
        lot_relief_method=method.value,
        source=source,
        external_id=external_id,
        note=note,
    )
    sales, allocated = [], Decimal("0.00")
    for n, (lot, take) in enumerate(plan):
        # Proceeds are split pro rata; the last lot takes the rounding remainder.
        proceeds = net - allocated if n == len(plan) - 1 else money(net * take / quantity)
        allocated += proceeds
        basis = basis_of_part(lot.cost_basis, lot.quantity, take)
        lot.quantity -= take
        lot.cost_basis -= basis
        lot.closed_on = trade_date if lot.quantity == 0 else None
        lot.save(update_fields=["quantity", "cost_basis", "closed_on"])
        sales.append(
            LotSale(
                transaction=txn,
                lot=lot,
                quantity=take,
                proceeds=proceeds,
                cost_basis=basis,
                gain=proceeds - basis,
                is_long_term=lot.is_long_term(trade_date),
            )
        )
    LotSale.objects.bulk_create(sales)
    _move_cash(portfolio, net)
    wash_sales.after_trade(txn)  # disallow the loss if the household bought it back within 30 days
    return txn


CASH_SIGN = {
    Transaction.Kind.DEPOSIT: 1,
    Transaction.Kind.DIVIDEND: 1,
    Transaction.Kind.INTEREST: 1,
    Transaction.Kind.TRANSFER_IN: 1,
    Transaction.Kind.WITHDRAWAL: -1,
    Transaction.Kind.FEE: -1,
    Transaction.Kind.TRANSFER_OUT: -1,
}


@transaction.atomic
def record_cash(
    portfolio: Portfolio,
    *,
    kind: str,
    amount: Decimal,
    trade_date: dt.date,
    security: Security | None = None,
    source: str = Transaction.Source.MANUAL,
    external_id: str | None = None,
    note: str = "",
) -> Transaction:
    """A deposit, withdrawal, dividend, interest or fee. `amount` is positive; the kind gives the sign."""
    portfolio = _lock(portfolio)
    if existing := _existing(portfolio, external_id):
        return existing
    kind = Transaction.Kind(kind)
    if kind not in CASH_SIGN:
        raise LedgerError(f"{kind.label} is not a cash movement.")
    _check_fits(Decimal(amount), "the amount", inputs.MONEY)
    amount = money(amount)
    if amount <= 0:
        raise LedgerError("The amount must be positive.")
    _check_date(trade_date)
    signed = amount * CASH_SIGN[kind]
    _move_cash(portfolio, signed)
    return Transaction.objects.create(
        portfolio=portfolio,
        kind=kind,
        trade_date=trade_date,
        security=security,
        amount=signed,
        source=source,
        external_id=external_id,
        note=note,
    )
