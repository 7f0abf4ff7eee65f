"""Demo data: asset classes, ~17 common ETFs with synthetic daily prices, five model
portfolios, and the demo investor's accounts and lots (seeded by `rebalancing.demo.seed_demo`,
which adds the scans' reference data and schedules). Idempotent: a second run on the same
day changes nothing; a run on a later day only adds the new days' prices. Prices reach the last
trading session before `today`, whatever day it is run (weekend, holiday), so the scans always
find fresh prices; the embedded provider's daily refresh extends them as days pass.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from allauth.account.models import EmailAddress
from django.db import connection

from accounts.models import User
from advisor.core.copy import copy_rows
from portfolios import synthetic
from portfolios.models import (
    AssetClass,
    ModelAllocation,
    ModelPortfolio,
    Portfolio,
    Price,
    Security,
)

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - the published demo account
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-2026"  # noqa: S105

ASSET_CLASSES = [
    ("us-stocks", "US stocks"),
    ("intl-developed", "International developed stocks"),
    ("emerging", "Emerging-market stocks"),
    ("us-bonds", "US bonds"),
    ("intl-bonds", "International bonds"),
    ("tips", "Inflation-protected bonds (TIPS)"),
    ("reits", "Real estate (REITs)"),
    ("gold", "Gold and commodities"),
    ("cash", "Cash and T-bills"),
]

# ticker, name, class, start price (2019-01-02), expense ratio
SECURITIES = [
    ("VTI", "Vanguard Total Stock Market ETF", "us-stocks", 128.0, "0.0003"),
    ("ITOT", "iShares Core S&P Total U.S. Stock Market ETF", "us-stocks", 58.0, "0.0003"),
    ("SCHB", "Schwab U.S. Broad Market ETF", "us-stocks", 31.0, "0.0003"),
    ("VEA", "Vanguard FTSE Developed Markets ETF", "intl-developed", 38.0, "0.0005"),
    ("IEFA", "iShares Core MSCI EAFE ETF", "intl-developed", 55.0, "0.0007"),
    ("VWO", "Vanguard FTSE Emerging Markets ETF", "emerging", 38.5, "0.0008"),
    ("IEMG", "iShares Core MSCI Emerging Markets ETF", "emerging", 47.5, "0.0009"),
    ("BND", "Vanguard Total Bond Market ETF", "us-bonds", 79.0, "0.0003"),
    ("AGG", "iShares Core U.S. Aggregate Bond ETF", "us-bonds", 106.5, "0.0003"),
    ("BNDX", "Vanguard Total International Bond ETF", "intl-bonds", 54.5, "0.0007"),
    ("IAGG", "iShares Core International Aggregate Bond ETF", "intl-bonds", 52.0, "0.0007"),
    ("SCHP", "Schwab U.S. TIPS ETF", "tips", 54.0, "0.0003"),
    ("VTIP", "Vanguard Short-Term Inflation-Protected Securities ETF", "tips", 48.0, "0.0004"),
    ("VNQ", "Vanguard Real Estate ETF", "reits", 75.0, "0.0013"),
    ("SCHH", "Schwab U.S. REIT ETF", "reits", 40.0, "0.0007"),
    ("GLD", "SPDR Gold Shares", "gold", 121.0, "0.0040"),
    ("IAU", "iShares Gold Trust", "gold", 12.3, "0.0025"),
    ("SGOV", "iShares 0-3 Month Treasury Bond ETF", "cash", 100.0, "0.0009"),
    ("BIL", "SPDR Bloomberg 1-3 Month T-Bill ETF", "cash", 91.5, "0.0014"),
]
FUNDS = [synthetic.Fund(ticker, cls, price) for ticker, _, cls, price, _ in SECURITIES]

# asset class -> (preferred, alternates used when harvesting)
PREFERRED = {
    "us-stocks": ("VTI", ["ITOT", "SCHB"]),
    "intl-developed": ("VEA", ["IEFA"]),
    "emerging": ("VWO", ["IEMG"]),
    "us-bonds": ("BND", ["AGG"]),
    "intl-bonds": ("BNDX", ["IAGG"]),
    "tips": ("SCHP", ["VTIP"]),
    "reits": ("VNQ", ["SCHH"]),
    # IAU holds the same metal as GLD (substantially identical): not a harvest replacement.
    "gold": ("GLD", []),
    "cash": ("SGOV", ["BIL"]),
}

# slug, name, risk level, description, {class: weight}
MODELS = [
    ("conservative", "Conservative", 2, "Capital preservation: mostly bonds and T-bills, a little equity.",
     {"us-stocks": "0.15", "intl-developed": "0.05", "us-bonds": "0.40", "intl-bonds": "0.10", "tips": "0.15", "cash": "0.15"}),
    ("moderately-conservative", "Moderately conservative", 4, "Income first, some growth.",
     {"us-stocks": "0.25", "intl-developed": "0.10", "emerging": "0.05", "us-bonds": "0.30", "intl-bonds": "0.10",
      "tips": "0.10", "reits": "0.05", "cash": "0.05"}),
    ("balanced", "Balanced", 6, "About 60/40 stocks to bonds and real assets.",
     {"us-stocks": "0.35", "intl-developed": "0.15", "emerging": "0.05", "us-bonds": "0.25", "intl-bonds": "0.05",
      "tips": "0.05", "reits": "0.05", "gold": "0.05"}),
    ("growth", "Growth", 8, "Mostly stocks, with a bond cushion.",
     {"us-stocks": "0.45", "intl-developed": "0.20", "emerging": "0.10", "us-bonds": "0.12", "intl-bonds": "0.03",
      "reits": "0.05", "gold": "0.05"}),
    ("aggressive", "Aggressive", 10, "All-equity growth for long horizons.",
     {"us-stocks": "0.50", "intl-developed": "0.25", "emerging": "0.15", "us-bonds": "0.05", "reits": "0.05"}),
]  # fmt: skip


@dataclass(frozen=True)
class DemoLot:
    ticker: str
    #: Days before the last close it was bought, or None: at the highest close 60..540 days back.
    held_days: int | None
    #: Its market value at the last close, in dollars (the cost basis follows from the path).
    value: int


PEAK = None


# name, tax treatment, model slug, deposit, lots. Lots are given by their age and their value at
# the last close, so the demo looks the same whatever day it is seeded on (only the gains differ).
# Every account is far off target (US stocks heavy, bonds light), so the drift check proposes
# rebalances. The taxable account's REIT, gold and TIPS lots were bought near a peak and are
# more than 5% under water; those classes are overweight in every account that targets them,
# so no pending rebalance buys them back and the harvest scan is free to harvest the losses.
ACCOUNTS = [
    ("Taxable brokerage", Portfolio.TaxTreatment.TAXABLE, "balanced", 2_500, [
        DemoLot("VTI", 2815, 22_000), DemoLot("VTI", 1989, 16_000), DemoLot("VEA", 2206, 7_000),
        DemoLot("VNQ", PEAK, 13_000), DemoLot("GLD", PEAK, 13_000), DemoLot("SCHP", PEAK, 13_000),
        DemoLot("BND", 2639, 6_000),
    ]),
    ("Traditional IRA", Portfolio.TaxTreatment.TRADITIONAL_IRA, "growth", 800, [
        DemoLot("BND", 2367, 30_000), DemoLot("BNDX", 2367, 8_000), DemoLot("VTI", 2764, 14_000),
        DemoLot("VEA", 1729, 9_000), DemoLot("GLD", 1392, 9_000), DemoLot("VNQ", 967, 7_000),
    ]),
    ("Roth IRA", Portfolio.TaxTreatment.ROTH_IRA, "aggressive", 300, [
        DemoLot("VTI", 2850, 9_000), DemoLot("VWO", 2437, 6_000), DemoLot("VEA", 2150, 4_000),
        DemoLot("VNQ", 967, 3_500),
    ]),
]  # fmt: skip
UNDER_WATER = 1.08  # a "peak" lot costs at least 8% more than the latest close


def seed_reference_data() -> dict[str, Security]:
    """Asset classes, securities and model portfolios (idempotent; no user data)."""
    classes = {}
    for order, (code, name) in enumerate(ASSET_CLASSES):
        classes[code], _ = AssetClass.objects.get_or_create(
            code=code, defaults={"name": name, "sort_order": order}
        )
    securities = {}
    for ticker, name, cls, _, expense in SECURITIES:
        securities[ticker], _ = Security.objects.get_or_create(
            ticker=ticker,
            defaults={"name": name, "asset_class": classes[cls], "expense_ratio": Decimal(expense)},
        )
    for slug, name, risk, description, weights in MODELS:
        model, _ = ModelPortfolio.objects.get_or_create(
            slug=slug, defaults={"name": name, "risk_level": risk, "description": description}
        )
        for code, weight in weights.items():
            preferred, alternates = PREFERRED[code]
            allocation, created = ModelAllocation.objects.get_or_create(
                model=model,
                asset_class=classes[code],
                defaults={"weight": Decimal(weight), "security": securities[preferred]},
            )
            if created:
                allocation.alternates.set([securities[t] for t in alternates])
    return securities


def seed_prices(securities: dict[str, Security], end: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic closes from synthetic.START to `end`; existing (security, day) rows are kept."""
    dates, closes = synthetic.fund_prices(FUNDS, end)
    days = [d.astype(dt.date) for d in dates]
    newest = dict(
        Price.objects.filter(security__in=securities.values())
        .order_by()
        .values_list("security_id")
        .annotate(newest=models_max("date"))
    )
    rows = []
    for j, fund in enumerate(FUNDS):
        security_id = securities[fund.ticker].pk
        after = newest.get(security_id)
        for day, close in zip(days, closes[:, j], strict=True):
            if after is None or day > after:
                rows.append((security_id, day, f"{close:.2f}", "demo"))
    if connection.vendor == "postgresql":
        # Only days after each security's newest close are sent, so COPY meets no conflict.
        copy_rows(Price._meta.db_table, ["security_id", "date", "close", "source"], rows)
    else:
        Price.objects.bulk_create(
            [Price(security_id=s, date=d, close=Decimal(c), source=src) for s, d, c, src in rows],
            batch_size=5000,
            ignore_conflicts=True,
        )
    return dates, closes


def models_max(field: str):
    from django.db.models import Max

    return Max(field)


def user(email: str, password: str, **extra: object) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, **extra)
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def lot_purchase(
    lot: DemoLot, dates: np.ndarray, closes: np.ndarray, end: dt.date
) -> tuple[dt.date, Decimal, Decimal]:
    """(day bought, price paid, quantity) of a demo lot worth `lot.value` at the last close."""
    j = [f.ticker for f in FUNDS].index(lot.ticker)
    series = closes[:, j]
    if lot.held_days is PEAK:
        window = (dates >= np.datetime64(end - dt.timedelta(days=540))) & (
            dates <= np.datetime64(end - dt.timedelta(days=60))
        )
        i = int(np.flatnonzero(window)[np.argmax(series[window])])
        price = max(series[i], series[-1] * UNDER_WATER)
    else:
        bought = np.datetime64(end - dt.timedelta(days=lot.held_days))
        i = min(int(np.searchsorted(dates, bought)), len(dates) - 1)
        price = series[i]
    quantity = (Decimal(lot.value) / Decimal(f"{series[-1]:.2f}")).quantize(Decimal("0.0001"))
    return dates[i].astype(dt.date), Decimal(f"{price:.2f}"), quantity
