"""The adviser's review in a real Chromium: sign in with a second factor, filter the households
by a flag, open one, read its timeline, add a note, sign off the review, export the record as
CSV and as a printable report. Every console page passes axe-core and fits a 390 px phone."""

import csv
import io
import re

import pyotp
import pytest
from playwright.sync_api import expect

from accounts import audit
from accounts.models import AdviserAssignment, AuditEvent, ReviewNote, ReviewSignOff
from tests.browser.a11y import check_page
from tests.conftest import screenshot
from tests.console.households import MUTATIONS, clean_household
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser]


def test_an_adviser_reviews_a_flagged_household(page, live_server) -> None:
    adviser = UserFactory(email="adviser@example.com", first_name="Ari", is_staff=True)
    stale = clean_household("stale@example.com")
    MUTATIONS["stale"](stale)
    calm = clean_household("calm@example.com")
    for account in (stale, calm):
        AdviserAssignment.objects.create(adviser=adviser, household=account.owner)
    audit.record(
        "risk.assessment_submitted", household=stale.owner, actor=stale.owner,
        summary="Questionnaire v1 submitted: level 6",
    )  # fmt: skip

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", adviser.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.fill("input[name=code]", pyotp.TOTP(adviser.totp_secret).now())
    page.click("form button[type=submit]")
    page.get_by_role("link", name="Console").click()
    expect(page.get_by_role("heading", name="Households")).to_be_visible()
    check_page(page, "console list")

    page.select_option("#flag", "stale")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"flag=stale"))
    rows = page.locator("table.households tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("stale@example.com")
    expect(rows.first).to_contain_text("Questionnaire last answered")
    screenshot(page, "console-list-filtered")

    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="What needs attention")).to_be_visible()
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Questionnaire v1 submitted: level 6")
    expect(timeline).to_contain_text("staff.viewed_household")
    check_page(page, "console household")

    page.fill("#note-text", "Asked the client to retake the questionnaire.")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Note added.")).to_be_visible()
    expect(page.locator("ul.notes").first).to_contain_text("retake the questionnaire")

    page.select_option("#result", "action_required")
    page.fill("#comment", "Questionnaire overdue.")
    page.get_by_role("button", name="Sign off review").click()
    expect(page.get_by_text("Review signed off.")).to_be_visible()
    expect(page.get_by_text(re.compile("Last review: Action required by adviser@"))).to_be_visible()
    screenshot(page, "console-household")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    body = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115
    records = list(csv.DictReader(io.StringIO(body)))
    actions = {r["kind"] for r in records if r["record"] == "audit"}
    assert {"review.note_added", "review.signed_off", "staff.viewed_household"} <= actions

    page.get_by_role("button", name="Printable report").click()
    expect(page.get_by_role("heading", name=re.compile("Record of"))).to_be_visible()
    expect(page.locator("table.audit")).to_contain_text("review.signed_off")
    check_page(page, "console report")
    screenshot(page, "console-report")
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    page.emulate_media(media="screen")

    note, review = ReviewNote.objects.get(), ReviewSignOff.objects.get()
    assert note.author == adviser and review.reviewer == adviser
    assert review.result == "action_required"
    signed_in = AuditEvent.objects.filter(actor=adviser, action__startswith="auth.")
    assert set(signed_in.values_list("action", flat=True)) == {"auth.signed_in", "auth.mfa_used"}
    assert audit.verify().ok
