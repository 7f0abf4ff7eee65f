"""Broker adapters behind one interface.

A `Broker` places orders identified by a client order id (the proposed trade's idempotency
key), so placing the same order twice returns the first order instead of sending a second
one. `get_broker()` returns the adapter named by settings.ADVISOR_BROKER ("paper" | "alpaca").

Quantities and prices are Decimal; `OrderStatus.status` is one of the ORDER_* constants.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings

ORDER_NEW = "new"
ORDER_PARTIALLY_FILLED = "partially_filled"
ORDER_FILLED = "filled"
ORDER_CANCELLED = "canceled"
ORDER_REJECTED = "rejected"
ORDER_EXPIRED = "expired"
TERMINAL = {ORDER_FILLED, ORDER_CANCELLED, ORDER_REJECTED, ORDER_EXPIRED}


class BrokerError(Exception):
    """The broker refused the request or answered something we cannot use."""


class BrokerTimeout(BrokerError):
    """No answer in time: the order may or may not exist; look it up by client order id."""


@dataclass(frozen=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal


@dataclass(frozen=True)
class OrderStatus:
    broker_order_id: str
    client_order_id: str
    status: str
    quantity: Decimal
    filled_quantity: Decimal = Decimal("0")
    avg_fill_price: Decimal | None = None
    commission: Decimal = Decimal("0")
    message: str = ""
    # Set while the broker holds the order for a session that has not opened yet.
    fills_after: dt.datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class Broker(Protocol):
    name: str

    def place_order(self, order: OrderRequest) -> OrderStatus:
        """Send an order; idempotent by `order.client_order_id`."""
        ...

    def get_order(self, client_order_id: str) -> OrderStatus | None:
        """The order with this client order id, or None if the broker never received it."""
        ...

    def cancel_order(self, client_order_id: str) -> OrderStatus:
        """Cancel what is not filled yet; returns the final state."""
        ...


def get_broker(name: str | None = None) -> Broker:
    name = name or settings.ADVISOR_BROKER
    if name == "paper":
        from rebalancing.brokers.paper import PaperBroker

        return PaperBroker()
    if name == "alpaca":
        from rebalancing.brokers.alpaca import AlpacaBroker

        return AlpacaBroker.from_settings()
    raise BrokerError(f"Unknown broker {name!r} (ADVISOR_BROKER is 'paper' or 'alpaca').")
