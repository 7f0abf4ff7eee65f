"""The backtest and stress tests in a real Chromium: the investor opens the backtest of their
account, compares two band widths, sees the stress-test loss beside the loss they said they
could bear, and a band of 0% is refused with a message."""

import re

import pytest
from playwright.sync_api import expect

from rebalancing.models import BacktestRun
from rebalancing.services import backtests
from tests.browser.a11y import check_page
from tests.conftest import screenshot
from tests.factories import PASSWORD, UserFactory
from tests.rebalancing.backtest_world import answer_questionnaire, make_backtest_world

pytestmark = [pytest.mark.browser]


def test_the_investor_compares_two_bands_and_reads_the_stress_test(page, live_server, today):
    user = UserFactory(email="backtester@example.com")
    world = make_backtest_world(user, today)
    answer_questionnaire(user)  # "worst -12%"
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()

    page.goto(f"{live_server.url}/portfolios/{world.portfolio.pk}/")
    tolerance = page.get_by_test_id("stress-tolerance")
    expect(tolerance).to_contain_text("You said you could bear a loss of 12%")
    expect(tolerance).to_contain_text("$1,440")
    expect(page.get_by_test_id("stress-worst")).to_have_text("-$2,340")
    expect(tolerance).to_contain_text("more than you said you could bear")
    check_page(page, "account with stress panel")
    screenshot(page, "account-stress-panel")

    page.get_by_role("link", name="Backtest this account's rebalancing policy").first.click()
    expect(page.get_by_role("heading", name="Backtest: Backtested account")).to_be_visible()
    page.get_by_label("Band widths to compare (%)").fill("2, 10")
    page.get_by_role("button", name="Run backtest").click()
    metrics = page.get_by_test_id("backtest-metrics")
    expect(metrics.get_by_role("columnheader", name="2-point band")).to_be_visible()
    expect(metrics.get_by_role("columnheader", name="10-point band")).to_be_visible()
    expect(metrics.get_by_role("columnheader", name="Your policy")).to_be_visible()
    expect(
        metrics.get_by_role("rowheader", name="After-tax value (sold on the last day)")
    ).to_be_visible()
    expect(page.get_by_text(re.compile("30.0%.*short-term gains"))).to_be_visible()
    expect(page.locator("#backtest-value-chart")).to_be_visible()
    check_page(page, "backtest")
    screenshot(page, "backtest-two-bands")

    page.get_by_label("Band widths to compare (%)").fill("0")
    page.get_by_role("button", name="Run backtest").click()
    expect(page.get_by_text(re.compile("A band of 0% cannot be backtested"))).to_be_visible()
    check_page(page, "backtest refused")

    page.goto(f"{live_server.url}/")
    expect(page.get_by_test_id("stress-table")).to_contain_text("Stocks fall 30%")
    page.get_by_label("US stocks").fill("-50")
    page.get_by_role("button", name="Add my scenario to the table").click()
    own = page.get_by_role("row").filter(has_text="Your own scenario")
    expect(own).to_contain_text("-$3,900")
    expect(own).to_contain_text("beyond your limit")
    check_page(page, "dashboard with stress panel")
    screenshot(page, "dashboard-stress-panel")


def test_a_long_backtest_runs_on_a_worker_and_the_page_shows_it_when_done(
    page, live_server, today, celery_worker, monkeypatch
):
    # Every backtest counts as long here: the request queues it for the real worker.
    monkeypatch.setattr(backtests, "INLINE_CELLS", 0)
    user = UserFactory(email="patient@example.com")
    world = make_backtest_world(user, today)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()

    page.goto(f"{live_server.url}/backtests/accounts/{world.portfolio.pk}/?bands=4")
    # The first answer is the progress bar (the run was only queued); htmx polls it each second.
    expect(page.get_by_role("progressbar", name="Backtest progress")).to_be_attached()
    expect(page.get_by_test_id("backtest-metrics")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("columnheader", name="4-point band")).to_be_visible()
    run = BacktestRun.objects.get(portfolio=world.portfolio)
    assert run.status == BacktestRun.Status.DONE and run.progress == 100
    assert run.started_at is not None  # claimed and computed by the worker, once
    check_page(page, "backtest from the worker")
