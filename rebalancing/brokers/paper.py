"""The embedded paper broker: fills at the latest close plus a slippage/spread model.

Fill price = latest close x (1 + bps/10,000) for a buy, x (1 - bps/10,000) for a sell, with
bps = settings.ADVISOR_PAPER_SLIPPAGE_BPS; commission = settings.ADVISOR_PAPER_COMMISSION
(currency per order that fills). settings.ADVISOR_PAPER_MAX_FILL caps the shares filled per
order (a partial fill; the rest stays open until cancelled). Orders are rows (PaperOrder), so
placing an order with a client order id that already exists returns the existing order.

Market hours (settings.ADVISOR_PAPER_MARKET_HOURS, on by default): an order placed while the
exchange is closed (nights, weekends, holidays: `portfolios.market_calendar`) is queued with
`fills_after` = the next session's opening bell, and fills the first time it is looked up
while that session (or a later one) is trading. The store holds daily closes only, so the fill
price is the newest close at that moment (before the session closes: the previous session's
close, standing in for the opening price) moved by the slippage. The fill happens under the
order's row lock and only from the queued state, so two workers looking it up fill it once.
"""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from advisor.core import clock
from portfolios import market_calendar, selectors
from portfolios.models import Security
from rebalancing.brokers import OrderRequest, OrderStatus
from rebalancing.models import PaperOrder

PRICE_Q = Decimal("0.000001")
CENT = Decimal("0.01")
SHARE = Decimal("0.00000001")


def _status(order: PaperOrder) -> OrderStatus:
    return OrderStatus(
        broker_order_id=f"paper-{order.pk}",
        client_order_id=order.client_order_id,
        status=order.status,
        quantity=order.quantity,
        filled_quantity=order.filled_quantity,
        avg_fill_price=order.avg_fill_price,
        commission=order.commission,
        message=order.reject_reason,
        fills_after=order.fills_after if order.status == PaperOrder.Status.NEW else None,
    )


def fill_price(close: Decimal, side: str, bps: float) -> Decimal:
    """The paper fill price: `close` moved against the investor by `bps` basis points."""
    factor = Decimal(str(bps)) / Decimal(10_000)
    sign = 1 if side == "buy" else -1
    return (close * (1 + sign * factor)).quantize(PRICE_Q, rounding=ROUND_HALF_UP)


class PaperBroker:
    name = "paper"

    def __init__(
        self,
        *,
        slippage_bps: float | None = None,
        commission: float | None = None,
        max_fill: float | None = None,
        delay_seconds: float | None = None,
        market_hours: bool | None = None,
    ) -> None:
        self.slippage_bps = (
            settings.ADVISOR_PAPER_SLIPPAGE_BPS if slippage_bps is None else slippage_bps
        )
        self.commission = Decimal(
            str(settings.ADVISOR_PAPER_COMMISSION if commission is None else commission)
        ).quantize(CENT)
        cap = settings.ADVISOR_PAPER_MAX_FILL if max_fill is None else max_fill
        self.max_fill = Decimal(str(cap)) if cap else None
        self.delay = (
            settings.ADVISOR_PAPER_DELAY_SECONDS if delay_seconds is None else delay_seconds
        )
        self.market_hours = (
            settings.ADVISOR_PAPER_MARKET_HOURS if market_hours is None else market_hours
        )

    def _fill(self, order: PaperOrder) -> None:
        security = Security.objects.filter(ticker=order.symbol, is_active=True).first()
        if security is None:
            order.status, order.reject_reason = (
                PaperOrder.Status.REJECTED,
                f"Unknown symbol {order.symbol}.",
            )
            return
        if order.quantity <= 0:
            order.status, order.reject_reason = (
                PaperOrder.Status.REJECTED,
                "Quantity must be positive.",
            )
            return
        if not security.allows_fractional and order.quantity != order.quantity.to_integral_value():
            order.status, order.reject_reason = (
                PaperOrder.Status.REJECTED,
                f"{order.symbol} trades in whole shares only.",
            )
            return
        latest = selectors.latest_prices([security.pk])
        if latest.empty:
            order.status, order.reject_reason = (
                PaperOrder.Status.REJECTED,
                f"No price for {order.symbol}.",
            )
            return
        close = Decimal(str(latest["close"].iloc[0]))
        quantity = order.quantity
        if self.max_fill is not None and quantity > self.max_fill:
            quantity = self.max_fill
            if not security.allows_fractional:
                quantity = quantity.to_integral_value(rounding="ROUND_FLOOR")
        quantity = quantity.quantize(SHARE)
        order.filled_quantity = quantity
        order.avg_fill_price = fill_price(close, order.side, self.slippage_bps)
        order.commission = self.commission if quantity > 0 else Decimal("0.00")
        order.status = (
            PaperOrder.Status.FILLED
            if quantity == order.quantity
            else PaperOrder.Status.PARTIALLY_FILLED
        )

    def place_order(self, order: OrderRequest) -> OrderStatus:
        existing = PaperOrder.objects.filter(client_order_id=order.client_order_id).first()
        if existing is None:
            try:
                with transaction.atomic():
                    row = PaperOrder(
                        client_order_id=order.client_order_id,
                        symbol=order.symbol,
                        side=order.side,
                        quantity=Decimal(order.quantity),
                    )
                    now = clock.now()
                    if self.market_hours and not market_calendar.is_open(now):
                        row.fills_after = market_calendar.next_open(now)
                    else:
                        self._fill(row)
                    row.save()
                existing = row
            except IntegrityError:  # the same client order id placed concurrently
                existing = PaperOrder.objects.get(client_order_id=order.client_order_id)
        if self.delay:
            time.sleep(self.delay)  # a slow answer: the order exists, the caller does not know yet
        return _status(existing)

    def get_order(self, client_order_id: str) -> OrderStatus | None:
        order = PaperOrder.objects.filter(client_order_id=client_order_id).first()
        if order is not None and self._due(order):
            with transaction.atomic():
                order = PaperOrder.objects.select_for_update().get(pk=order.pk)
                if self._due(order):
                    self._fill(order)
                    order.save()
        return None if order is None else _status(order)

    @staticmethod
    def _due(order: PaperOrder) -> bool:
        """A queued order whose session has opened and is trading now."""
        if order.status != PaperOrder.Status.NEW or order.fills_after is None:
            return False
        now = clock.now()
        return order.fills_after <= now and market_calendar.is_open(now)

    def cancel_order(self, client_order_id: str) -> OrderStatus:
        with transaction.atomic():
            order = PaperOrder.objects.select_for_update().get(client_order_id=client_order_id)
            if order.status in (PaperOrder.Status.NEW, PaperOrder.Status.PARTIALLY_FILLED):
                order.status = PaperOrder.Status.CANCELLED
                order.save(update_fields=["status", "updated_at"])
        return _status(order)
