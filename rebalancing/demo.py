"""`make run`'s demo: the offline market (portfolios/demo.py), a demo investor with three
accounts holding lots a drift check and a harvest scan act on, a staff user, the default beat
schedules and harvest replacement pairs. `seed_demo` is idempotent."""

import datetime as dt
from decimal import Decimal

from django.db import transaction

from accounts.models import InvestorProfile
from advisor.core import schedules
from portfolios import demo, ledger, market_calendar
from portfolios.models import ModelPortfolio, Portfolio, Price, Security, Transaction
from rebalancing.services import replacements


@transaction.atomic
def seed_demo(*, today: dt.date) -> dict[str, int]:
    """Everything `make run` needs; safe to run again (returns counts of what exists)."""
    end = market_calendar.previous_session(today)
    securities = demo.seed_reference_data()
    dates, closes = demo.seed_prices(securities, end)
    investor = demo.user(demo.DEMO_EMAIL, demo.DEMO_PASSWORD, first_name="Dana", last_name="Demo")
    demo.user(
        demo.ADMIN_EMAIL,
        demo.ADMIN_PASSWORD,
        first_name="Alex",
        last_name="Adviser",
        is_staff=True,
        is_superuser=True,
    )
    InvestorProfile.objects.get_or_create(user=investor)
    models = {m.slug: m for m in ModelPortfolio.objects.all()}
    for name, treatment, slug, deposit, lots in demo.ACCOUNTS:
        portfolio, _ = Portfolio.objects.get_or_create(
            owner=investor, name=name,
            defaults={"tax_treatment": treatment, "model": models[slug], "broker_name": "Paper broker"},
        )  # fmt: skip
        buys = [(lot, *demo.lot_purchase(lot, dates, closes, end)) for lot in lots]
        first = min(day for _, day, _, _ in buys) - dt.timedelta(days=3)
        cost = sum(((q * p).quantize(Decimal("0.01")) for _, _, p, q in buys), Decimal(0))
        total = cost + deposit
        ledger.record_cash(
            portfolio, kind=Transaction.Kind.DEPOSIT, amount=total, trade_date=first,
            source=Transaction.Source.SEED, external_id="seed:deposit", note="Initial deposit",
        )  # fmt: skip
        for n, (lot, day, price, quantity) in enumerate(buys):
            ledger.record_buy(
                portfolio, security=securities[lot.ticker], quantity=quantity, price=price, trade_date=day,
                source=Transaction.Source.SEED, external_id=f"seed:buy:{n}",
            )  # fmt: skip
    schedules.ensure_default_schedules()
    replacements.seed_default_replacements()  # replacement pairs and identical groups for the scan
    return {
        "securities": Security.objects.count(),
        "prices": Price.objects.count(),
        "models": ModelPortfolio.objects.count(),
        "portfolios": Portfolio.objects.filter(owner=investor).count(),
        "lots": sum(p.lots.count() for p in Portfolio.objects.filter(owner=investor)),
    }
