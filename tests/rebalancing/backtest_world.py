"""A small market for backtest and stress tests, built on the suite clock: two funds whose
closes grow in straight lines over the last DAYS calendar days (stocks 100 -> 130, bonds
50 -> 52.50), a 60/40 account holding 60 stocks and 80 bonds (worth 12,000 at the last
close), and an investor whose questionnaire says "worst -12%".

Buy and hold from the first close is worth 12,000 x (0.6 x 1.30 + 0.4 x 1.05) = 14,400 on the
last one (no costs), a gain of 2,400 held for more than a year.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from accounts import questionnaire
from accounts.models import InvestorProfile, Question, User
from portfolios import market_calendar
from portfolios.models import AssetClass, Portfolio, Price, Security, TargetAllocation, TaxLot
from portfolios.onboarding import services as onboarding
from rebalancing.models import RebalancePolicy

DAYS = 400
INITIAL = 12_000.0
BUY_AND_HOLD_END = 14_400.0


@dataclass
class BacktestWorld:
    user: User
    portfolio: Portfolio
    stocks: Security
    bonds: Security
    dates: np.ndarray


def _line(start: float, end: float, n: int) -> np.ndarray:
    return start + (end - start) * np.arange(n) / (n - 1)


def make_backtest_world(user: User, today: dt.date, *, taxable: bool = True) -> BacktestWorld:
    stock_class, _ = AssetClass.objects.get_or_create(
        code="us-stocks", defaults={"name": "US stocks"}
    )
    bond_class, _ = AssetClass.objects.get_or_create(code="us-bonds", defaults={"name": "US bonds"})
    stocks, _ = Security.objects.get_or_create(
        ticker="STK", defaults={"name": "Stock fund", "asset_class": stock_class}
    )
    bonds, _ = Security.objects.get_or_create(
        ticker="BON", defaults={"name": "Bond fund", "asset_class": bond_class}
    )
    dates = market_calendar.sessions(today - dt.timedelta(days=DAYS), today - dt.timedelta(days=1))
    n = len(dates)
    rows = []
    for security, closes in ((stocks, _line(100.0, 130.0, n)), (bonds, _line(50.0, 52.5, n))):
        rows += [
            Price(security=security, date=day.item(), close=Decimal(f"{close:.6f}"))
            for day, close in zip(dates, closes, strict=True)
        ]
    Price.objects.bulk_create(rows)
    portfolio = Portfolio.objects.create(
        owner=user, name="Backtested account",
        tax_treatment=Portfolio.TaxTreatment.TAXABLE if taxable else Portfolio.TaxTreatment.ROTH_IRA,
    )  # fmt: skip
    for security, klass, weight in ((stocks, stock_class, "0.6"), (bonds, bond_class, "0.4")):
        TargetAllocation.objects.create(
            portfolio=portfolio, asset_class=klass, security=security, weight=Decimal(weight)
        )
    acquired = dates[0].item()
    for security, quantity, cost in ((stocks, "60", "6000.00"), (bonds, "80", "4000.00")):
        TaxLot.objects.create(
            portfolio=portfolio, security=security, quantity=Decimal(quantity),
            original_quantity=Decimal(quantity), cost_basis=Decimal(cost),
            acquired_on=acquired, holding_start=acquired,
        )  # fmt: skip
    # No cash kept back and no calendar: buy and hold and the bands are exact to the cent.
    RebalancePolicy.objects.create(
        portfolio=portfolio, cash_buffer=Decimal("0"), min_trade_amount=Decimal("0"),
        absolute_band=Decimal("0.05"), relative_band=None,
    )  # fmt: skip
    InvestorProfile.objects.update_or_create(
        user=user,
        defaults={"short_term_tax_rate": Decimal("0.30"), "long_term_tax_rate": Decimal("0.20")},
    )
    return BacktestWorld(user, portfolio, stocks, bonds, dates)


def answer_questionnaire(user: User, *, outcome: str = "r2") -> None:
    """The default questionnaire with the first option everywhere, and `outcome` for the range
    of one-year results (r2: "Best +15%, worst -12%")."""
    version = questionnaire.ensure_default_questionnaire()
    selections = {}
    for q in version.questions.prefetch_related("options"):
        if q.kind != Question.Kind.CHOICE:
            continue
        options = list(q.options.all())
        chosen = next((o for o in options if o.code == outcome), options[0])
        selections[q.code] = (chosen if q.code == questionnaire.LOSS_QUESTION else options[0]).pk
    onboarding.submit_assessment(
        user, questionnaire_version=version, selections=selections, amount=Decimal("12000")
    )
