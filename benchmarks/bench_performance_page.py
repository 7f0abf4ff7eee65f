"""The household performance page from the ledger: 5 accounts, 10 years of daily closes,
2,000 transactions. Target (issue 15): renders in under 300 ms warm (nothing cached between
renders: every render loads the ledger and closes and recomputes the returns, benchmark,
risk and attribution; "warm" means the database and Python have served it once).

Reported with the number of queries, beside the five account pages of the same household
rendered one after another (the same ledger read account by account) in the same run.
"""

import datetime as dt
from decimal import Decimal

import numpy as np
from dateutil.relativedelta import relativedelta

from advisor.core import clock
from benchmarks import Report, best_of

EMAIL = "bench-performance@example.com"
ACCOUNTS = 5
CLASSES = ("us", "intl", "bonds", "tips", "reit")
WEIGHTS = (0.35, 0.2, 0.25, 0.1, 0.1)


def _prices(securities: list, days: list[dt.date], rng: np.random.Generator) -> None:
    from portfolios.models import Price

    Price.objects.filter(security__in=securities).delete()
    walk = 50 * np.cumprod(1 + rng.normal(0.0003, 0.01, size=(len(days), len(securities))), axis=0)
    Price.objects.bulk_create(
        [
            Price(security=s, date=day, close=Decimal(f"{walk[t, j]:.4f}"))
            for j, s in enumerate(securities)
            for t, day in enumerate(days)
        ],
        batch_size=5_000,
    )


def _ledger(portfolio, securities: list, days: list[dt.date], rng: np.random.Generator) -> list:
    """400 transactions over the 10 years: a monthly deposit and buy, quarterly sells,
    dividends and two advisory fees a quarter."""
    from portfolios.models import Transaction

    rows = [
        Transaction(
            portfolio=portfolio, kind="deposit", trade_date=days[0], amount=Decimal("50000")
        )
    ]
    month_rows = [t for t in range(1, len(days)) if days[t].month != days[t - 1].month]
    for m, t in enumerate(month_rows[:120]):
        day = days[t]
        security = securities[m % len(securities)]
        rows.append(
            Transaction(portfolio=portfolio, kind="deposit", trade_date=day, amount=Decimal("1000"))
        )
        rows.append(
            Transaction(
                portfolio=portfolio, kind="buy", trade_date=day, security=security,
                quantity=Decimal("10"), price=Decimal("50"), amount=Decimal("-500.00"),
            )
        )  # fmt: skip
        if m % 3 == 0:
            rows.append(
                Transaction(
                    portfolio=portfolio, kind="sell", trade_date=day, security=security,
                    quantity=Decimal("3"), price=Decimal("50"), fees=Decimal("1.00"),
                    amount=Decimal("149.00"),
                )
            )  # fmt: skip
            rows.append(
                Transaction(
                    portfolio=portfolio, kind="dividend", trade_date=day, security=security,
                    amount=Decimal(f"{rng.uniform(20, 80):.2f}"),
                )
            )  # fmt: skip
            for _ in range(2):
                rows.append(
                    Transaction(
                        portfolio=portfolio, kind="fee", trade_date=day, amount=Decimal("-12.50")
                    )
                )
    return rows[:400]


def _seed() -> object:
    from accounts.models import User
    from portfolios import market_calendar
    from portfolios.models import (
        AssetClass,
        ModelAllocation,
        ModelPortfolio,
        Portfolio,
        Security,
        Transaction,
    )

    User.objects.filter(email=EMAIL).delete()
    user = User.objects.create_user(EMAIL, "bench-password-2026")
    model, _ = ModelPortfolio.objects.get_or_create(
        slug="bench-performance", defaults={"name": "Bench performance", "risk_level": 6}
    )
    securities = []
    for i, (code, weight) in enumerate(zip(CLASSES, WEIGHTS, strict=True)):
        asset_class, _ = AssetClass.objects.get_or_create(
            code=f"bperf-{code}", defaults={"name": f"Bench {code}", "sort_order": 50 + i}
        )
        security, _ = Security.objects.get_or_create(
            ticker=f"BP{i}", defaults={"name": f"Bench {code} fund", "asset_class": asset_class}
        )
        securities.append(security)
        ModelAllocation.objects.get_or_create(
            model=model, asset_class=asset_class,
            defaults={"weight": Decimal(str(weight)), "security": security},
        )  # fmt: skip
    today = clock.today()
    days = [d.item() for d in market_calendar.sessions(today - relativedelta(years=10), today)]
    rng = np.random.default_rng(15)
    _prices(securities, days, rng)
    rows = []
    for a in range(ACCOUNTS):
        portfolio = Portfolio.objects.create(owner=user, name=f"Bench account {a}", model=model)
        rows += _ledger(portfolio, securities, days, rng)
    Transaction.objects.bulk_create(rows, batch_size=2_000)
    return user


def run(report: Report) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    from portfolios.models import Portfolio, Transaction

    user = _seed()
    transactions = Transaction.objects.filter(portfolio__owner=user).count()
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(ALLOWED_HOSTS=["testserver"], STORAGES=storages):
        client = Client()
        client.force_login(user)
        account_urls = [
            f"/performance/accounts/{pk}/"
            for pk in Portfolio.objects.filter(owner=user).values_list("pk", flat=True)
        ]

        def household() -> None:
            response = client.get("/performance/")
            assert response.status_code == 200, response.status_code

        def accounts() -> None:
            for url in account_urls:
                assert client.get(url).status_code == 200

        household()  # warm
        queries = []

        def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            queries.append(sql)
            return execute(sql, params, many, context)

        # A counting wrapper: the request_started signal empties Django's own query log.
        with connection.execute_wrapper(count):
            household()
        page = best_of(5, household)
        accounts()
        per_account = best_of(3, accounts)
    report.add(
        f"household performance page, {ACCOUNTS} accounts, 10 years daily, "
        f"{transactions:,} transactions (warm)",
        page * 1000,
        "ms",
        baseline_name=f"the {ACCOUNTS} account pages one after another",
        baseline_value=per_account * 1000,
        target="< 300 ms",
        note=f"{len(queries)} queries per render",
    )
