"""Adapter for an Alpaca-style trading REST API (https://docs.alpaca.markets, paper endpoint
https://paper-api.alpaca.markets).

Configured by environment variables: ADVISOR_BROKER=alpaca, ADVISOR_BROKER_URL,
ADVISOR_BROKER_KEY_ID, ADVISOR_BROKER_SECRET, ADVISOR_BROKER_TIMEOUT (seconds).

Orders are market/day orders carrying our `client_order_id`. Alpaca refuses a second order
with the same client order id (HTTP 422), so a retried POST after a timeout cannot create a
duplicate: before retrying we look the order up by client order id, and a duplicate answer is
resolved the same way. Timeouts, connection errors, 429 and 5xx are retried with backoff;
when retries run out `BrokerTimeout` says the order state is unknown.

The broker holds an order placed while the exchange is closed until the next session: such an
open order comes back with `fills_after` (the next opening bell), so the execution leaves it
queued instead of cancelling it, and resumes once it fills.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import httpx
from django.conf import settings

from advisor.core import clock
from portfolios import market_calendar
from rebalancing.brokers import (
    ORDER_CANCELLED,
    ORDER_EXPIRED,
    ORDER_FILLED,
    ORDER_NEW,
    ORDER_PARTIALLY_FILLED,
    ORDER_REJECTED,
    TERMINAL,
    BrokerError,
    BrokerTimeout,
    OrderRequest,
    OrderStatus,
)

STATUS = {
    "filled": ORDER_FILLED,
    "partially_filled": ORDER_PARTIALLY_FILLED,
    "canceled": ORDER_CANCELLED,
    "expired": ORDER_EXPIRED,
    "rejected": ORDER_REJECTED,
}
RETRY_STATUS = {429, 500, 502, 503, 504}


def _decimal(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _queued_until(status: str) -> dt.datetime | None:
    """The next opening bell for an open order while the exchange is closed, else None."""
    if status in TERMINAL:
        return None
    now = clock.now()
    return None if market_calendar.is_open(now) else market_calendar.next_open(now)


def _status(data: dict[str, Any]) -> OrderStatus:
    status = STATUS.get(str(data.get("status")), ORDER_NEW)
    return OrderStatus(
        broker_order_id=str(data.get("id", "")),
        client_order_id=str(data.get("client_order_id", "")),
        status=status,
        quantity=_decimal(data.get("qty")) or Decimal("0"),
        filled_quantity=_decimal(data.get("filled_qty")) or Decimal("0"),
        avg_fill_price=_decimal(data.get("filled_avg_price")),
        commission=_decimal(data.get("commission")) or Decimal("0"),
        message=str(data.get("reject_reason") or ""),
        fills_after=_queued_until(status),
    )


class AlpacaBroker:
    name = "alpaca"

    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
    ) -> None:
        if not base_url:
            raise BrokerError("ADVISOR_BROKER_URL is not set.")
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            headers={"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret},
        )
        self.retries = retries
        self.backoff = backoff

    @classmethod
    def from_settings(cls) -> AlpacaBroker:
        return cls(
            settings.ADVISOR_BROKER_URL,
            settings.ADVISOR_BROKER_KEY_ID,
            settings.ADVISOR_BROKER_SECRET,
            timeout=settings.ADVISOR_BROKER_TIMEOUT,
        )

    def close(self) -> None:
        self.client.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """An idempotent request (GET/DELETE), retried on timeouts, 429 and 5xx."""
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.client.request(method, url, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last = exc
                continue
            if response.status_code in RETRY_STATUS:
                last = BrokerError(f"{method} {url}: HTTP {response.status_code}")
                continue
            return response
        raise BrokerTimeout(
            f"{method} {url}: no usable answer after {self.retries + 1} tries ({last})."
        )

    def get_order(self, client_order_id: str) -> OrderStatus | None:
        response = self._request(
            "GET", "/v2/orders:by_client_order_id", params={"client_order_id": client_order_id}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise BrokerError(
                f"Order lookup failed: HTTP {response.status_code} {response.text[:200]}"
            )
        return _status(response.json())

    def place_order(self, order: OrderRequest) -> OrderStatus:
        body = {
            "symbol": order.symbol,
            "qty": str(order.quantity),
            "side": order.side,
            "type": "market",
            "time_in_force": "day",
            "client_order_id": order.client_order_id,
        }
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
                # The previous POST may have reached the broker: never send it twice.
                if (existing := self.get_order(order.client_order_id)) is not None:
                    return existing
            try:
                response = self.client.post("/v2/orders", json=body)
            except (httpx.TimeoutException, httpx.TransportError):
                continue
            if response.status_code in RETRY_STATUS:
                continue
            if response.status_code in (200, 201):
                return _status(response.json())
            message = self._message(response)
            if response.status_code == 422 and "client_order_id" in message:
                existing = self.get_order(order.client_order_id)
                if existing is not None:
                    return existing
            if response.status_code in (403, 422):
                # Refused (buying power, unknown or untradable symbol ...): no order exists.
                return OrderStatus(
                    broker_order_id="",
                    client_order_id=order.client_order_id,
                    status=ORDER_REJECTED,
                    quantity=Decimal(order.quantity),
                    message=message,
                )
            raise BrokerError(f"Order refused: HTTP {response.status_code} {message}")
        existing = self.get_order(order.client_order_id)
        if existing is not None:
            return existing
        raise BrokerTimeout(
            f"The broker did not answer the order {order.client_order_id} after {self.retries + 1} tries."
        )

    def cancel_order(self, client_order_id: str) -> OrderStatus:
        current = self.get_order(client_order_id)
        if current is None:
            raise BrokerError(f"No order {client_order_id} at the broker.")
        if current.is_terminal:
            return current
        response = self._request("DELETE", f"/v2/orders/{current.broker_order_id}")
        if response.status_code not in (200, 204, 422):  # 422: already filled/cancelled
            raise BrokerError(
                f"Cancel failed: HTTP {response.status_code} {self._message(response)}"
            )
        final = self.get_order(client_order_id)
        assert final is not None
        return final

    @staticmethod
    def _message(response: httpx.Response) -> str:
        try:
            return str(response.json().get("message", response.text))[:300]
        except ValueError:
            return response.text[:300]
