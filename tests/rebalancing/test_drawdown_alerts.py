"""Drawdown alerts: once per episode when the household's fall passes the loss the investor
said they could bear (the worst one-year result of the range they chose: 12% for "r2").

The household: $10,000 deposited and 100 STK bought at 100 on day 1 (all invested). STK then
closes at 95, 85 (a 15% fall from the day-1 peak: beyond 12%), and later 101 (recovered).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts import questionnaire
from accounts.models import Question
from portfolios import demo, ledger, market_calendar
from portfolios.models import Price
from portfolios.onboarding import services as onboarding
from rebalancing.models import DrawdownEpisode, Notification
from rebalancing.selectors import drawdown as drawdown_selectors
from rebalancing.services import drawdown, notifications
from tests.factories import AssetClassFactory, PortfolioFactory, SecurityFactory

pytestmark = pytest.mark.django_db


def _answer(user, range_code: str) -> None:
    demo.seed_reference_data()
    version = questionnaire.ensure_default_questionnaire()
    selections = {}
    for q in version.questions.prefetch_related("options"):
        if q.kind != Question.Kind.CHOICE:
            continue
        options = {o.code: o.pk for o in q.options.all()}
        selections[q.code] = options.get(range_code, next(iter(options.values())))
    onboarding.submit_assessment(
        user, questionnaire_version=version, selections=selections, amount=Decimal("10000")
    )


@pytest.fixture
def days(today: dt.date) -> list[dt.date]:
    return [d.item() for d in market_calendar.sessions(today - dt.timedelta(days=20), today)[-6:]]


@pytest.fixture
def household(user, days):
    stock = SecurityFactory(ticker="DDN", asset_class=AssetClassFactory(code="dd-stocks"))
    for day, close in zip(days, ("100", "100", "95", "85", "90", "101"), strict=True):
        Price.objects.create(security=stock, date=day, close=Decimal(close))
    portfolio = PortfolioFactory(owner=user)
    ledger.record_cash(portfolio, kind="deposit", amount=Decimal("10000"), trade_date=days[1])
    ledger.record_buy(
        portfolio, security=stock, quantity=Decimal("100"), price=Decimal("100"), trade_date=days[1]
    )
    return portfolio


def test_the_tolerance_is_the_worst_result_the_investor_chose(user) -> None:
    _answer(user, "r2")
    assert drawdown.tolerances()[user.pk] == (0.12, 0.12)


def test_a_fall_beyond_the_tolerance_alerts_once_per_episode(user, household, days, client) -> None:
    _answer(user, "r2")
    assert drawdown.check_drawdowns(today=days[2])["alerts"] == 0  # -5%: within 12%
    result = drawdown.check_drawdowns(today=days[3])
    assert result["alerts"] == 1
    episode = DrawdownEpisode.objects.get(household=user)
    assert episode.peak_on == days[1] and episode.breached_on == days[3]
    assert episode.depth == Decimal("-0.150000") and episode.recovered_on is None
    note = Notification.objects.get(user=user, kind=Notification.Kind.DRAWDOWN)
    assert note.title == "Your household is 15.0% below its high"
    assert "fallen 15.0% from its high" in note.body and "a loss of 12%" in note.body
    assert episode.notification == note
    assert notifications.send_email(note.pk) in (True, False)  # mailed under "problems"
    assert notifications.EMAIL_SWITCH[Notification.Kind.DRAWDOWN] == "email_problems"
    assert drawdown_selectors.households_beyond_tolerance() == {user.pk: episode}
    client.force_login(user)
    assert note.title in client.get(reverse("rebalancing:notifications")).text

    # The next days (and a second worker on the same day) do not alert again.
    assert drawdown.check_drawdowns(today=days[3])["alerts"] == 0
    assert drawdown.check_drawdowns(today=days[4])["alerts"] == 0
    assert Notification.objects.filter(kind=Notification.Kind.DRAWDOWN).count() == 1

    assert drawdown.check_drawdowns(today=days[5])["alerts"] == 0  # back above the peak
    episode.refresh_from_db()
    assert episode.recovered_on == days[5]
    assert drawdown_selectors.households_beyond_tolerance([user.pk]) == {}


def test_a_household_within_its_tolerance_or_without_one_is_not_alerted(
    user, household, days
) -> None:
    assert drawdown.check_drawdowns(today=days[3])["households"] == 0  # no questionnaire
    _answer(user, "r3")  # worst -22%
    assert drawdown.check_drawdowns(today=days[3]) == {
        "households": 1,
        "episodes": 0,
        "alerts": 0,
    }
    assert not DrawdownEpisode.objects.exists()


def test_households_are_checked_in_batches(user, other_user, household, days, monkeypatch) -> None:
    monkeypatch.setattr(drawdown, "BATCH_HOUSEHOLDS", 1)
    stock = household.transactions.get(kind="buy").security
    second = PortfolioFactory(owner=other_user)
    ledger.record_cash(second, kind="deposit", amount=Decimal("5000"), trade_date=days[1])
    ledger.record_buy(
        second, security=stock, quantity=Decimal("50"), price=Decimal("100"), trade_date=days[1]
    )
    _answer(user, "r2")
    _answer(other_user, "r2")
    assert drawdown.check_drawdowns(today=days[3]) == {"households": 2, "episodes": 2, "alerts": 2}
    assert set(drawdown_selectors.households_beyond_tolerance()) == {user.pk, other_user.pk}
