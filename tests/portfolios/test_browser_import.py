"""The accounts pages and the import wizard in a real Chromium: list, detail with chart, a bad
file (every error shown, nothing importable), a good file (preview, confirm, lots appear)."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from advisor.core import clock
from portfolios import demo
from portfolios.models import ImportBatch, Portfolio, TaxLot
from rebalancing import demo as seeding
from tests.browser.a11y import check_page
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.celery_worker]

GOOD = b"ticker,quantity,cost_basis,acquired_on\nBNDX,12.5,690.00,2023-04-03\nVTIP,30,1425.00,2024-02-12\n"


def bad_file(future: str) -> bytes:
    return GOOD + f"ZZZZ,3,10,2024-01-01\nVTI,-2,500,2024-01-01\nVEA,4,200,{future}\n".encode()


def test_the_investor_reviews_accounts_and_imports_lots_through_the_wizard(
    page, live_server, celery_worker
) -> None:
    seeding.seed_demo(today=clock.today())
    future = (clock.today() + dt.timedelta(days=400)).isoformat()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", demo.DEMO_EMAIL)
    page.fill("input[name=password]", demo.DEMO_PASSWORD)
    page.click("form button[type=submit]")
    page.goto(f"{live_server.url}/portfolios/")
    expect(page.get_by_role("heading", name="Investment accounts")).to_be_visible()
    expect(page.get_by_role("link", name="Taxable brokerage")).to_be_visible()
    screenshot(page, "portfolios-account-list")

    page.get_by_role("link", name="Taxable brokerage").click()
    expect(page.get_by_role("heading", name="Tax lots")).to_be_visible()
    page.wait_for_function("() => window.Chart && Chart.getChart('allocation-chart')")
    expect(page.locator("td.neg").first).to_be_visible()  # lots under water are shown in red
    screenshot(page, "portfolios-account-detail")

    roth = Portfolio.objects.get(owner__email=demo.DEMO_EMAIL, tax_treatment="roth_ira")
    lots_before = TaxLot.objects.filter(portfolio=roth).count()
    page.goto(f"{live_server.url}/portfolios/{roth.pk}/")
    page.get_by_role("link", name="Import CSV").click()
    page.select_option("select[name=kind]", "lots")
    page.set_input_files(
        "input[name=file]",
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": bad_file(future)}],
    )
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_text("unknown ticker 'ZZZZ'")).to_be_visible()
    expect(page.get_by_text("quantity -2 must be more than zero")).to_be_visible()
    expect(
        page.get_by_text(re.compile(rf"acquired date {future} is in the future"))
    ).to_be_visible()
    expect(page.locator("#confirm-import")).to_have_count(0)
    screenshot(page, "portfolios-import-errors")
    assert TaxLot.objects.filter(portfolio=roth).count() == lots_before

    page.get_by_role("link", name="Upload another file").click()
    page.set_input_files(
        "input[name=file]",
        files=[{"name": "roth-lots.csv", "mimeType": "text/csv", "buffer": GOOD}],
    )
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_text("Every row is valid")).to_be_visible()
    screenshot(page, "portfolios-import-preview")
    assert TaxLot.objects.filter(portfolio=roth).count() == lots_before  # the preview wrote nothing

    page.locator("#confirm-import").click()
    # The worker writes the rows; the page polls the progress partial until it is done.
    expect(page.locator("#import-progress")).to_be_visible()
    expect(page.get_by_text("Imported 2 rows from roth-lots.csv")).to_be_visible(timeout=30_000)
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "imported")
    expect(page.locator("#import-badge")).to_have_text("Imported")  # the badge follows
    check_page(page)
    screenshot(page, "portfolios-import-done")
    page.get_by_role("link", name=re.compile(r"Open Roth")).click()
    expect(page.get_by_role("cell", name="VTIP").first).to_be_visible()
    assert TaxLot.objects.filter(portfolio=roth).count() == lots_before + 2
    assert (
        ImportBatch.objects.get(portfolio=roth, filename="roth-lots.csv").status
        == ImportBatch.Status.IMPORTED
    )
