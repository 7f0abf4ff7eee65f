"""The "Check drift now" button on an account page, in a real Chromium: the drift check runs,
the investor lands on the new proposal with the reason and the trades."""

import re

import pytest
from playwright.sync_api import expect

from rebalancing.models import Proposal
from tests.conftest import screenshot
from tests.factories import PASSWORD, UserFactory
from tests.rebalancing import drift_world
from tests.rebalancing.drift_world import make_portfolios, make_world

pytestmark = [pytest.mark.browser]


def test_check_drift_now_from_the_account_page(page, live_server, time_machine):
    time_machine.move_to(drift_world.MOMENT)
    user = UserFactory(email="checker@example.com")
    world = make_world()
    (portfolio,) = make_portfolios(world, 1, owner=user)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.goto(f"{live_server.url}/portfolios/{portfolio.pk}/")
    button = page.get_by_role("button", name="Check drift now")
    expect(button).to_be_visible()
    screenshot(page, "account-check-drift-now")

    button.click()
    proposal = Proposal.objects.get(portfolio=portfolio, status="pending")
    expect(page).to_have_url(re.compile(rf"/proposals/{proposal.pk}/$"))
    expect(
        page.get_by_text("Checked: a rebalance proposal is waiting for your approval.")
    ).to_be_visible()
    expect(page.get_by_text("US bonds is at 30.0%").first).to_be_visible()
    screenshot(page, "check-drift-now-proposal")
