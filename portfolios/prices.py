"""Price services: pull daily closes from the configured provider and store them.

`refresh_prices` is idempotent: it asks for the days after each security's newest stored
close and upserts on the unique (security, date), so running it twice, or in two workers at
once, stores each close once.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Max

from advisor.core import clock
from portfolios import market_calendar, providers
from portfolios.models import Price, Security

DEFAULT_LOOKBACK_DAYS = 30
UPSERT_BATCH = 5000


@dataclass
class RefreshSummary:
    provider: str
    securities: int = 0
    stored: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    missing_days: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "securities": self.securities,
            "stored": self.stored,
            "errors": self.errors,
            "missing_days": self.missing_days,
        }


def upsert_prices(rows: list[Price]) -> int:
    """Insert or update closes on (security, date); returns the number of rows sent."""
    Price.objects.bulk_create(
        rows,
        batch_size=UPSERT_BATCH,
        update_conflicts=True,
        unique_fields=["security", "date"],
        update_fields=["close", "adjusted_close", "source"],
    )
    return len(rows)


def refresh_prices(
    *,
    provider: providers.PriceProvider | None = None,
    through: dt.date | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> RefreshSummary:
    """Fetch and store the closes every active security is missing up to `through`: by default
    the newest session whose close has passed (never a close for a session still trading, which
    a provider would answer with an intraday price).

    A ticker the provider fails on is reported in `errors` and the others are still stored.
    Raises PriceFeedError only when every fetch failed in a way a retry may fix (timeouts,
    connection errors, 5xx: the provider is down), so the task's retry applies; a ticker the
    provider does not know, or answers with garbage for, is reported and not retried.
    """
    provider = provider or providers.get_provider()
    through = through or market_calendar.last_closed_session(clock.now())
    securities = list(Security.objects.filter(is_active=True).values_list("id", "ticker"))
    newest = dict(
        Price.objects.filter(security_id__in=[s for s, _ in securities])
        .values("security_id")
        .annotate(newest=Max("date"))
        .values_list("security_id", "newest")
    )
    summary = RefreshSummary(provider=provider.name, securities=len(securities))
    by_start: dict[dt.date, list[tuple[int, str]]] = defaultdict(list)
    for security_id, ticker in securities:
        last = newest.get(security_id)
        start = last + dt.timedelta(days=1) if last else through - dt.timedelta(days=lookback_days)
        if start <= through:
            by_start[start].append((security_id, ticker))
    if not by_start:
        return summary
    rows: list[Price] = []
    transient: set[str] = set()
    for start, group in sorted(by_start.items()):
        ids = dict((ticker, sid) for sid, ticker in group)
        result = provider.daily_closes(list(ids), start, through)
        summary.errors.update(result.errors)
        transient |= result.transient
        # Sessions the provider skipped: reported only.
        expected = len(market_calendar.sessions(start, through))
        for ticker, bars in result.bars.items():
            if ticker not in ids:
                continue
            rows += [
                Price(security_id=ids[ticker], date=bar.date, close=bar.close,
                      adjusted_close=bar.adjusted_close, source=provider.name)
                for bar in bars
            ]  # fmt: skip
            got = sum(1 for bar in bars if bar.date <= through)
            if expected - got > 0:
                summary.missing_days[ticker] = int(expected - got)
    if not rows and transient and len(transient) == sum(len(g) for g in by_start.values()):
        raise providers.PriceFeedError(
            f"{provider.name}: no prices for any of {len(summary.errors)} securities; "
            + "; ".join(f"{t}: {e}" for t, e in list(summary.errors.items())[:3])
        )
    summary.stored = upsert_prices(rows)
    return summary
