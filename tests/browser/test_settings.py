"""The investor changes their tax rates in Settings and the proposal shows the new rates and
estimate (Schedule D netting); a rate over 100% is refused. axe-core + 390 px on each page."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.a11y import check_page
from tests.conftest import screenshot
from tests.factories import PASSWORD, UserFactory
from tests.rebalancing.proposal_data import drifted_household

pytestmark = [pytest.mark.browser]


def test_new_tax_rates_show_on_the_proposal(page, live_server) -> None:
    user = UserFactory(email="rates@example.com")
    house = drifted_household(user)  # sells 20 VTI from a short-term lot at a 200 loss
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()

    page.goto(f"{live_server.url}/proposals/{house.proposal.pk}/")
    # The profile's defaults: 24% / 15%, the 200 loss deducted at 24%.
    expect(page.get_by_test_id("tax-rates")).to_contain_text("at 24% short / 15% long")
    expect(page.get_by_test_id("estimated-tax")).to_have_text("saves $48.00")

    page.get_by_role("navigation").get_by_role("link", name="Settings").first.click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    check_page(page, "settings")
    screenshot(page, "settings")
    page.get_by_role("link", name="Edit the policy of Brokerage").click()
    page.get_by_label("Absolute band (percentage points)").fill("0")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("The absolute band cannot be 0%")
    check_page(page, "policy form")
    screenshot(page, "settings-policy")
    page.get_by_label("Absolute band (percentage points)").fill("4")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("settings-policies")).to_contain_text("your own policy")
    expect(page.get_by_test_id("settings-policies")).to_contain_text("4% points")
    page.get_by_role("link", name="Edit tax profile").click()
    page.get_by_label("Federal rate on short-term gains (%)").fill("150")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("you entered 150%")
    check_page(page, "tax profile form")
    page.get_by_label("Federal rate on short-term gains (%)").fill("32")
    page.get_by_label("State rate (%)").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("short-rate")).to_contain_text("37%")

    page.goto(f"{live_server.url}/proposals/{house.proposal.pk}/")
    expect(page.get_by_test_id("tax-rates")).to_contain_text("at 37% short / 20% long")
    # 200 x 37% = 74.00: deducted from ordinary income, nothing else realised this year.
    expect(page.get_by_test_id("estimated-tax")).to_have_text("saves $74.00")
    expect(page.get_by_test_id("tax-netting")).to_contain_text(
        re.compile(r"federal 32% \+ state 5%")
    )
    check_page(page, "proposal")
    screenshot(page, "proposal-tax-netting")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "proposal-tax-netting-phone")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("navigation").get_by_role("link", name="Methodology").first.click()
    expect(page.get_by_test_id("your-settings")).to_contain_text("37% short term, 20% long term")
    expect(page.get_by_test_id("your-settings")).to_contain_text("4% points")
    check_page(page, "methodology")
    page.goto(live_server.url + reverse("portfolios:transaction_create", args=[house.portfolio.pk]))
    expect(page.get_by_text("Sell from these lots (optional)")).to_be_visible()
    expect(page.get_by_label(re.compile(r"VTI: 30 sh bought"))).to_be_visible()
    check_page(page, "transaction form")
    screenshot(page, "transaction-form-lots")
