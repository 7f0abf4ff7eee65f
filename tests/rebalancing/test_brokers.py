"""Broker adapters: the paper broker's fill model, and the Alpaca-style REST adapter against a
local fake server started by the test (rejects, partial fills, timeouts, retries)."""

import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from portfolios.models import Transaction
from rebalancing.brokers import BrokerTimeout, OrderRequest, get_broker
from rebalancing.brokers.alpaca import AlpacaBroker
from rebalancing.brokers.paper import PaperBroker, fill_price
from rebalancing.models import PaperOrder, Proposal
from rebalancing.services import approval, execution
from tests.factories import PriceFactory, SecurityFactory
from tests.rebalancing.proposal_data import drifted_household

# --- the paper broker -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("close", "side", "bps", "expected"),
    [
        ("100", "buy", 5, "100.050000"),  # 100 x 1.0005
        ("100", "sell", 5, "99.950000"),  # 100 x 0.9995
        ("37.25", "buy", 12.5, "37.296563"),  # 37.25 x 1.00125 = 37.2965625 -> half up
        ("50", "sell", 0, "50.000000"),
    ],
)
def test_paper_fill_price_moves_against_the_investor(close, side, bps, expected):
    assert fill_price(Decimal(close), side, bps) == Decimal(expected)


@pytest.mark.django_db
def test_paper_broker_fills_partially_is_idempotent_and_cancels():
    security = SecurityFactory(ticker="VXUS")
    PriceFactory(security=security, close=Decimal("60"))
    broker = PaperBroker(slippage_bps=10, commission=1.5, max_fill=7)
    order = OrderRequest("p1-0-buy-1", "VXUS", "buy", Decimal("10"))

    first = broker.place_order(order)
    assert first.status == "partially_filled" and not first.is_terminal
    assert first.filled_quantity == Decimal("7") and first.avg_fill_price == Decimal("60.060000")
    assert first.commission == Decimal("1.50")
    again = broker.place_order(order)  # a retry with the same client order id
    assert again.broker_order_id == first.broker_order_id
    assert PaperOrder.objects.count() == 1

    cancelled = broker.cancel_order("p1-0-buy-1")
    assert cancelled.status == "canceled" and cancelled.filled_quantity == Decimal("7")
    assert broker.get_order("p1-0-buy-1").status == "canceled"
    assert broker.get_order("never-sent") is None


@pytest.mark.django_db
def test_paper_broker_rejects_unknown_symbols_and_fractions_of_whole_share_securities():
    SecurityFactory(ticker="BRK", allows_fractional=False)
    broker = PaperBroker()
    unknown = broker.place_order(OrderRequest("k1", "NOPE", "buy", Decimal("1")))
    assert unknown.status == "rejected" and "Unknown symbol NOPE" in unknown.message
    fraction = broker.place_order(OrderRequest("k2", "BRK", "buy", Decimal("1.5")))
    assert fraction.status == "rejected" and "whole shares" in fraction.message
    no_price = broker.place_order(OrderRequest("k3", "BRK", "buy", Decimal("1")))
    assert no_price.status == "rejected" and "No price" in no_price.message


def test_get_broker_follows_the_setting(settings):
    settings.ADVISOR_BROKER = "paper"
    assert get_broker().name == "paper"
    settings.ADVISOR_BROKER = "alpaca"
    settings.ADVISOR_BROKER_URL = "http://127.0.0.1:9"
    assert get_broker().name == "alpaca"


# --- a fake Alpaca-style server ---------------------------------------------------------------


class FakeAlpaca:
    """Orders API: POST /v2/orders, GET /v2/orders:by_client_order_id, DELETE /v2/orders/{id}.

    Behaviour by symbol: REJ -> 403; PART -> half filled, open; SLOW -> the order is created
    but the answer comes after `slow_seconds`; HANG -> every request sleeps; FLAKY -> the first
    POST answers 503. Anything else fills at 101.25.
    """

    def __init__(self) -> None:
        self.orders: dict[str, dict] = {}
        self.posts = 0
        self.created = 0
        self.slow_seconds = 1.0
        self.flaky_left = 1
        self.hang = False
        self.auth: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: dict | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:
                fake.auth.append(
                    (self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY"))
                )
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.posts += 1
                if fake.hang:
                    time.sleep(2)
                    return self._send(500)
                symbol, cid = body["symbol"], body["client_order_id"]
                if symbol == "FLAKY" and fake.flaky_left:
                    fake.flaky_left -= 1
                    return self._send(503, {"message": "service unavailable"})
                if symbol == "REJ":
                    return self._send(
                        403, {"code": 40310000, "message": "insufficient buying power"}
                    )
                if cid in fake.orders:
                    return self._send(
                        422, {"code": 40010001, "message": "client_order_id must be unique"}
                    )
                qty = Decimal(body["qty"])
                order = {
                    "id": f"ord-{len(fake.orders) + 1}",
                    "client_order_id": cid,
                    "symbol": symbol,
                    "qty": body["qty"],
                    "side": body["side"],
                    "status": "filled",
                    "filled_qty": body["qty"],
                    "filled_avg_price": "101.25",
                }
                if symbol == "PART":
                    order.update(status="partially_filled", filled_qty=str(qty / 2))
                fake.orders[cid] = order
                fake.created += 1
                if symbol == "SLOW":
                    time.sleep(fake.slow_seconds)
                return self._send(200, order)

            def do_GET(self) -> None:
                if fake.hang:
                    time.sleep(2)
                    return self._send(500)
                url = urlparse(self.path)
                if url.path == "/v2/orders:by_client_order_id":
                    cid = parse_qs(url.query)["client_order_id"][0]
                    order = fake.orders.get(cid)
                    return (
                        self._send(200, order)
                        if order
                        else self._send(404, {"message": "order not found"})
                    )
                return self._send(404, {"message": "not found"})

            def do_DELETE(self) -> None:
                order_id = self.path.rsplit("/", 1)[-1]
                for order in fake.orders.values():
                    if order["id"] == order_id:
                        if order["status"] in ("filled", "canceled"):
                            return self._send(422, {"message": "order is not cancelable"})
                        order["status"] = "canceled"
                        return self._send(204)
                return self._send(404, {"message": "order not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeAlpaca":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    with FakeAlpaca() as server:
        yield server


def _broker(fake: FakeAlpaca, timeout: float = 2.0) -> AlpacaBroker:
    return AlpacaBroker(fake.url, "key-id", "secret", timeout=timeout, retries=2, backoff=0.01)


def test_alpaca_places_a_market_order_with_our_client_order_id(fake):
    status = _broker(fake).place_order(OrderRequest("p9-0-buy-3", "VTI", "buy", Decimal("4")))
    assert status.status == "filled" and status.is_terminal
    assert status.filled_quantity == Decimal("4") and status.avg_fill_price == Decimal("101.25")
    assert status.client_order_id == "p9-0-buy-3" and status.broker_order_id == "ord-1"
    assert fake.auth == [("key-id", "secret")]


def test_alpaca_same_client_order_id_twice_makes_one_order(fake):
    broker = _broker(fake)
    order = OrderRequest("p9-1-sell-3", "VTI", "sell", Decimal("2"))
    first = broker.place_order(order)
    second = broker.place_order(order)  # the server answers 422 duplicate; we look it up
    assert first.broker_order_id == second.broker_order_id
    assert fake.created == 1 and fake.posts == 2


def test_alpaca_lost_answer_is_resolved_by_lookup_not_a_second_order(fake):
    fake.slow_seconds = 1.0
    status = _broker(fake, timeout=0.3).place_order(
        OrderRequest("slow-1", "SLOW", "buy", Decimal("3"))
    )
    assert status.status == "filled" and status.client_order_id == "slow-1"
    assert fake.created == 1 and fake.posts == 1  # found by client order id before any re-POST


def test_alpaca_that_never_answers_raises_broker_timeout(fake):
    fake.hang = True
    with pytest.raises(BrokerTimeout):
        _broker(fake, timeout=0.2).place_order(OrderRequest("hang-1", "VTI", "buy", Decimal("1")))


def test_alpaca_reject_comes_back_as_a_rejected_order(fake):
    status = _broker(fake).place_order(OrderRequest("rej-1", "REJ", "buy", Decimal("1")))
    assert status.status == "rejected" and status.is_terminal
    assert status.message == "insufficient buying power" and status.filled_quantity == 0


def test_alpaca_partial_fill_then_cancel(fake):
    broker = _broker(fake)
    status = broker.place_order(OrderRequest("part-1", "PART", "buy", Decimal("10")))
    assert status.status == "partially_filled" and status.filled_quantity == Decimal("5")
    final = broker.cancel_order("part-1")
    assert final.status == "canceled" and final.filled_quantity == Decimal("5")


def test_alpaca_retries_a_503(fake):
    status = _broker(fake).place_order(OrderRequest("flaky-1", "FLAKY", "buy", Decimal("1")))
    assert status.status == "filled" and fake.posts == 2 and fake.created == 1


@pytest.mark.django_db
def test_a_proposal_executes_through_the_alpaca_adapter(fake, user, settings):
    settings.ADVISOR_BROKER_POLL_INTERVAL = 0.01
    house = drifted_household(user, cash="5000.00")
    approval.approve_proposal(house.proposal.pk, by=user)

    assert (
        execution.execute_proposal(house.proposal.pk, broker=_broker(fake))
        == Proposal.Status.EXECUTED
    )
    assert fake.created == 2
    fills = Transaction.objects.filter(portfolio=house.portfolio, source="broker").order_by("id")
    assert [(t.kind, t.price) for t in fills] == [
        ("sell", Decimal("101.25")),
        ("buy", Decimal("101.25")),
    ]
    house.portfolio.refresh_from_db()
    # 5,000 + 20 x 101.25 - 48 x 101.25 = 2,165.00
    assert house.portfolio.cash == Decimal("2165.00")
    # again: nothing more is sent
    assert (
        execution.execute_proposal(house.proposal.pk, broker=_broker(fake))
        == Proposal.Status.EXECUTED
    )
    assert fake.created == 2 and fake.posts == 2
