import re

import pytest
from django.core import mail

from accounts.models import User
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_verify_email_sign_in_and_see_the_dashboard(page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=first_name]", "Grace")
    page.fill("input[name=email]", "newcomer@example.com")
    page.fill("input[name=password1]", "a-long-unusual-passphrase-42")
    page.fill("input[name=password2]", "a-long-unusual-passphrase-42")
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    assert "Verify Your Email Address" in page.content() or "verify" in page.content().lower()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["newcomer@example.com"]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[0].body).group(0)
    page.goto(link.replace("http://testserver", live_server.url))
    page.click("form button[type=submit]")  # confirm the address (POST, not on GET)

    # Logged in on confirmation: the dashboard greets the new investor.
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").first.inner_text().strip() == "Welcome, Grace"
    screenshot(page, "signup-dashboard")
    assert User.objects.get(email="newcomer@example.com").emailaddress_set.get().verified

    page.click("text=Sign out")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", "newcomer@example.com")
    page.fill("input[name=password]", "a-long-unusual-passphrase-42")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert "newcomer@example.com" in page.content() and "Welcome, Grace" in page.content()
