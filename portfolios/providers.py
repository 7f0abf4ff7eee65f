"""Market-data providers: where daily closes come from.

`get_provider()` returns the one configured by ADVISOR_MARKET_DATA_PROVIDER:

- ``embedded`` (default, offline): the deterministic synthetic market of the demo universe
  (portfolios/synthetic.py); other tickers get their prices from CSV imports only.
- ``tiingo``: a Tiingo-shaped daily-prices JSON API over HTTP
  (``GET {URL}/tiingo/daily/{ticker}/prices?startDate=..&endDate=..`` returning
  ``[{"date": "2026-11-20T00:00:00.000Z", "close": 1.0, "adjClose": 1.0}, ...]``),
  with ADVISOR_MARKET_DATA_URL / _API_KEY (optional) / _TIMEOUT.
"""

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Protocol

import httpx
from django.conf import settings

from portfolios import synthetic

log = logging.getLogger(__name__)
PRICE_PLACES = Decimal("0.000001")


class PriceFeedError(RuntimeError):
    """The provider could not deliver (network, server error, malformed answer)."""


@dataclass(frozen=True)
class Bar:
    date: dt.date
    close: Decimal
    adjusted_close: Decimal | None = None


@dataclass
class FetchResult:
    """Bars per ticker, and per-ticker problems (the other tickers still count)."""

    bars: dict[str, list[Bar]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: Tickers whose error may go away on a retry (timeouts, connection errors, 5xx, 429).
    transient: set[str] = field(default_factory=set)


class PriceProvider(Protocol):
    name: str

    def daily_closes(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        """Closes for each ticker on the trading days from start to end inclusive. A day the
        provider does not have is simply absent (never invented)."""
        ...


# --- embedded (offline) ----------------------------------------------------------------------


class EmbeddedProvider:
    """Offline: the synthetic demo market. Tickers outside it are reported, not invented."""

    name = "embedded"

    def __init__(self, funds: Sequence[synthetic.Fund] | None = None) -> None:
        from portfolios import demo

        self.funds = {f.ticker: f for f in (funds or demo.FUNDS)}

    def daily_closes(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        result = FetchResult()
        wanted = [self.funds[t] for t in tickers if t in self.funds]
        for ticker in tickers:
            if ticker not in self.funds:
                result.errors[ticker] = "not in the offline market; import its prices from CSV"
        if not wanted or end < synthetic.START:
            return result
        dates, closes = synthetic.fund_prices(wanted, end)
        keep = dates >= max(start, synthetic.START)
        days = [d.astype(dt.date) for d in dates[keep]]
        for j, fund in enumerate(wanted):
            result.bars[fund.ticker] = [
                Bar(day, Decimal(str(close)).quantize(PRICE_PLACES))
                for day, close in zip(days, closes[keep, j], strict=True)
            ]
        return result


# --- HTTP (Tiingo-shaped) --------------------------------------------------------------------


class TiingoProvider:
    """Daily closes from a Tiingo-compatible JSON API, one request per ticker.

    Timeouts, connection errors, 429 and 5xx are retried with exponential backoff
    (`backoff * 2**attempt` seconds); 404 means the provider does not know the ticker; a body
    that is not the expected JSON list is a per-ticker error. Rows with a missing or
    non-positive close are dropped, never guessed.
    """

    name = "tiingo"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "",
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url:
            raise PriceFeedError("ADVISOR_MARKET_DATA_URL is not set for the tiingo provider.")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.transport = transport

    def _client(self) -> httpx.Client:
        headers = {"Accept": "application/json", "User-Agent": "robo-advisor/0.1"}
        if self.api_key:
            headers["Authorization"] = f"Token {self.api_key}"
        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(self.timeout),
            transport=self.transport,
        )

    def _get(self, client: httpx.Client, path: str, params: dict[str, str]) -> httpx.Response:
        last: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = client.get(path, params=params)
            except httpx.TimeoutException:
                last = f"timed out after {self.timeout:g}s"
                continue
            except httpx.TransportError as exc:
                last = f"connection failed: {exc.__class__.__name__}"
                continue
            if response.status_code == 429 or response.status_code >= 500:
                last = f"HTTP {response.status_code}"
                continue
            return response
        raise PriceFeedError(f"{last} (after {self.retries + 1} attempts)")

    def daily_closes(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        result = FetchResult()
        params = {"startDate": start.isoformat(), "endDate": end.isoformat(), "format": "json"}
        with self._client() as client:
            for ticker in tickers:
                try:
                    response = self._get(client, f"/tiingo/daily/{ticker.lower()}/prices", params)
                except PriceFeedError as exc:
                    result.errors[ticker] = str(exc)
                    result.transient.add(ticker)
                    continue
                if response.status_code == 404:
                    result.errors[ticker] = "unknown to the provider (HTTP 404)"
                    continue
                if response.status_code != 200:
                    result.errors[ticker] = f"HTTP {response.status_code}"
                    continue
                try:
                    result.bars[ticker] = parse_tiingo(response.json(), start=start, end=end)
                except (ValueError, TypeError, KeyError) as exc:
                    result.errors[ticker] = f"malformed response: {exc}"
        return result


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or number <= 0:
        return None
    return number.quantize(PRICE_PLACES)


def parse_tiingo(payload: object, *, start: dt.date, end: dt.date) -> list[Bar]:
    """Tiingo JSON -> bars in [start, end], sorted, one per date; bad rows are dropped."""
    if not isinstance(payload, list):
        raise ValueError(f"expected a JSON list, got {type(payload).__name__}")
    bars: dict[dt.date, Bar] = {}
    for item in payload:
        if not isinstance(item, dict) or "date" not in item:
            raise ValueError("a row without a date")
        day = dt.date.fromisoformat(str(item["date"])[:10])
        close = _decimal(item.get("close"))
        if close is None or not start <= day <= end:
            continue
        bars[day] = Bar(day, close, _decimal(item.get("adjClose")))
    return [bars[d] for d in sorted(bars)]


def get_provider(name: str | None = None) -> PriceProvider:
    name = (name or settings.ADVISOR_MARKET_DATA_PROVIDER).lower()
    if name == "embedded":
        return EmbeddedProvider()
    if name in ("tiingo", "http"):
        return TiingoProvider(
            settings.ADVISOR_MARKET_DATA_URL,
            api_key=settings.ADVISOR_MARKET_DATA_API_KEY,
            timeout=settings.ADVISOR_MARKET_DATA_TIMEOUT,
        )
    raise PriceFeedError(f"Unknown market-data provider {name!r} (use 'embedded' or 'tiingo').")
