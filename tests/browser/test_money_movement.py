"""Money moving through the proposal path in a real Chromium with a real Celery worker:
deposit -> invest proposal -> approve -> executed with its summary -> withdrawal request ->
proposal with its tax cost -> approve -> paid out. Every page is checked with axe-core and at
390 px (tests/browser/a11y.py). Screenshots go to test-artifacts/."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from advisor.core import clock
from portfolios.models import Transaction
from rebalancing.models import Proposal, WithdrawalRequest
from tests.browser.a11y import check_page
from tests.conftest import screenshot
from tests.factories import UserFactory
from tests.rebalancing.money_world import balanced_account

pytestmark = [pytest.mark.browser]

EMAIL, PASSWORD = "saver@example.com", "saver-password-2026"


def _log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()


def _approve_and_wait(page) -> None:
    page.get_by_test_id("approve").click()
    expect(page.locator("#exec-status")).to_have_attribute(
        "data-status", "executed", timeout=30_000
    )
    expect(page.get_by_test_id("execution-summary")).to_be_visible()
    # No "being sent" or "waiting for approval" above an Executed badge.
    expect(page.locator("#decision")).not_to_contain_text("being sent")
    expect(page.locator("#proposal-badge")).to_have_text("Executed")


@pytest.mark.celery_worker
def test_deposit_invest_then_withdraw_with_its_tax_cost(page, live_server, celery_worker):
    user = UserFactory(email=EMAIL, first_name="Sam", last_name="Saver")
    user.set_password(PASSWORD)
    user.save()
    world = balanced_account(user)
    account = f"{live_server.url}/portfolios/{world.portfolio.pk}/"

    _log_in(page, live_server)
    page.goto(account)
    page.get_by_test_id("deposit-link").click()
    check_page(page, "deposit")
    screenshot(page, "money-deposit")
    page.fill("input[name=amount]", "-50")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("field-error")).to_contain_text("more than $0.00")
    page.fill("input[name=amount]", "1000")
    page.get_by_test_id("submit").click()

    expect(page.get_by_test_id("rule")).to_have_text("Cash flow")
    expect(page.get_by_test_id("trades")).to_contain_text("VTI")
    check_page(page, "invest proposal")
    screenshot(page, "money-invest-proposal")
    _approve_and_wait(page)
    # 889.56 invested of the 1,000 (the 1% buffer of 11,000 stays): about 110 left
    expect(page.get_by_test_id("summary-cash")).to_have_text(re.compile(r"\$110\.\d\d"))
    check_page(page, "invest executed")
    screenshot(page, "money-invest-executed")

    page.goto(account)
    page.get_by_test_id("withdraw-link").click()
    check_page(page, "withdraw")
    screenshot(page, "money-withdraw")
    needed = clock.today() + dt.timedelta(days=10)
    page.fill("input[name=amount]", "20000")
    page.fill("input[name=needed_on]", needed.isoformat())
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("larger than the account")
    page.fill("input[name=amount]", "2000")
    page.fill("input[name=needed_on]", needed.isoformat())
    page.get_by_test_id("submit").click()

    panel = page.get_by_test_id("withdrawal-panel")
    expect(panel).to_contain_text("$2,000.00")
    # VTI was just bought with the deposit, so selling its loss lot would be a wash sale: the
    # 12.006 VTI shares come from the lot bought at 80, a long-term gain of 240.12 taxed at 15%.
    expect(page.get_by_test_id("reason")).to_contain_text("wash sale")
    expect(page.get_by_test_id("withdrawal-tax")).to_have_text("$36.02")
    check_page(page, "withdrawal proposal")
    screenshot(page, "money-withdrawal-proposal")
    _approve_and_wait(page)
    expect(page.get_by_test_id("execution-summary")).to_contain_text("Withdrawal paid out")
    check_page(page, "withdrawal executed")
    screenshot(page, "money-withdrawal-executed")

    page.goto(f"{account}contributions/")
    page.fill("input[name=amount]", "250")
    page.select_option("select[name=frequency]", "monthly")
    page.fill("input[name=day_of_month]", "15")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("schedules")).to_contain_text("Every month, day 15")
    check_page(page, "contributions")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "money-contributions-phone")
    assert WithdrawalRequest.objects.get().status == WithdrawalRequest.Status.PAID
    assert Transaction.objects.filter(kind="withdrawal", portfolio=world.portfolio).count() == 1
    assert Proposal.objects.filter(status=Proposal.Status.EXECUTED).count() == 2
