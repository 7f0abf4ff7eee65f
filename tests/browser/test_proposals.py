"""The investor's whole loop in a real Chromium, with a real Celery worker executing trades:
log in, see the drift proposal, open it, approve, watch it execute, see the new allocation;
a rejection; an expired proposal refused. Screenshots go to test-artifacts/."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from rebalancing.models import Proposal
from tests.conftest import screenshot
from tests.factories import UserFactory
from tests.rebalancing.proposal_data import drifted_household

pytestmark = [pytest.mark.browser]

EMAIL, PASSWORD = "demo@example.com", "demo-password-2026"


def _demo_investor():
    user = UserFactory(email=EMAIL, first_name="Dana", last_name="Demo")
    user.set_password(PASSWORD)
    user.save()
    return user


def _log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()


@pytest.mark.celery_worker
def test_the_investor_approves_a_drift_proposal_and_watches_it_execute(
    page, live_server, celery_worker
):
    user = _demo_investor()
    house = drifted_household(user)

    _log_in(page, live_server)
    expect(page.get_by_test_id("waiting-count")).to_have_text("1")
    # US stocks 80% of the invested value vs 60%: the same 20 points the proposal gives
    expect(page.get_by_text("+20.0 pts").first).to_be_visible()
    page.wait_for_function("document.querySelector('#value-chart').width > 0")
    screenshot(page, "dashboard")

    page.get_by_test_id("waiting-proposal").first.click()
    expect(page.get_by_test_id("reason")).to_contain_text("20.0 points above target")
    expect(page.get_by_test_id("trades")).to_contain_text("lot bought")
    screenshot(page, "proposal-detail")

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)  # let the charts resize
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "proposal-detail-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    url_before = page.url
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("decision-message")).to_contain_text("Approved")
    assert page.url == url_before  # htmx swapped the panel, no reload
    expect(page.locator("#exec-status")).to_have_attribute(
        "data-status", "executed", timeout=30_000
    )
    expect(page.locator("#exec-status")).to_contain_text("Filled")
    expect(page.locator("#proposal-badge")).to_have_text("Executed")  # header updated out of band
    expect(page.locator("#expiry-box")).to_be_empty()
    screenshot(page, "proposal-executed")

    page.get_by_role("link", name="See your updated allocation →").click()
    expect(page.get_by_test_id("waiting-count")).to_have_text("0")
    # after: VTI 60 x 100 = 6,000 of the 10,400 invested (bonds 88 x 50 = 4,400) = 57.7%
    expect(page.get_by_text("57.7%").first).to_be_visible()
    screenshot(page, "dashboard-after")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "dashboard-phone")
    assert Proposal.objects.get(pk=house.proposal.pk).status == Proposal.Status.EXECUTED


def test_rejecting_and_an_expired_proposal(page, live_server):
    user = _demo_investor()
    first = drifted_household(user, name="Brokerage")
    second = drifted_household(user, name="Joint account")
    Proposal.objects.filter(pk=second.proposal.pk).update(
        expires_at=second.proposal.created_at - dt.timedelta(hours=1)
    )

    _log_in(page, live_server)
    page.goto(f"{live_server.url}/proposals/")
    expect(page.get_by_test_id("pending-count")).to_have_text("2")
    screenshot(page, "proposal-inbox")

    page.goto(f"{live_server.url}/proposals/{first.proposal.pk}/")
    page.get_by_text("Reject instead…").click()
    page.fill("#reject-note", "I will deposit cash next week")
    page.get_by_test_id("reject").click()
    expect(page.get_by_test_id("decision-message")).to_have_text(
        "Rejected. Nothing will be traded."
    )
    expect(page.locator("#decision")).to_contain_text("I will deposit cash next week")

    page.goto(f"{live_server.url}/proposals/{second.proposal.pk}/")
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("decision-message")).to_contain_text("Expired: older than")
    expect(page.get_by_test_id("recheck")).to_be_visible()
    screenshot(page, "proposal-expired")
    assert Proposal.objects.get(pk=second.proposal.pk).status == Proposal.Status.EXPIRED
    assert Proposal.objects.get(pk=first.proposal.pk).status == Proposal.Status.REJECTED
