"""A visitor finds the start page, signs up with their name, is led by the dashboard to the risk
questionnaire, accepts the recommended model for a new account and lands on its funding page,
then sets a goal and sees its Monte Carlo projection. Real Chromium, real server; every page is
checked with axe-core and at 390 px (tests/browser/a11y.py)."""

import re

import pytest
from django.core import mail

from accounts.models import AuditEvent, RiskAssessment, User
from portfolios import demo
from portfolios.models import Goal, Portfolio
from tests.browser.a11y import check_page
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "onboarding@example.com"
PASSWORD = "a-long-unusual-passphrase-77"


def choose(page, *labels: str) -> None:
    for label in labels:
        page.get_by_label(label, exact=True).check()


def test_new_investor_completes_the_questionnaire_and_accepts_the_recommendation(
    page, live_server
) -> None:
    demo.seed_reference_data()  # asset classes and the five model portfolios
    url = live_server.url

    # the start page explains the product and leads to sign-up
    page.goto(f"{url}/")
    check_page(page, "start page")
    screenshot(page, "landing")
    page.get_by_role("link", name="Create your free account").click()
    page.wait_for_url(re.compile(r"/accounts/signup/$"))
    check_page(page, "sign-up")

    # sign up with a name and verify the email address (allauth sends to the locmem outbox)
    page.fill("input[name=first_name]", "Olivia")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[-1].body).group(0)
    page.goto(link.replace("http://testserver", url))
    page.click("form button[type=submit]")
    page.wait_for_url(f"{url}/")

    # the newcomer's dashboard greets them by name and leads to the questionnaire
    assert page.locator("h1").first.inner_text() == "Welcome, Olivia"
    check_page(page, "newcomer's dashboard")
    screenshot(page, "dashboard-newcomer")
    page.get_by_role("link", name="Take the risk questionnaire").click()
    page.wait_for_url(re.compile(r"/profile/questionnaire/1/$"))
    assert "step 1 of 4" in page.content()
    check_page(page, "questionnaire step 1")

    # step 1, with a validation message first
    page.fill("input[name=amount]", "40000")
    page.get_by_role("button", name="Next").click()
    assert page.locator(".errorlist").first.inner_text() == "Please choose one answer."
    choose(page, "30 to 44", "In 20 years or more", "Long-term growth")
    screenshot(page, "onboarding-step1")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url(re.compile(r"/questionnaire/2/$"))

    # step 2, then back to step 1 and forward again: answers are kept
    choose(page, "Stable", "3 to 6 months")
    page.get_by_role("button", name="Back").click()
    page.wait_for_url(re.compile(r"/questionnaire/1/$"))
    assert page.get_by_label("30 to 44", exact=True).is_checked()
    assert page.input_value("input[name=amount]") in ("40000", "40000.00")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url(re.compile(r"/questionnaire/2/$"))
    assert page.get_by_label("Stable", exact=True).is_checked()
    choose(page, "None of it", "25% to 50%")
    page.get_by_role("button", name="Next").click()

    page.wait_for_url(re.compile(r"/questionnaire/3/$"))
    choose(page, "Stock funds or shares for a few years", "About the same")
    page.get_by_role("button", name="Next").click()

    # step 4: the fall is shown in the investor's own money
    page.wait_for_url(re.compile(r"/questionnaire/4/$"))
    assert "$40,000 drops by 25% to $30,000" in page.content()
    choose(page, "Wait for the market to recover", "Best +15%, worst -12%", "A $2,000 gain")
    check_page(page, "questionnaire step 4")
    screenshot(page, "onboarding-step4")
    page.get_by_role("button", name="See my risk profile").click()

    # result: tolerance 62.5 -> 7, capacity 79.2 -> 8; level 7; recommended Balanced (level 6)
    page.wait_for_url(re.compile(r"/profile/assessments/\d+/$"))
    assert page.locator("#risk-level").inner_text().startswith("7")
    explanation = page.locator("#explanation").inner_text()
    assert (
        "Your willingness is the lower of the two, so it sets your level at 7 of 10." in explanation
    )
    held_back = explanation.split("Answers that held it back: ")[1].split("\n")[0]
    assert "“About the same”" in held_back and "“Best +15%, worst -12%”" in held_back
    assert "Recommended: Balanced" in page.locator("#recommendation").inner_text()
    assert "$40,000 could fall by about" in page.locator("#worst-year").inner_text()
    page.wait_for_function("() => Chart.getChart('allocation-chart') !== undefined")
    # level 7, but the models offered are 2, 4, 6, 8, 10: the page says why it is a level-6 model
    assert "never a riskier one" in page.locator("#level-gap").inner_text()
    legend = page.evaluate("() => Chart.getChart('allocation-chart').data.labels")
    assert all(re.search(r" \d+(\.\d)?%$", label) for label in legend), legend
    funds = page.get_by_test_id("funds").first
    assert "VTI" in funds.inner_text()
    assert re.fullmatch(r"\$\d+\.\d\d", page.get_by_test_id("yearly-cost").first.inner_text())
    check_page(page, "risk result")
    screenshot(page, "onboarding-result")

    # accept the recommendation for a new account
    page.fill("input[name=new_account_name]", "Brokerage")
    page.get_by_role("button", name="Use this model").click()

    # the next step is funding the new account: import, entry by hand, (deposit at merge)
    user = User.objects.get(email=EMAIL)
    account = Portfolio.objects.get(owner=user)
    page.wait_for_url(f"{url}/profile/accounts/{account.pk}/fund/")
    assert "Balanced is now the target of: Brokerage." in page.content()
    assert page.get_by_role("link", name="Import holdings (CSV)").is_visible()
    assert page.get_by_role("link", name="Enter holdings by hand").is_visible()
    assert page.get_by_test_id("funds").is_visible()
    check_page(page, "funding page")
    screenshot(page, "onboarding-fund")

    # the empty account shows how to fund it, not drift, and no "Check drift now"
    page.goto(f"{url}/portfolios/{account.pk}/")
    assert page.locator("#fund-account").is_visible()
    assert "pts" not in page.content() and "Check drift now" not in page.content()
    check_page(page, "empty account")
    page.goto(f"{url}/")
    assert page.get_by_role("link", name="Fund Brokerage").is_visible()
    assert page.get_by_test_id("fund-prompt").is_visible() and "pts" not in page.content()
    check_page(page, "dashboard with an empty account")

    assert account.name == "Brokerage" and account.model.slug == "balanced"
    assessment = RiskAssessment.objects.get(user=user)
    assert assessment.risk_level == 7 and assessment.accepted_model == account.model
    assert AuditEvent.objects.filter(household=user, action="risk.model_accepted").count() == 1

    # a goal on that account: the projection page with its fan chart
    page.goto(f"{url}/goals/new/")
    page.fill("input[name=name]", "House deposit")
    page.select_option("select[name=kind]", "home")
    page.fill("input[name=target_amount]", "80000")
    page.fill("input[name=target_date]", "2036-06-30")
    page.fill("input[name=monthly_contribution]", "450")
    page.get_by_label("Brokerage (Taxable)").check()
    assert "future dollars" in page.content() and "feeds this projection only" in page.content()
    check_page(page, "goal form")
    page.get_by_role("button", name="Save goal").click()
    page.wait_for_url(re.compile(r"/goals/\d+/$"))
    page.wait_for_function("() => Chart.getChart('fan-chart') !== undefined")
    assert re.fullmatch(r"\d{1,3}%", page.locator("#probability").inner_text())
    assert "future dollars" in page.locator("#dollars").inner_text()
    assert "feeds this projection only" in page.locator("#contribution-note").inner_text()
    check_page(page, "goal")
    assert page.locator("#glide tbody tr").count() >= 3
    screenshot(page, "goal-detail")
    assert Goal.objects.get(user=user).portfolios.get() == account
    page.goto(f"{url}/goals/")
    assert "House deposit" in page.content()
    screenshot(page, "goal-list")
