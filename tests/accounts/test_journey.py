"""The newcomer's journey without dead ends, through the Django test client: the start page,
the name asked at sign-up, the questionnaire as the next step, the funding page after choosing
a model, empty accounts, fund costs, the level gap, one score rounding."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse

from accounts import scoring
from accounts.models import AuditEvent, User
from portfolios.models import ModelPortfolio, Portfolio
from portfolios.onboarding import selectors, services
from tests.accounts.conftest import CAUTIOUS, MIDDLE, selections
from tests.factories import (
    ModelAllocationFactory,
    ModelPortfolioFactory,
    PortfolioFactory,
    PriceFactory,
    SecurityFactory,
    TaxLotFactory,
)

pytestmark = pytest.mark.django_db


def _assess(user, version, choices, amount="40000"):
    return services.submit_assessment(
        user,
        questionnaire_version=version,
        selections=selections(version, choices),
        amount=Decimal(amount),
    )


def test_a_visitor_gets_the_start_page_and_a_signed_in_investor_the_dashboard(
    client: Client, user
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Investing that keeps itself on course" in text
    assert reverse("account_signup") in text and "Welcome," not in text
    client.force_login(user)
    assert f"Welcome, {user.first_name}" in client.get("/").content.decode()


def test_sign_up_asks_the_name_and_stores_it(client: Client) -> None:
    form = {
        "email": "newcomer@example.com",
        "password1": "a-long-unusual-passphrase-42",
        "password2": "a-long-unusual-passphrase-42",
    }
    refused = client.post(reverse("account_signup"), {**form, "first_name": "   "})
    assert "Please tell us your first name" in refused.content.decode()
    assert not User.objects.filter(email="newcomer@example.com").exists()

    client.post(reverse("account_signup"), {**form, "first_name": " Grace ", "last_name": "Hopper"})
    user = User.objects.get(email="newcomer@example.com")
    assert (user.first_name, user.last_name, user.greeting_name) == ("Grace", "Hopper", "Grace")


def test_the_newcomers_dashboard_leads_to_the_questionnaire_then_to_the_model(
    client: Client, user, questionnaire_v1, model_portfolios
) -> None:
    client.force_login(user)
    page = client.get("/").content.decode()
    button = 'class="btn big" href="/profile/questionnaire/?restart=1">Take the risk questionnaire'
    assert button in page
    assert 'class="btn" href="/portfolios/new/"' not in page  # no longer "Add an account"

    assessment = _assess(user, questionnaire_v1, MIDDLE)
    page = client.get("/").content.decode()
    assert "Choose your portfolio" in page
    assert reverse("onboarding:assessment", kwargs={"pk": assessment.pk}) in page


def test_accepting_a_model_lands_on_the_funding_page_of_the_new_account(
    client: Client, user, questionnaire_v1, model_portfolios
) -> None:
    client.force_login(user)
    assessment = _assess(user, questionnaire_v1, MIDDLE)
    response = client.post(
        reverse("onboarding:accept", kwargs={"pk": assessment.pk}),
        {
            "model": assessment.recommended_model.pk,
            "new_account_name": "Brokerage",
            "new_account_tax_treatment": "taxable",
        },
    )
    account = Portfolio.objects.get(owner=user, name="Brokerage")
    assert response.status_code == 302
    assert response["Location"] == reverse("onboarding:fund", kwargs={"pk": account.pk})
    page = client.get(response["Location"]).content.decode()
    assert "is now the target of: Brokerage" in page
    assert reverse("portfolios:import", kwargs={"pk": account.pk}) in page
    assert reverse("portfolios:transaction_create", kwargs={"pk": account.pk}) in page
    assert reverse("money:deposit", kwargs={"pk": account.pk}) in page
    assert 'data-testid="funds"' in page and "already holds" not in page


def test_the_funding_page_of_another_investors_account_is_a_404(
    client: Client, user, other_user
) -> None:
    theirs = PortfolioFactory(owner=other_user)
    client.force_login(user)
    assert client.get(reverse("onboarding:fund", kwargs={"pk": theirs.pk})).status_code == 404


def test_an_empty_account_shows_how_to_fund_it_not_drift(client: Client, user) -> None:
    model = ModelPortfolioFactory()
    ModelAllocationFactory(model=model, weight=Decimal("0.35"))
    ModelAllocationFactory(model=model, weight=Decimal("0.65"))
    account = PortfolioFactory(owner=user, name="Empty", model=model)
    client.force_login(user)

    detail = client.get(reverse("portfolios:detail", kwargs={"pk": account.pk})).content.decode()
    assert 'id="fund-account"' in detail
    assert "pts" not in detail and "Check drift now" not in detail

    dashboard = client.get("/").content.decode()
    assert 'id="fund-next"' in dashboard  # nothing invested anywhere: funding comes first
    assert 'data-testid="fund-prompt"' in dashboard and "pts" not in dashboard
    assert "outside band" not in dashboard


def test_a_one_account_dashboard_shows_its_drift_table_once(client: Client, user, today) -> None:
    lot = TaxLotFactory(portfolio=PortfolioFactory(owner=user))
    PriceFactory(security=lot.security, date=today)
    model = ModelPortfolioFactory()
    ModelAllocationFactory(model=model, security=lot.security, weight=Decimal("1"))
    Portfolio.objects.filter(pk=lot.portfolio_id).update(model=model)
    client.force_login(user)
    page = client.get("/").content.decode()
    assert page.count("<th>Asset class</th>") == 1 and "<th>Household</th>" not in page
    assert 'id="fund-next"' not in page
    PortfolioFactory(owner=user, name="Second")
    page = client.get("/").content.decode()
    assert "<th>Household</th>" in page  # two accounts: the household total and each account


def test_fund_costs_are_the_weighted_expense_ratios_on_the_amount() -> None:
    # hand-worked: $40,000 at 60% x 0.03% = $7.20 and 40% x 0.05% = $8.00; total 0.038% = $15.20
    cheap = SecurityFactory(ticker="VTI", expense_ratio=Decimal("0.0003"))
    dear = SecurityFactory(ticker="BND", expense_ratio=Decimal("0.0005"))
    model = ModelPortfolioFactory()
    ModelAllocationFactory(model=model, security=dear, weight=Decimal("0.4"))
    ModelAllocationFactory(model=model, security=cheap, weight=Decimal("0.6"))
    funds = selectors.fund_rows(
        model.allocations.select_related("asset_class", "security"), Decimal("40000")
    )
    assert [(r["ticker"], r["yearly_cost"]) for r in funds["rows"]] == [
        ("VTI", Decimal("7.20")),
        ("BND", Decimal("8.00")),
    ]
    assert funds["expense_ratio"] == Decimal("0.00038")
    assert funds["yearly_cost"] == Decimal("15.20")


def test_the_risk_result_says_why_the_model_level_differs(
    client: Client, user, questionnaire_v1, model_portfolios
) -> None:
    levels = sorted(ModelPortfolio.objects.values_list("risk_level", flat=True))
    client.force_login(user)
    # the middle answers score level 6; take away the level-6 model so a lower one is chosen
    ModelPortfolio.objects.filter(risk_level=6).update(is_active=False)
    middle = _assess(user, questionnaire_v1, MIDDLE)
    gap = selectors.recommendation_gap(middle)
    assert middle.risk_level == 6 and gap is not None and gap["kind"] == "lower"
    assert gap["model_level"] == max(lvl for lvl in levels if lvl < 6)
    page = client.get(reverse("onboarding:assessment", kwargs={"pk": middle.pk})).content.decode()
    assert 'id="level-gap"' in page and "never a riskier one" in page
    assert 'data-testid="funds"' in page and "Fund costs a year" in page

    # a level with its own model: nothing to explain
    ModelPortfolio.objects.filter(risk_level=6).update(is_active=True)
    matched = _assess(user, questionnaire_v1, MIDDLE)
    assert matched.recommended_model.risk_level == 6
    assert selectors.recommendation_gap(matched) is None
    page = client.get(reverse("onboarding:assessment", kwargs={"pk": matched.pk})).content.decode()
    assert 'id="level-gap"' not in page


def test_the_safest_model_above_the_level_is_explained_as_such(
    user, questionnaire_v1, model_portfolios
) -> None:
    ModelPortfolio.objects.filter(risk_level__lt=4).update(is_active=False)
    safest = ModelPortfolio.objects.filter(is_active=True).order_by("risk_level").first()
    cautious = _assess(user, questionnaire_v1, CAUTIOUS)
    assert cautious.risk_level < safest.risk_level
    gap = selectors.recommendation_gap(cautious)
    assert gap["kind"] == "safest" and gap["model_level"] == safest.risk_level


@pytest.mark.parametrize(("score", "shown"), [(62.5, 63), (62.49, 62), (58.33, 58), (0.5, 1)])
def test_a_score_reads_the_same_on_every_page_and_in_the_audit_log(score, shown) -> None:
    assert scoring.whole_score(score) == shown
    rendered = Template("{% load onboarding %}{{ s|score }}").render(
        Context({"s": Decimal(str(score))})
    )
    assert rendered == str(shown)


def test_the_audit_summary_rounds_the_score_like_the_pages(
    user, questionnaire_v1, model_portfolios
) -> None:
    assessment = _assess(user, questionnaire_v1, MIDDLE)
    event = AuditEvent.objects.get(household=user, action="risk.assessment_submitted")
    tolerance = scoring.whole_score(float(assessment.tolerance_score))
    assert f"(tolerance {tolerance}," in event.summary
    assert f"scores {tolerance} of 100" in assessment.explanation[0]
