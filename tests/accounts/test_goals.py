"""Goal pages and the dashboard selector: Monte Carlo on real rows, scoped to the owner."""

import datetime as dt
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from advisor.core import clock
from portfolios import goal_selectors
from portfolios.analytics import assumptions, monte_carlo
from portfolios.models import Goal, ModelPortfolio
from tests.factories import PortfolioFactory, PriceFactory, SecurityFactory, TaxLotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def funded_goal(user, model_portfolios) -> Goal:
    """A home goal 10 years out on a Balanced account worth 20 x 100 + 5,000 cash = 7,000."""
    account = PortfolioFactory(
        owner=user,
        name="Brokerage",
        cash=Decimal("5000.00"),
        model=ModelPortfolio.objects.get(slug="balanced"),
    )
    security = SecurityFactory(ticker="ZZZ")
    PriceFactory(security=security, date=dt.date(2026, 11, 20), close=Decimal("100"))
    TaxLotFactory(
        portfolio=account, security=security, quantity=Decimal("20"), cost_basis=Decimal("1500")
    )
    today = clock.today()
    goal = Goal.objects.create(
        user=user, name="House", kind=Goal.Kind.HOME, target_amount=Decimal("60000"),
        target_date=today + relativedelta(years=10), monthly_contribution=Decimal("300"),
    )  # fmt: skip
    goal.portfolios.add(account)
    return goal


def test_projection_uses_the_accounts_value_model_and_glide_path(funded_goal: Goal) -> None:
    today = clock.today()
    inputs = goal_selectors.goal_inputs(funded_goal, today=today)
    assert inputs.initial == pytest.approx(7_000.0)
    assert inputs.months == 120 and inputs.base_level == 6
    assert inputs.levels[0] == 6 and inputs.levels[-1] == 2  # glide path: level 2 in the last year
    # the balanced demo model's expected return straight from the assumptions
    balanced = {
        "us-stocks": 0.35,
        "intl-developed": 0.15,
        "emerging": 0.05,
        "us-bonds": 0.25,
        "intl-bonds": 0.05,
        "tips": 0.05,
        "reits": 0.05,
        "gold": 0.05,
    }
    assert inputs.mu[0] == pytest.approx(assumptions.portfolio_estimate(balanced).expected_return)
    projection = goal_selectors.project_goal(funded_goal, today=today)
    assert 0.0 < projection.probability < 1.0
    assert projection.p10_final < projection.median_final < projection.p90_final
    assert projection.required_contribution is not None and projection.required_contribution > 0
    # the page's required contribution really gives 80% on the same paths
    p = monte_carlo.simulate(
        initial=inputs.initial,
        contribution=inputs.contribution,
        months=inputs.months,
        mu=inputs.mu,
        sigma=inputs.sigma,
        target=inputs.target,
    )
    assert (
        monte_carlo.success_probability(
            p, initial=7_000, contribution=projection.required_contribution, target=60_000
        )
        >= 0.8
    )
    assert p.probability == projection.probability


def test_success_probabilities_for_the_dashboard_and_cache(funded_goal: Goal, user) -> None:
    first = goal_selectors.goal_success_probabilities(user)
    assert [g.name for g in first] == ["House"]
    assert first[0].on_track == (first[0].probability >= 0.8)
    inputs = goal_selectors.goal_inputs(funded_goal, today=clock.today())
    cached = cache.get(goal_selectors._key(inputs, clock.today(), monte_carlo.DEFAULT_PATHS))
    assert cached is not None and cached.probability == first[0].probability
    again = goal_selectors.goal_success_probabilities(user)
    assert again == first
    # a higher contribution is a different input: a new projection, a higher probability
    funded_goal.monthly_contribution = Decimal("900")
    funded_goal.save()
    assert goal_selectors.goal_success_probabilities(user)[0].probability > first[0].probability


def test_goal_pages(client: Client, user, funded_goal: Goal) -> None:
    client.force_login(user)
    listing = client.get(reverse("goals:list")).content.decode()
    assert "House" in listing and "Chance of success" in listing
    detail = client.get(reverse("goals:detail", kwargs={"pk": funded_goal.pk}))
    assert detail.status_code == 200
    page = detail.content.decode()
    assert 'id="fan-chart"' in page and "Glide path" in page and "Monthly saving for 80%" in page


def test_creating_and_editing_a_goal_validates_input(
    client: Client, user, model_portfolios
) -> None:
    client.force_login(user)
    mine = PortfolioFactory(owner=user)
    bad = client.post(
        reverse("goals:create"),
        {
            "name": "Trip",
            "kind": "other",
            "target_amount": "-5",
            "target_date": "2001-01-01",
            "monthly_contribution": "-1",
            "priority": "1",
        },
    )
    assert bad.status_code == 400
    text = bad.content.decode()
    assert (
        "must be in the future" in text
        and "more than zero" in text
        and "cannot be negative" in text
    )
    assert not Goal.objects.exists()
    year = clock.today().year + 3
    ok = client.post(
        reverse("goals:create"),
        {
            "name": "Trip",
            "kind": "other",
            "target_amount": "12000",
            "target_date": f"{year}-06-30",
            "monthly_contribution": "250",
            "priority": "2",
            "portfolios": [mine.pk],
        },
    )
    goal = Goal.objects.get(user=user)
    assert ok["Location"] == reverse("goals:detail", kwargs={"pk": goal.pk})
    assert list(goal.portfolios.all()) == [mine]
    client.post(
        reverse("goals:edit", kwargs={"pk": goal.pk}),
        {
            "name": "Big trip",
            "kind": "other",
            "target_amount": "15000",
            "target_date": f"{year}-06-30",
            "monthly_contribution": "250",
            "priority": "2",
        },
    )
    goal.refresh_from_db()
    assert goal.name == "Big trip" and goal.target_amount == Decimal("15000.00")
    assert AuditEvent.objects.filter(action__in=["goal.created", "goal.updated"]).count() == 2


def test_another_users_goal_and_accounts_are_off_limits(
    client: Client, user, other_user, funded_goal: Goal
) -> None:
    client.force_login(other_user)
    for name in ("goals:detail", "goals:edit"):
        assert client.get(reverse(name, kwargs={"pk": funded_goal.pk})).status_code == 404
    assert client.post(reverse("goals:delete", kwargs={"pk": funded_goal.pk})).status_code == 404
    assert "House" not in client.get(reverse("goals:list")).content.decode()
    # linking someone else's account is refused by the form
    their_account = funded_goal.portfolios.get()
    year = clock.today().year + 3
    response = client.post(
        reverse("goals:create"),
        {
            "name": "Mine",
            "kind": "other",
            "target_amount": "1000",
            "target_date": f"{year}-01-01",
            "monthly_contribution": "0",
            "priority": "1",
            "portfolios": [their_account.pk],
        },
    )
    assert response.status_code == 400
    assert Goal.objects.filter(user=other_user).count() == 0
    assert Goal.objects.filter(pk=funded_goal.pk).exists()


def test_emergency_funds_stay_at_low_risk_whatever_the_profile(user, model_portfolios) -> None:
    account = PortfolioFactory(owner=user, model=ModelPortfolio.objects.get(slug="aggressive"))
    today = clock.today()
    goal = Goal.objects.create(
        user=user, name="Rainy day", kind=Goal.Kind.EMERGENCY, target_amount=Decimal("15000"),
        target_date=today + relativedelta(years=30), monthly_contribution=Decimal("100"),
    )  # fmt: skip
    goal.portfolios.add(account)
    inputs = goal_selectors.goal_inputs(goal, today=today)
    assert inputs.base_level == 2 and set(inputs.levels) == {2}
    goal.kind = Goal.Kind.RETIREMENT
    goal.save()
    inputs = goal_selectors.goal_inputs(goal, today=today)
    assert inputs.base_level == 10 and inputs.levels[0] == 10 and inputs.levels[-1] == 2


def test_a_goal_whose_date_has_passed_still_renders(client: Client, user, model_portfolios) -> None:
    today = clock.today()
    goal = Goal.objects.create(
        user=user, name="Old", target_amount=Decimal("1000"), target_date=today - dt.timedelta(days=40),
    )  # fmt: skip
    projection = goal_selectors.project_goal(goal, today=today)
    assert projection.probability == 0.0  # nothing invested, no time left
    assert projection.required_contribution is None
    client.force_login(user)
    assert client.get(reverse("goals:detail", kwargs={"pk": goal.pk})).status_code == 200


@pytest.mark.parametrize(
    ("today", "target", "months"),
    [
        (dt.date(2026, 11, 29), dt.date(2036, 11, 29), 120),
        (dt.date(2026, 11, 29), dt.date(2036, 11, 28), 119),
        (dt.date(2028, 2, 29), dt.date(2038, 2, 28), 120),  # a leap day to the end of February
        (dt.date(2027, 1, 31), dt.date(2027, 2, 28), 1),
        (dt.date(2027, 1, 31), dt.date(2027, 3, 30), 1),
        (dt.date(2027, 5, 1), dt.date(2027, 4, 1), 0),  # the date has passed
    ],
)
def test_months_between_counts_whole_months(today, target, months) -> None:
    assert goal_selectors.months_between(today, target) == months
