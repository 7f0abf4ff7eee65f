"""seed_demo: idempotent, with real work for the drift check and the harvest scan."""

import datetime as dt
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum
from django.test import Client

from advisor.core import clock
from portfolios import demo, market_calendar, overview, selectors
from portfolios.models import (
    AssetClass,
    ModelPortfolio,
    Portfolio,
    Price,
    Security,
    TaxLot,
    Transaction,
)

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 25)


def state() -> dict[str, object]:
    from django_celery_beat.models import PeriodicTask

    from accounts.models import User

    return {
        "users": list(User.objects.order_by("pk").values_list("email", "password", "is_staff")),
        "classes": AssetClass.objects.count(),
        "securities": list(
            Security.objects.order_by("ticker").values_list("ticker", "asset_class__code")
        ),
        "prices": Price.objects.count(),
        "price_sum": Price.objects.aggregate(s=Sum("close"))["s"],
        "models": list(ModelPortfolio.objects.values_list("slug", "risk_level")),
        "portfolios": list(Portfolio.objects.order_by("pk").values_list("name", "cash")),
        "lots": list(
            TaxLot.objects.order_by("pk").values_list(
                "security__ticker", "quantity", "cost_basis", "acquired_on"
            )
        ),
        "transactions": Transaction.objects.count(),
        "schedules": PeriodicTask.objects.count(),
    }


def test_seeding_twice_changes_nothing() -> None:
    call_command("seed_demo", "--today", "2026-11-25")
    first = state()
    call_command("seed_demo", "--today", "2026-11-25")
    assert state() == first
    assert first["classes"] == 9 and len(first["securities"]) >= 15 and first["schedules"] >= 1


def test_prices_end_on_the_last_session_and_a_later_run_only_appends() -> None:
    demo.seed_demo(today=TODAY)  # a Wednesday
    assert Price.objects.order_by("-date").first().date == dt.date(2026, 11, 24)
    before = dict(
        Price.objects.filter(date__lte=dt.date(2026, 11, 24)).values_list(
            "security__ticker", "close"
        )[:50]
    )
    demo.seed_demo(today=dt.date(2026, 11, 30))  # the next Monday: adds Wed 25 and Fri 27
    assert Price.objects.order_by("-date").first().date == dt.date(2026, 11, 27)
    assert not Price.objects.filter(date=dt.date(2026, 11, 26)).exists()  # Thanksgiving
    assert (
        dict(
            Price.objects.filter(date__lte=dt.date(2026, 11, 24)).values_list(
                "security__ticker", "close"
            )[:50]
        )
        == before
    )


def test_model_weights_sum_to_one_with_preferred_and_alternate_securities() -> None:
    demo.seed_demo(today=TODAY)
    assert ModelPortfolio.objects.count() == 5
    levels = sorted(ModelPortfolio.objects.values_list("risk_level", flat=True))
    assert levels[0] <= 2 and levels[-1] >= 9
    for model in ModelPortfolio.objects.prefetch_related("allocations__alternates"):
        assert sum(a.weight for a in model.allocations.all()) == 1
        for allocation in model.allocations.all():
            alternates = list(allocation.alternates.all())
            assert all(s.asset_class_id == allocation.asset_class_id for s in alternates)
            assert alternates or allocation.security.ticker == "GLD"  # gold trusts are identical


def _scans_find_their_work(prices_as_of: dt.date | None = None) -> None:
    from rebalancing.models import Proposal

    call_command("drift_check", stdout=StringIO())
    call_command("harvest_scan", stdout=StringIO())
    pending = Proposal.objects.filter(status="pending")
    kinds = list(pending.values_list("kind", flat=True))
    assert kinds.count("rebalance") == 3  # every demo account is off target
    harvest = pending.get(kind="harvest")
    sold = set(harvest.trades.filter(side="sell").values_list("security__ticker", flat=True))
    assert {"VNQ", "SCHP"} <= sold  # the taxable lots bought near a peak
    newest = prices_as_of or market_calendar.previous_session(clock.today())
    assert set(pending.values_list("prices_as_of", flat=True)) == {newest}


def test_after_seeding_today_the_drift_check_and_the_harvest_scan_have_work() -> None:
    call_command("seed_demo", stdout=StringIO())  # on the suite day, whatever day that is
    _scans_find_their_work()


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-28T09:00",  # a Saturday
        "2026-11-27T10:00",  # the Friday after Thanksgiving
        "2027-01-19T07:00",  # the morning after a long weekend (Martin Luther King Jr. Day)
        "2028-02-29T23:30",  # a leap day, late in New York (already 1 March in UTC)
        "2026-12-25T12:00",  # Christmas Day
    ],
)
def test_seeded_on_a_weekend_or_after_a_holiday_the_scans_have_work(moment: str) -> None:
    with time_machine.travel(_local(moment), tick=False):
        call_command("seed_demo", stdout=StringIO())
        _scans_find_their_work()


def test_the_daily_refresh_keeps_the_demo_fresh_as_days_pass() -> None:
    """Seeded once, then twelve days later the embedded provider's refresh (the beat job)
    brings the prices up to date and the scans find their work again."""
    with time_machine.travel(_local("2026-11-20T18:00"), tick=False):
        call_command("seed_demo", stdout=StringIO())
    with time_machine.travel(_local("2026-12-02T18:00"), tick=False):
        call_command("refresh_prices", stdout=StringIO())
        assert Price.objects.order_by("-date").first().date == dt.date(2026, 12, 2)
        _scans_find_their_work(prices_as_of=dt.date(2026, 12, 2))


def _local(moment: str) -> dt.datetime:
    return dt.datetime.fromisoformat(moment).replace(tzinfo=ZoneInfo("America/New_York"))


def test_the_demo_household_has_harvestable_losses_and_drift() -> None:
    demo.seed_demo(today=TODAY)
    investor = Portfolio.objects.filter(owner__email=demo.DEMO_EMAIL)
    assert set(investor.values_list("tax_treatment", flat=True)) == {
        "taxable",
        "traditional_ira",
        "roth_ira",
    }
    taxable = investor.get(tax_treatment="taxable")
    lots = selectors.lots([taxable.pk])
    latest = selectors.latest_prices(lots["security_id"].unique())["close"]
    loss = lots["quantity"] * lots["security_id"].map(latest) / lots["cost_basis"] - 1
    assert (loss < -0.05).sum() >= 2  # at least two lots more than 5% under water
    assert (lots["acquired_on"] < dt.date(2026, 10, 20)).all()  # no buy inside a wash-sale window
    for portfolio in investor:
        data = overview.account_overview(portfolio, today=TODAY)
        assert max(abs(c["drift"]) for c in data.classes) > 0.05, portfolio.name
        assert (
            portfolio.cash == portfolio.transactions.aggregate(s=Sum("amount"))["s"]
        )  # ledger agrees


def test_the_demo_users_can_sign_in() -> None:
    demo.seed_demo(today=TODAY)
    client = Client()
    assert client.login(email=demo.DEMO_EMAIL, password=demo.DEMO_PASSWORD)
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": demo.ADMIN_EMAIL, "password": demo.ADMIN_PASSWORD}
    )
    assert response.status_code == 302
    from accounts.models import User

    staff = User.objects.get(email=demo.ADMIN_EMAIL)
    assert client.session["_auth_user_id"] == str(staff.pk) and staff.is_staff
