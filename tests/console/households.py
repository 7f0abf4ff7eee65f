"""Crafted households for the console: a clean one that raises no flag, and one mutation per
flag that raises exactly that flag (numbers worked by hand in each docstring)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from accounts.models import Questionnaire, RiskAssessment, User
from advisor.core import clock
from portfolios.models import LotSale, Portfolio, Price, TaxLot, Transaction, WashSaleMatch
from rebalancing.models import DrawdownEpisode, Proposal
from tests.factories import (
    ModelPortfolioFactory,
    PortfolioFactory,
    SecurityFactory,
    TaxLotFactory,
    UserFactory,
)

TICKERS = ("AAA", "BBB", "CCC", "DDD", "EEE")


def prices() -> None:
    """Each of five securities closes at 100 on the suite day."""
    for ticker in TICKERS:
        Price.objects.get_or_create(
            security=SecurityFactory(ticker=ticker), date=clock.today(),
            defaults={"close": Decimal("100")},
        )  # fmt: skip


def assessment(
    user: User, *, level: int = 6, outcome: str = "r3", **extra: object
) -> RiskAssessment:
    questionnaire, _ = Questionnaire.objects.get_or_create(version=900)
    return RiskAssessment.objects.create(
        user=user, questionnaire=questionnaire,
        answers=[{"question": "outcome_range", "option": outcome, "points": 3}],
        tolerance_score=Decimal("55"), capacity_score=Decimal("80"),
        risk_level=level, max_level=10, limited_by="tolerance", **extra,
    )  # fmt: skip


def clean_household(email: str) -> Portfolio:
    """$10,000: five securities at 19 shares x $100 = $1,900 each (19%, under the 20% limit),
    bought at cost (no gain, no loss), $500 cash; an account on a level-5 model; a risk profile
    of level 6 answered today."""
    prices()
    user = UserFactory(email=email, first_name="Clean", last_name=email.split("@")[0])
    model = ModelPortfolioFactory(name="Balanced", slug="balanced", risk_level=5)
    account = PortfolioFactory(owner=user, name="Brokerage", cash=Decimal("500.00"), model=model)
    for ticker in TICKERS:
        TaxLotFactory(
            portfolio=account, security=SecurityFactory(ticker=ticker), quantity=Decimal("19"),
            cost_basis=Decimal("1900.00"), acquired_on=clock.today() - relativedelta(years=2),
        )  # fmt: skip
    assessment(user)
    return account


def _proposal(account: Portfolio, status: str, *, age: dt.timedelta, **fields: object) -> Proposal:
    now = clock.now()
    proposal = Proposal.objects.create(
        portfolio=account, kind=Proposal.Kind.REBALANCE if status != "pending" else "harvest",
        status=status, rule="threshold", reason="drifted", prices_as_of=clock.today(),
        holdings_fingerprint="f" * 64, expires_at=now + dt.timedelta(days=30), **fields,
    )  # fmt: skip
    Proposal.objects.filter(pk=proposal.pk).update(created_at=now - age)
    return proposal


def riskier(account: Portfolio) -> None:
    """The account follows a level-9 model; the profile says 6."""
    account.model = ModelPortfolioFactory(name="Aggressive", slug="aggressive", risk_level=9)
    account.save(update_fields=["model"])


def stale(account: Portfolio) -> None:
    """The only questionnaire was answered 13 months ago."""
    RiskAssessment.objects.filter(user=account.owner).update(
        submitted_at=clock.now() - relativedelta(months=13)
    )


def pending(account: Portfolio) -> None:
    """A proposal waiting for 8 days."""
    _proposal(account, "pending", age=dt.timedelta(days=8))


def rejections(account: Portfolio) -> None:
    """Three proposals rejected in the last month."""
    for days in (3, 10, 20):
        _proposal(
            account, "rejected", age=dt.timedelta(days=days),
            decided_at=clock.now() - dt.timedelta(days=days - 1), decided_by=account.owner,
        )  # fmt: skip


def concentration(account: Portfolio) -> None:
    """10 more AAA shares: AAA $2,900 of $11,000 = 26.4% (over 20%)."""
    TaxLotFactory(
        portfolio=account, security=SecurityFactory(ticker="AAA"), quantity=Decimal("10"),
        cost_basis=Decimal("1000.00"), acquired_on=clock.today() - relativedelta(years=1),
    )  # fmt: skip


def losses(account: Portfolio) -> None:
    """AAA bought for $3,100 is worth $1,900 (a $1,200 loss, 12% of $10,000) while BBB bought
    for $700 gained $1,200: net cost unchanged, so no drawdown."""
    TaxLot.objects.filter(portfolio=account, security__ticker="AAA").update(cost_basis=3100)
    TaxLot.objects.filter(portfolio=account, security__ticker="BBB").update(cost_basis=700)


def drawdown(account: Portfolio) -> None:
    """The daily drawdown check recorded an ongoing fall of 25% from a peak 60 days ago, past
    the 22% the investor said they could bear."""
    today = clock.today()
    DrawdownEpisode.objects.create(
        household=account.owner, peak_on=today - dt.timedelta(days=60),
        breached_on=today - dt.timedelta(days=10), trough_on=today - dt.timedelta(days=5),
        depth=Decimal("-0.25"), tolerance=Decimal("0.22"),
    )  # fmt: skip


def failed(account: Portfolio) -> None:
    """An execution failed 5 days ago."""
    _proposal(account, "failed", age=dt.timedelta(days=5), failure_reason="broker refused")


def wash_sales(account: Portfolio) -> None:
    """An imported sale of AAA at a loss, 10 shares repurchased within 30 days."""
    lot = TaxLot.objects.filter(portfolio=account, security__ticker="AAA").first()
    sale = Transaction.objects.create(
        portfolio=account, kind="sell", trade_date=clock.today() - dt.timedelta(days=10),
        security=lot.security, quantity=Decimal("5"), price=Decimal("90"),
        amount=Decimal("450.00"), source=Transaction.Source.IMPORT,
    )  # fmt: skip
    lot_sale = LotSale.objects.create(
        transaction=sale, lot=lot, quantity=Decimal("5"), proceeds=Decimal("450.00"),
        cost_basis=Decimal("500.00"), gain=Decimal("-50.00"), is_long_term=False,
    )  # fmt: skip
    WashSaleMatch.objects.create(
        lot_sale=lot_sale, replacement_lot=lot, quantity=Decimal("5"), disallowed=Decimal("50.00")
    )


def override(account: Portfolio) -> None:
    """The investor chose a level-8 model over the recommendation and acknowledged it (the
    account still follows the level-5 model, so nothing is riskier yet)."""
    RiskAssessment.objects.filter(user=account.owner).update(
        acknowledged_more_aggressive=True,
        accepted_model=ModelPortfolioFactory(name="Growth", slug="growth", risk_level=8),
    )


MUTATIONS: dict[str, Callable[[Portfolio], None]] = {
    "riskier": riskier, "stale": stale, "pending": pending, "rejections": rejections,
    "concentration": concentration, "losses": losses, "drawdown": drawdown, "failed": failed,
    "wash_sales": wash_sales, "override": override,
}  # fmt: skip
