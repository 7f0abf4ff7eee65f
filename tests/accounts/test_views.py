"""Onboarding pages through the Django test client: steps, validation, result, acceptance, scoping."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, RiskAssessment
from portfolios.models import ModelPortfolio, Portfolio
from portfolios.onboarding import services
from tests.accounts.conftest import MIDDLE, selections
from tests.factories import PortfolioFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client: Client, user) -> Client:
    client.force_login(user)
    return client


def step_url(step: int) -> str:
    return reverse("onboarding:questionnaire_step", kwargs={"step": step})


def answer_step(
    client: Client, version, step: int, choices: dict[str, str], action: str = "next", **extra: str
):
    ids = selections(version, choices)
    codes = set(version.questions.filter(step=step).values_list("code", flat=True))
    data = {code: str(ids[code]) for code in codes if code in ids}
    data.update(extra)
    data["action"] = action
    return client.post(step_url(step), data)


def test_the_questionnaire_walks_through_four_steps_and_stores_an_assessment(
    logged_in: Client, questionnaire_v1, model_portfolios, user
) -> None:
    response = logged_in.get(reverse("onboarding:questionnaire") + "?restart=1")
    assert response.status_code == 302 and response["Location"] == step_url(1)
    page = logged_in.get(step_url(1)).content.decode()
    assert "step 1 of 4" in page and "How much do you plan to invest?" in page
    assert answer_step(logged_in, questionnaire_v1, 1, MIDDLE, amount="80000")[
        "Location"
    ] == step_url(2)
    assert answer_step(logged_in, questionnaire_v1, 2, MIDDLE)["Location"] == step_url(3)
    assert answer_step(logged_in, questionnaire_v1, 3, MIDDLE)["Location"] == step_url(4)
    # the money example uses the investor's own amount
    page = logged_in.get(step_url(4)).content.decode()
    assert "$80,000" in page and "$60,000" in page and "$20,000" in page
    response = answer_step(logged_in, questionnaire_v1, 4, MIDDLE, action="submit")
    assessment = RiskAssessment.objects.get(user=user)
    assert response["Location"] == reverse("onboarding:assessment", kwargs={"pk": assessment.pk})
    assert assessment.risk_level == 6 and assessment.amount == Decimal("80000.00")
    result = logged_in.get(response["Location"]).content.decode()
    assert "Why this level" in result and "Recommended: Balanced" in result
    assert "sets your level at 6 of 10" in result


def test_missing_answers_show_messages_and_back_keeps_answers(
    logged_in: Client, questionnaire_v1
) -> None:
    response = logged_in.post(step_url(1), {"action": "next", "amount": "-3"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Please choose one answer." in page
    assert "greater than or equal to 0" in page
    answer_step(logged_in, questionnaire_v1, 1, MIDDLE, amount="1000")
    answer_step(
        logged_in, questionnaire_v1, 2, {"horizon": "20-plus", "liquidity": "none"}, action="back"
    )
    # back to step 1: its answers are still there
    page = logged_in.get(step_url(1)).content.decode()
    assert 'value="1000.00"' in page or 'value="1000"' in page
    # the partly answered step 2 kept what was answered
    page = logged_in.get(step_url(2)).content.decode()
    liquidity_id = selections(questionnaire_v1, {"liquidity": "none"})["liquidity"]
    assert f'value="{liquidity_id}"' in page and "checked" in page
    assert logged_in.get(step_url(9)).status_code == 404


def test_submit_with_an_earlier_step_missing_goes_back_to_it(
    logged_in: Client, questionnaire_v1, model_portfolios
) -> None:
    answer_step(logged_in, questionnaire_v1, 1, MIDDLE, amount="1000")
    response = answer_step(logged_in, questionnaire_v1, 4, MIDDLE, action="submit")
    assert response["Location"] == step_url(2)
    assert not RiskAssessment.objects.exists()


def test_accepting_on_the_result_page(
    logged_in: Client, user, questionnaire_v1, model_portfolios
) -> None:
    assessment = services.submit_assessment(
        user,
        questionnaire_version=questionnaire_v1,
        selections=selections(questionnaire_v1, MIDDLE),
        amount=Decimal("10000"),
    )
    account = PortfolioFactory(owner=user, name="Brokerage")
    url = reverse("onboarding:accept", kwargs={"pk": assessment.pk})
    aggressive = ModelPortfolio.objects.get(slug="aggressive")
    refused = logged_in.post(
        url,
        {
            "model": aggressive.pk,
            "portfolios": [account.pk],
            "new_account_tax_treatment": "taxable",
        },
    )
    assert refused.status_code == 400 and "Tick the acknowledgement" in refused.content.decode()
    account.refresh_from_db()
    assert account.model is None
    ok = logged_in.post(
        url,
        {"model": assessment.recommended_model.pk, "portfolios": [account.pk], "new_account_name": "Roth IRA",
         "new_account_tax_treatment": "roth_ira"},
    )  # fmt: skip
    assert ok.status_code == 302
    assert set(Portfolio.objects.filter(owner=user).values_list("name", "model__slug")) == {
        ("Brokerage", "balanced"),
        ("Roth IRA", "balanced"),
    }
    profile = logged_in.get(reverse("accounts:profile")).content.decode()
    assert "Balanced" in profile and "History" in profile


def test_another_users_assessment_is_a_404(
    client: Client, user, other_user, questionnaire_v1, model_portfolios
) -> None:
    assessment = services.submit_assessment(
        user,
        questionnaire_version=questionnaire_v1,
        selections=selections(questionnaire_v1, MIDDLE),
        amount=Decimal("1"),
    )
    mine = PortfolioFactory(owner=user)
    client.force_login(other_user)
    assert (
        client.get(reverse("onboarding:assessment", kwargs={"pk": assessment.pk})).status_code
        == 404
    )
    response = client.post(
        reverse("onboarding:accept", kwargs={"pk": assessment.pk}),
        {
            "model": assessment.recommended_model.pk,
            "portfolios": [mine.pk],
            "new_account_tax_treatment": "taxable",
        },
    )
    assert response.status_code == 404
    mine.refresh_from_db()
    assert mine.model is None


def test_another_users_account_cannot_be_chosen(
    logged_in: Client, user, other_user, questionnaire_v1, model_portfolios
) -> None:
    assessment = services.submit_assessment(
        user,
        questionnaire_version=questionnaire_v1,
        selections=selections(questionnaire_v1, MIDDLE),
        amount=Decimal("1"),
    )
    theirs = PortfolioFactory(owner=other_user)
    response = logged_in.post(
        reverse("onboarding:accept", kwargs={"pk": assessment.pk}),
        {
            "model": assessment.recommended_model.pk,
            "portfolios": [theirs.pk],
            "new_account_tax_treatment": "taxable",
        },
    )
    assert response.status_code == 400
    theirs.refresh_from_db()
    assert theirs.model is None


def test_profile_facts_form_validates_and_audits(logged_in: Client, user, today) -> None:
    bad = logged_in.post(
        reverse("accounts:profile"),
        {
            "date_of_birth": f"{today.year + 1}-01-01",
            "annual_income": "-1",
            "sex": "",
            "marital_status": "",
        },
    )
    assert bad.status_code == 400
    assert (
        "must be in the past" in bad.content.decode()
        and "cannot be negative" in bad.content.decode()
    )
    ok = logged_in.post(
        reverse("accounts:profile"),
        {
            "date_of_birth": "1980-05-01",
            "annual_income": "90000",
            "sex": "female",
            "marital_status": "married",
        },
    )
    assert ok.status_code == 302
    assert AuditEvent.objects.filter(action="profile.updated", household=user).count() == 1


def test_pages_need_a_login(client: Client, questionnaire_v1) -> None:
    for url in (reverse("accounts:profile"), step_url(1)):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
