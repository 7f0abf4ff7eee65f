"""Execute an approved proposal exactly once through the configured broker.

How "never twice" is guaranteed:

- Claim: a conditional UPDATE approved -> executing; only one caller wins it.
- Run lock: the executing worker holds a PostgreSQL session advisory lock on the proposal for
  the whole run. A second worker (or a redelivered task) that cannot take it does nothing; the
  lock disappears with the connection when a worker is killed, so a later retry can resume.
- Per trade, the state is written BEFORE each broker call (proposed -> sent), and the order
  carries the trade's idempotency key as client order id: resuming a "sent" trade first asks
  the broker for that client order id and only places the order if the broker never saw it.
- Each fill is recorded through the ledger (lots, cash, transaction) in one transaction with
  the trade's new state, idempotent by external_id "fill:<idempotency key>".

Sells run before buys; a buy is cut down to the cash actually available after the sells.
An order the broker queues for the next session (placed while the market is closed) stops the
run there: the proposal stays executing, and the sweeper's next call (every minute) resumes it,
finds the order filled once the session has opened, and goes on with the next trades.
Terminal states: executed (all filled), partial (some shares traded, the rest cancelled or
refused) or failed (nothing traded), with what happened in `failure_reason`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from accounts import audit
from advisor.core import clock
from portfolios import ledger, selectors
from portfolios.models import Portfolio, TaxLot, Transaction
from rebalancing.brokers import (
    Broker,
    BrokerError,
    BrokerTimeout,
    OrderRequest,
    OrderStatus,
    get_broker,
)
from rebalancing.models import Notification, Proposal, ProposedTrade
from rebalancing.selectors.execution import summary
from rebalancing.services import money, notifications, tax_saved

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 7_007  # first key of pg_try_advisory_lock(int, int)
SHARE = Decimal("0.00000001")
DONE = {
    ProposedTrade.Status.FILLED,
    ProposedTrade.Status.PARTIALLY_FILLED,
    ProposedTrade.Status.FAILED,
    ProposedTrade.Status.CANCELLED,
}


@contextmanager
def run_lock(proposal_id: int) -> Iterator[bool]:
    """Hold an exclusive session lock on the proposal while executing it (PostgreSQL).

    Yields False when another session holds it. On other databases (the embedded SQLite
    default, one worker) it always yields True.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, proposal_id])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, proposal_id])


def _ordered_trades(proposal_id: int) -> list[ProposedTrade]:
    trades = list(ProposedTrade.objects.filter(proposal_id=proposal_id).select_related("security"))
    return sorted(trades, key=lambda t: (t.side != ProposedTrade.Side.SELL, t.sequence, t.pk))


def _n(value: Decimal) -> str:
    """A quantity without trailing zeros or exponent: 30, 1.5."""
    return f"{value.normalize():f}"


def _set_trade(trade: ProposedTrade, **fields: object) -> None:
    for name, value in fields.items():
        setattr(trade, name, value)
    trade.save(update_fields=list(fields))


def _buy_quantity(trade: ProposedTrade, broker: Broker) -> tuple[Decimal, str]:
    """The shares a buy can pay for with the cash there now (after the sells)."""
    cash = Portfolio.objects.values_list("cash", flat=True).get(pk=trade.proposal.portfolio_id)
    latest = selectors.latest_prices([trade.security_id])
    price = Decimal(str(latest["close"].iloc[0])) if not latest.empty else trade.price
    bps = Decimal(str(settings.ADVISOR_PAPER_SLIPPAGE_BPS)) / Decimal(10_000)
    # Two spreads of margin: the fill may come in a little above the latest close.
    unit = price * (1 + 2 * bps)
    budget = cash - Decimal(str(settings.ADVISOR_PAPER_COMMISSION))
    if unit * trade.quantity <= budget:
        return trade.quantity, ""
    affordable = (budget / unit) if budget > 0 else Decimal("0")
    if trade.security.allows_fractional:
        affordable = affordable.quantize(SHARE, rounding=ROUND_DOWN)
    else:
        affordable = affordable.to_integral_value(rounding=ROUND_DOWN)
    return max(affordable, Decimal("0")), (
        f"Cut from {_n(trade.quantity)} to {_n(affordable)} shares: "
        f"only {cash:,.2f} cash available."
    )


def _sell_check(trade: ProposedTrade) -> str:
    held = sum(
        TaxLot.objects.open()
        .filter(portfolio_id=trade.proposal.portfolio_id, security_id=trade.security_id)
        .values_list("quantity", flat=True),
        Decimal("0"),
    )
    if held < trade.quantity:
        return f"Only {_n(held)} shares held; the sell of {_n(trade.quantity)} was not sent."
    return ""


def _send(trade: ProposedTrade, broker: Broker) -> OrderStatus | None:
    """Send (or find) the order for a trade; None when it was not sent (trade marked failed)."""
    key = trade.idempotency_key
    if trade.status == ProposedTrade.Status.SENT:
        # Resuming after a crash or a timeout: the broker may already have the order.
        found = broker.get_order(key)
        if found is not None:
            return found
        quantity = trade.order_quantity or trade.quantity
    else:
        note = ""
        if trade.side == ProposedTrade.Side.BUY:
            quantity, note = _buy_quantity(trade, broker)
        else:
            quantity, problem = trade.quantity, _sell_check(trade)
            if problem:
                _set_trade(trade, status=ProposedTrade.Status.FAILED, message=problem)
                return None
        if quantity <= 0:
            _set_trade(trade, status=ProposedTrade.Status.FAILED, message=note or "Nothing to buy.")
            return None
        # Written before the broker call: a crash after this line resumes by lookup.
        _set_trade(trade, status=ProposedTrade.Status.SENT, order_quantity=quantity, message=note)
    return broker.place_order(
        OrderRequest(
            client_order_id=key, symbol=trade.security.ticker, side=trade.side, quantity=quantity
        )
    )


def _settle(order: OrderStatus, broker: Broker) -> OrderStatus:
    """Poll an open order a few times; cancel what is still open at the end. An order queued
    for the next session is left alone."""
    if order.fills_after is not None and not order.is_terminal:
        return order
    polls = int(getattr(settings, "ADVISOR_BROKER_POLLS", 3))
    interval = float(getattr(settings, "ADVISOR_BROKER_POLL_INTERVAL", 0.5))
    for _ in range(polls):
        if order.is_terminal:
            return order
        time.sleep(interval)
        order = broker.get_order(order.client_order_id) or order
    if not order.is_terminal:
        order = broker.cancel_order(order.client_order_id)
    return order


def _picks(lots: list[dict], quantity: Decimal) -> list[ledger.LotPick]:
    picks, remaining = [], quantity
    for entry in lots:
        if remaining <= 0:
            break
        take = min(Decimal(str(entry["quantity"])), remaining)
        picks.append(ledger.LotPick(lot_id=int(entry["lot"]), quantity=take))
        remaining -= take
    return picks if remaining == 0 else []


def _record_fill(trade: ProposedTrade, order: OrderStatus) -> None:
    """Book the fill and the trade's final state in one transaction (idempotent)."""
    portfolio = trade.proposal.portfolio
    filled = order.filled_quantity.quantize(SHARE)
    sent = trade.order_quantity or trade.quantity
    prefix = trade.message.strip()
    with transaction.atomic():
        locked = ProposedTrade.objects.select_for_update().get(pk=trade.pk)
        if locked.status != ProposedTrade.Status.SENT:
            return
        messages = [prefix] if prefix else []
        status = ProposedTrade.Status.FAILED
        if filled > 0 and order.avg_fill_price:
            kwargs: dict[str, Any] = {
                "security": trade.security,
                "quantity": filled,
                "price": order.avg_fill_price,
                "trade_date": clock.today(),
                "fees": order.commission,
                "source": Transaction.Source.BROKER,
                "external_id": f"fill:{trade.idempotency_key}",
                "note": f"Proposal #{trade.proposal_id}, order {order.broker_order_id}",
            }
            try:
                with transaction.atomic():
                    if trade.side == ProposedTrade.Side.SELL:
                        picks = _picks(trade.lots, filled)
                        try:
                            with transaction.atomic():
                                ledger.record_sell(
                                    portfolio,
                                    method="specific" if picks else "tax_min",
                                    picks=picks or None,
                                    **kwargs,
                                )
                        except ledger.LedgerError as exc:
                            # The proposed lots changed: relieve tax-aware instead, and say so.
                            messages.append(f"Proposed lots unavailable ({exc}); sold tax-aware.")
                            ledger.record_sell(portfolio, method="tax_min", **kwargs)
                    else:
                        ledger.record_buy(portfolio, **kwargs)
                status = (
                    ProposedTrade.Status.FILLED
                    if filled >= sent and filled >= trade.quantity
                    else ProposedTrade.Status.PARTIALLY_FILLED
                )
            except ledger.LedgerError as exc:
                messages.append(f"Filled at the broker but not booked: {exc}")
        if filled < sent:
            messages.append(
                f"Broker filled {_n(filled)} of {_n(sent)} shares ({order.status})"
                + (f": {order.message}" if order.message else ".")
            )
        elif filled < trade.quantity:
            messages.append(f"Filled {_n(filled)} of {_n(trade.quantity)} proposed.")
        _set_trade(
            locked,
            status=status,
            filled_quantity=filled,
            fill_price=order.avg_fill_price if filled > 0 else None,
            broker_order_id=order.broker_order_id,
            message=" ".join(messages)[:500],
        )


def _finish(proposal_id: int) -> str:
    """Move the proposal from executing to its terminal state, once."""
    with transaction.atomic():
        proposal = (
            Proposal.objects.select_for_update()
            .select_related("portfolio__owner")
            .get(pk=proposal_id)
        )
        if proposal.status != Proposal.Status.EXECUTING:
            return proposal.status
        trades = list(proposal.trades.select_related("security"))
        filled = [t for t in trades if t.status == ProposedTrade.Status.FILLED]
        traded = [t for t in trades if t.filled_quantity > 0]
        problems = [
            f"{t.get_side_display()} {t.security.ticker}: {t.get_status_display().lower()}"
            + (f" - {t.message}" if t.message else "")
            for t in trades
            if t.status != ProposedTrade.Status.FILLED
        ]
        if len(filled) == len(trades):
            status, kind = Proposal.Status.EXECUTED, Notification.Kind.EXECUTED
        elif traded:
            status, kind = Proposal.Status.PARTIAL, Notification.Kind.PARTIAL
        else:
            status, kind = Proposal.Status.FAILED, Notification.Kind.FAILED
        reason = ""
        if problems:
            reason = f"{len(filled)} of {len(trades)} trades filled in full. " + "; ".join(problems)
        proposal.status = status
        proposal.executed_at = clock.now()
        proposal.failure_reason = reason
        paid = money.settle_withdrawal(proposal)
        execution = summary(proposal)
        if paid is not None:
            execution["withdrawal"] = {
                "amount": f"{paid.amount:.2f}",
                "status": paid.status,
                "note": paid.note,
            }
        proposal.details = {**(proposal.details or {}), "execution": execution}
        proposal.save(update_fields=["status", "executed_at", "failure_reason", "details"])
        if status != Proposal.Status.FAILED:
            tax_saved.record_tax_saving(proposal)
        audit.record(
            f"proposal.{status}",
            household=proposal.portfolio.owner,
            obj=proposal,
            summary=f"Execution {proposal.get_status_display().lower()}"
            + (f": {reason}" if reason else f": {len(trades)} trades filled."),
            trades=[
                {
                    "key": t.idempotency_key,
                    "side": t.side,
                    "ticker": t.security.ticker,
                    "filled": str(t.filled_quantity),
                    "price": str(t.fill_price) if t.fill_price is not None else None,
                    "order": t.broker_order_id,
                }
                for t in trades
            ],
        )
        notifications.notify(proposal, kind, body=notifications.execution_body(proposal))
    return status


def execute_proposal(proposal_id: int, *, broker: Broker | None = None) -> str:
    """Execute an approved proposal (or resume an interrupted execution); returns the status.

    Safe to call any number of times, concurrently: see the module docstring. Raises
    `BrokerTimeout` when the broker does not answer; the trade stays "sent" and a later call
    resumes it by looking the order up.
    """
    Proposal.objects.filter(pk=proposal_id, status=Proposal.Status.APPROVED).update(
        status=Proposal.Status.EXECUTING
    )
    with run_lock(proposal_id) as got:
        if not got:
            return "busy"  # another worker is executing it right now
        proposal = Proposal.objects.select_related("portfolio").filter(pk=proposal_id).first()
        if proposal is None or proposal.status != Proposal.Status.EXECUTING:
            return proposal.status if proposal else "missing"
        broker = broker or get_broker()
        for trade in _ordered_trades(proposal_id):
            trade.proposal = proposal
            if trade.status in DONE:
                continue
            try:
                order = _send(trade, broker)
            except BrokerTimeout:
                raise
            except BrokerError as exc:
                _set_trade(
                    trade, status=ProposedTrade.Status.FAILED, message=f"Broker error: {exc}"[:500]
                )
                continue
            if order is None:
                continue
            order = _settle(order, broker)
            if order.fills_after is not None and not order.is_terminal:
                return Proposal.Status.EXECUTING  # queued: resumed once the session opens
            _record_fill(trade, order)
        return _finish(proposal_id)


def give_up(proposal_id: int, reason: str) -> str:
    """After the last retry: mark an execution that cannot reach the broker as failed, saying
    which orders are in an unknown state."""
    with transaction.atomic():
        proposal = (
            Proposal.objects.select_for_update().select_related("portfolio").get(pk=proposal_id)
        )
        if proposal.status not in (Proposal.Status.EXECUTING, Proposal.Status.APPROVED):
            return proposal.status
        unknown = [
            t.idempotency_key for t in proposal.trades.filter(status=ProposedTrade.Status.SENT)
        ]
        proposal.status = Proposal.Status.FAILED
        proposal.executed_at = clock.now()
        proposal.failure_reason = (
            f"The broker did not answer ({reason}). "
            + (
                f"Orders {', '.join(unknown)} may or may not have been placed: check with the broker."
                if unknown
                else ""
            )
        )[:2000]
        proposal.save(update_fields=["status", "executed_at", "failure_reason"])
        audit.record(
            "proposal.failed",
            household=proposal.portfolio.owner,
            obj=proposal,
            summary=proposal.failure_reason[:500],
        )
        notifications.notify(proposal, Notification.Kind.FAILED, body=proposal.failure_reason)
    return Proposal.Status.FAILED
