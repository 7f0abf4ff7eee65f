"""Portfolio construction in a real Chromium: a staff member builds a revision of a model by
maximum Sharpe with a bond floor, a second staff member reviews and publishes it, then an
investor opens the portfolio lab and sees the frontier with their own portfolio on it, and the
risk result shows the recommended model on the frontier. Screenshots go to test-artifacts/."""

import re
from decimal import Decimal

import pyotp
import pytest
from playwright.sync_api import expect

from accounts.models import AuditEvent
from portfolios import demo
from portfolios.models import ModelPortfolio, ModelVersion
from tests.browser.a11y import check_page
from tests.conftest import screenshot
from tests.construction.data import BONDS, assessment_at_level
from tests.factories import PASSWORD, PortfolioFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, url: str, user) -> None:
    page.context.clear_cookies()
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    if getattr(user, "totp_secret", None):
        page.wait_for_url(re.compile("/accounts/2fa/authenticate/"))
        page.fill("input[name=code]", pyotp.TOTP(user.totp_secret).now())
        page.click("form button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_staff_build_and_publish_a_model_then_an_investor_opens_the_lab(page, live_server) -> None:
    demo.seed_reference_data()
    url = live_server.url
    model = ModelPortfolio.objects.get(slug="conservative")
    author = UserFactory(email="author@example.com", is_staff=True)
    reviewer = UserFactory(email="reviewer@example.com", is_staff=True)

    # The author builds a draft: max Sharpe, bonds at least 80% (the floor binds: max Sharpe
    # alone holds about 76% in bonds on the capital market assumptions).
    sign_in(page, url, author)
    page.get_by_role("link", name="Models").click()
    page.wait_for_url(f"{url}/construction/")
    check_page(page, "model list")
    page.get_by_role("link", name="Build a revision of Conservative", exact=True).click()
    page.wait_for_url(re.compile(r"/construction/models/\d+/$"))
    screenshot(page, "construction-model")
    check_page(page, "model page")
    page.select_option("select[name=method]", "max_sharpe")
    page.fill("input[name=bonds_min]", "80")
    page.fill("input[name=bonds_max]", "70")  # first a floor above the cap: a clear message
    page.fill("textarea[name=reason]", "Conservative: at least 80% bonds under the 2027 CMAs")
    page.get_by_role("button", name="Build the draft").click()
    expect(page.locator("#form-errors")).to_contain_text("group limits cannot be met")
    assert not ModelVersion.objects.exists()
    page.fill("input[name=bonds_max]", "")
    page.get_by_role("button", name="Build the draft").click()
    page.wait_for_url(re.compile(r"/construction/versions/\d+/$"))
    expect(page.locator("#version-status")).to_have_text("Draft")
    expect(page.locator("#review")).to_contain_text("a second staff member reviews")
    page.wait_for_function("() => Chart.getChart('version-frontier') !== undefined")
    screenshot(page, "construction-draft")
    check_page(page, "version page (author)")
    version = ModelVersion.objects.get()
    assert sum(version.weights.get(c, 0) for c in BONDS) == pytest.approx(0.8, abs=2e-4)

    # A second staff member reviews and publishes it.
    sign_in(page, url, reviewer)
    page.goto(f"{url}/construction/versions/{version.pk}/")
    page.fill("textarea[name=note]", "Bond floor checked against the policy")
    screenshot(page, "construction-review")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#version-status")).to_have_text("Published")
    check_page(page, "version page (published)")
    allocation = {
        a.asset_class.code: a.weight for a in model.allocations.select_related("asset_class")
    }
    assert allocation == {
        c: Decimal(str(w)).quantize(Decimal("0.000001")) for c, w in version.weights.items()
    }
    assert AuditEvent.objects.filter(action="model.version_published", actor=reviewer).exists()

    # An investor following that model opens the lab: weights, risk, frontier with their points.
    investor = UserFactory(email="investor@example.com")
    PortfolioFactory(owner=investor, name="Brokerage", model=model)
    assessment = assessment_at_level(investor, level=3, max_level=5)
    sign_in(page, url, investor)
    page.get_by_role("link", name="Lab").click()
    page.wait_for_url(f"{url}/lab/")
    page.wait_for_function("() => Chart.getChart('lab-frontier') !== undefined")
    labels = page.evaluate("() => Chart.getChart('lab-frontier').data.datasets.map(d => d.label)")
    assert labels[0] == "Efficient frontier" and "Your target" in labels
    assert page.evaluate("() => Chart.getChart('lab-frontier').data.datasets[0].data.length") == 25
    expect(page.locator("#method-explanation")).to_contain_text("risk-free rate")
    screenshot(page, "lab")
    check_page(page, "portfolio lab")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)  # let the chart resize
    screenshot(page, "lab-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Risk parity, then a target beyond their capacity is refused in plain words.
    page.select_option("select[name=method]", "risk_parity")
    page.get_by_role("button", name="Build").click()
    expect(page.locator("#method-explanation")).to_contain_text("same share of the portfolio")
    page.get_by_label("Brokerage (Taxable)").check()
    page.get_by_role("button", name="Use it as my target").click()
    page.wait_for_url(f"{url}/portfolios/")
    expect(page.locator(".messages")).to_contain_text("custom target now applies to: Brokerage")

    # The risk result shows where the recommended model sits on the frontier.
    page.goto(f"{url}/profile/assessments/{assessment.pk}/")
    page.wait_for_function("() => Chart.getChart('model-frontier-chart') !== undefined")
    screenshot(page, "assessment-frontier")
    check_page(page, "risk result")
