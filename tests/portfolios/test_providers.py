"""Price providers and the refresh task, against a local fake Tiingo-shaped HTTP server."""

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from advisor.core import clock
from portfolios import market_calendar, prices, providers, synthetic, tasks
from portfolios.models import Price, Security
from tests.factories import AssetClassFactory, SecurityFactory

DAYS = [
    "2026-11-16",
    "2026-11-17",
    "2026-11-18",
    "2026-11-19",
    "2026-11-20",
    "2026-11-23",
    "2026-11-24",
]


class FakeTiingo(BaseHTTPRequestHandler):
    """Behaviour by ticker: vti ok; gap misses 11-18; flaky 500s twice then ok; down always
    500; slow sleeps past the timeout; junk is not JSON; notalist is a JSON object; nope 404."""

    hits: Counter = Counter()
    auth: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")  # tiingo/daily/<ticker>/prices
        ticker = parts[2]
        query = parse_qs(url.query)
        start, end = query["startDate"][0], query["endDate"][0]
        self.hits[ticker] += 1
        self.auth.append(self.headers.get("Authorization", ""))
        days = [d for d in DAYS if start <= d <= end]
        rows = [
            {"date": f"{d}T00:00:00.000Z", "close": 100 + i, "adjClose": 99 + i}
            for i, d in enumerate(days)
        ]
        if ticker == "gap":
            rows = [r for r in rows if not r["date"].startswith("2026-11-18")]
            for r in rows:
                if r["date"].startswith("2026-11-19"):
                    r["close"] = None  # a null close is dropped too, never guessed
        if (ticker == "flaky" and self.hits[ticker] <= 2) or ticker == "down":
            self._send(500, b'{"detail": "internal error"}')
        elif ticker == "slow":
            time.sleep(0.6)
            self._send(200, json.dumps(rows).encode())
        elif ticker == "junk":
            self._send(200, b"<html>rate limited</html>")
        elif ticker == "notalist":
            self._send(200, b'{"detail": "Error: ticker not found"}')
        elif ticker == "nope":
            self._send(404, b'{"detail": "Not found"}')
        else:
            self._send(200, json.dumps(rows).encode())


@pytest.fixture
def fake_server() -> Iterator[str]:
    FakeTiingo.hits = Counter()
    FakeTiingo.auth = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTiingo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def provider(url: str, **kwargs: object) -> providers.TiingoProvider:
    options = {"api_key": "secret-key", "timeout": 0.3, "retries": 2, "backoff": 0.01, **kwargs}
    return providers.TiingoProvider(url, **options)  # type: ignore[arg-type]


START, END = dt.date(2026, 11, 16), dt.date(2026, 11, 24)


def test_closes_are_parsed_as_decimals_with_the_token_sent(fake_server: str) -> None:
    result = provider(fake_server).daily_closes(["VTI"], START, END)
    bars = result.bars["VTI"]
    assert [b.date.isoformat() for b in bars] == DAYS
    assert bars[0].close == Decimal("100.000000") and bars[0].adjusted_close == Decimal("99.000000")
    assert FakeTiingo.auth == ["Token secret-key"]


def test_server_errors_are_retried_with_backoff_and_then_succeed(fake_server: str) -> None:
    result = provider(fake_server).daily_closes(["FLAKY"], START, END)
    assert len(result.bars["FLAKY"]) == len(DAYS)
    assert FakeTiingo.hits["flaky"] == 3


@pytest.mark.parametrize(
    ("ticker", "error", "attempts"),
    [
        ("DOWN", "HTTP 500 (after 3 attempts)", 3),
        ("SLOW", "timed out after 0.3s (after 3 attempts)", 3),
        ("JUNK", "malformed response", 1),
        ("NOTALIST", "malformed response: expected a JSON list, got dict", 1),
        ("NOPE", "unknown to the provider (HTTP 404)", 1),
    ],
)
def test_failures_are_reported_per_ticker(
    fake_server: str, ticker: str, error: str, attempts: int
) -> None:
    result = provider(fake_server).daily_closes([ticker, "VTI"], START, END)
    assert error in result.errors[ticker]
    assert ticker not in result.bars
    assert len(result.bars["VTI"]) == len(DAYS)  # the other ticker is unaffected
    assert FakeTiingo.hits[ticker.lower()] == attempts


def test_an_unreachable_server_is_a_feed_error(fake_server: str) -> None:
    result = provider("http://127.0.0.1:9", retries=1).daily_closes(["VTI"], START, END)
    assert "connection failed" in result.errors["VTI"]


@pytest.fixture
def tickers(db: None) -> list[Security]:
    cls = AssetClassFactory(code="us-stocks")
    return [SecurityFactory(ticker=t, asset_class=cls) for t in ("VTI", "GAP", "JUNK")]


def test_refresh_stores_what_came_back_reports_gaps_and_is_idempotent(
    fake_server: str, tickers: list
) -> None:
    feed = provider(fake_server)
    summary = prices.refresh_prices(provider=feed, through=END, lookback_days=8)
    assert summary.errors.keys() == {"JUNK"}
    # 11-16..11-24 are 7 sessions; GAP lacks 11-18 and 11-19 (a null close).
    assert summary.missing_days == {"GAP": 2}
    assert Price.objects.filter(security__ticker="VTI").count() == 7
    assert Price.objects.filter(security__ticker="GAP").count() == 5
    assert not Price.objects.filter(security__ticker="GAP", date=dt.date(2026, 11, 18)).exists()
    snapshot = list(
        Price.objects.order_by("security_id", "date").values_list("security_id", "date", "close")
    )
    again = prices.refresh_prices(provider=feed, through=END, lookback_days=8)
    assert again.stored == 0  # every security is up to date (JUNK still failing)
    assert (
        list(
            Price.objects.order_by("security_id", "date").values_list(
                "security_id", "date", "close"
            )
        )
        == snapshot
    )


def test_refresh_raises_for_a_retry_when_the_provider_is_down(fake_server: str, db: None) -> None:
    SecurityFactory(ticker="DOWN")
    with pytest.raises(providers.PriceFeedError, match="no prices for any of 1 securities"):
        prices.refresh_prices(provider=provider(fake_server, retries=0), through=END)
    assert Price.objects.count() == 0


def test_get_provider_reads_the_settings(fake_server: str, settings: object) -> None:
    settings.ADVISOR_MARKET_DATA_PROVIDER = "tiingo"  # type: ignore[attr-defined]
    settings.ADVISOR_MARKET_DATA_URL = fake_server  # type: ignore[attr-defined]
    settings.ADVISOR_MARKET_DATA_API_KEY = ""  # type: ignore[attr-defined]
    settings.ADVISOR_MARKET_DATA_TIMEOUT = 2.5  # type: ignore[attr-defined]
    feed = providers.get_provider()
    assert isinstance(feed, providers.TiingoProvider) and feed.timeout == 2.5
    feed.daily_closes(["VTI"], START, END)
    assert FakeTiingo.auth == [""]  # no key configured: no Authorization header
    settings.ADVISOR_MARKET_DATA_PROVIDER = "embedded"  # type: ignore[attr-defined]
    assert isinstance(providers.get_provider(), providers.EmbeddedProvider)


def test_the_embedded_provider_extends_the_demo_market_without_changing_the_past() -> None:
    feed = providers.EmbeddedProvider()
    short = feed.daily_closes(["VTI", "XYZ"], dt.date(2026, 11, 2), dt.date(2026, 11, 13))
    longer = feed.daily_closes(["VTI"], dt.date(2026, 11, 2), dt.date(2026, 11, 24))
    assert "XYZ" in short.errors
    assert short.bars["VTI"] == longer.bars["VTI"][: len(short.bars["VTI"])]
    assert longer.bars["VTI"][-1].date == dt.date(2026, 11, 24)
    assert all(market_calendar.is_session(b.date) for b in longer.bars["VTI"])
    assert dt.date(2026, 11, 11) in [b.date for b in longer.bars["VTI"]]  # Veterans Day trades


def test_the_synthetic_market_has_realistic_volatility_correlation_and_a_crash() -> None:
    import numpy as np

    funds = [synthetic.Fund("VTI", "us-stocks", 100), synthetic.Fund("ITOT", "us-stocks", 50),
             synthetic.Fund("BND", "us-bonds", 80)]  # fmt: skip
    dates, closes = synthetic.fund_prices(funds, dt.date(2026, 11, 24))
    calm = dates > np.datetime64("2021-01-01")
    r = np.diff(np.log(closes[calm]), axis=0)
    vol = r.std(axis=0) * np.sqrt(252)
    assert 0.12 < vol[0] < 0.21 and 0.03 < vol[2] < 0.08  # ~16% stocks, ~5.5% bonds a year
    corr = np.corrcoef(r.T)
    assert corr[0, 1] > 0.95  # two total-market funds move together (harvest replacements)
    assert abs(corr[0, 2]) < 0.2
    i0, i1 = (
        np.searchsorted(dates, np.datetime64(synthetic.CRASH[0])),
        np.searchsorted(dates, np.datetime64(synthetic.CRASH[1])),
    )
    assert closes[i1, 0] / closes[i0, 0] - 1 < -0.2  # a crash of more than 20% in five weeks


@pytest.mark.celery_worker
def test_the_refresh_task_runs_in_a_real_worker_twice_without_duplicates(
    celery_worker: object,
) -> None:
    from tests.conftest import wait_for

    cls = AssetClassFactory(code="us-stocks")
    SecurityFactory(ticker="VTI", asset_class=cls)
    SecurityFactory(ticker="BND", asset_class=cls)
    tasks.refresh_prices.delay()
    tasks.refresh_prices.delay()  # two at once in a pool of two: the upsert keeps one row per day
    # The embedded provider looks back 30 days from the newest close: every session of them.
    through = market_calendar.last_closed_session(clock.now())
    sessions = len(market_calendar.sessions(through - dt.timedelta(days=30), through))
    wait_for(lambda: Price.objects.filter(security__ticker="BND").count() == sessions, timeout=60)
    time.sleep(1.0)
    n = Price.objects.count()
    assert n == Price.objects.values("security_id", "date").distinct().count()
    result = tasks.refresh_prices()  # and a third time, in-process: nothing new
    assert result["stored"] == 0
    assert Price.objects.count() == n


def test_the_refresh_prices_command_uses_the_embedded_provider_offline(db: None) -> None:
    from io import StringIO

    from django.core.management import call_command

    cls = AssetClassFactory(code="us-stocks")
    SecurityFactory(ticker="VTI", asset_class=cls)
    SecurityFactory(ticker="NOTDEMO", asset_class=cls)
    out, err = StringIO(), StringIO()
    call_command("refresh_prices", provider="embedded", stdout=out, stderr=err)
    through = market_calendar.last_closed_session(clock.now())
    stored = Price.objects.filter(security__ticker="VTI", source="embedded")
    assert stored.count() == len(market_calendar.sessions(through - dt.timedelta(days=30), through))
    assert stored.order_by("-date").first().date == through
    assert not Price.objects.filter(security__ticker="NOTDEMO").exists()
    assert "NOTDEMO: not in the offline market" in err.getvalue()
