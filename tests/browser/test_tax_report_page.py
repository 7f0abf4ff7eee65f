"""The tax report page in a real Chromium: the figures, the wash-sale notes, the CSV download."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot
from tests.factories import PASSWORD, UserFactory
from tests.rebalancing.test_tax_report import make_history

pytestmark = [pytest.mark.browser]


def test_the_investor_reads_the_tax_report_and_downloads_form_8949(page, live_server) -> None:
    user = UserFactory(email="taxes@example.com")
    make_history(user)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/proposals/taxes/2026/")
    expect(page.get_by_role("heading", name="Tax report 2026")).to_be_visible()
    expect(page.get_by_test_id("st-gain")).to_have_text("-$700.00")
    expect(page.get_by_test_id("lt-gain")).to_have_text("$500.00")
    expect(page.get_by_test_id("wash")).to_have_text("$500.00")
    expect(page.get_by_text(re.compile("permanently disallowed")).first).to_be_visible()
    screenshot(page, "tax-report")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download Form 8949 CSV").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert "I,100 sh VTI,01/05/2026,03/02/2026,4000.00,5000.00,W,300.00,-700.00" in text
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "tax-report-phone")
