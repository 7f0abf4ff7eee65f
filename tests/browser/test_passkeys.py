"""Passkeys in a real Chromium, with Chromium's virtual authenticator (DevTools protocol,
WebAuthn.addVirtualAuthenticator) standing in for the security key: register a passkey, use it
as the second factor for the step-up before approving a trade, and sign in with it alone.
The page runs under the Content-Security-Policy: a blocked script would fail these steps."""

import re

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from rebalancing.models import Proposal
from tests.conftest import screenshot
from tests.factories import PASSWORD, UserFactory
from tests.rebalancing.proposal_data import drifted_household

pytestmark = [pytest.mark.browser]


@pytest.fixture
def authenticator(page):
    """A CTAP2 platform authenticator with user verification, answering by itself."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    yield cdp, added["authenticatorId"]
    cdp.send("WebAuthn.disable")


def _sign_in_with_password(page, live_server, email: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()


def _confirm_password_if_asked(page) -> None:
    if "/reauthenticate/" in page.url:
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button[type=submit]")


def test_a_passkey_is_added_then_used_for_the_step_up_and_to_sign_in(
    page, live_server, settings, authenticator
) -> None:
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # http://localhost in the test
    cdp, authenticator_id = authenticator
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    user = UserFactory(email="passkey@example.com")
    house = drifted_household(user)

    _sign_in_with_password(page, live_server, user.email)
    page.goto(f"{live_server.url}/accounts/2fa/webauthn/add/?passwordless=1")
    _confirm_password_if_asked(page)
    page.wait_for_url(re.compile("/accounts/2fa/webauthn/add/"))
    page.fill("input[name=name]", "Laptop")
    page.check("input[name=passwordless]")
    page.click("#mfa_webauthn_add")
    page.wait_for_url(lambda url: "/webauthn/add/" not in url)
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).exists()
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    assert len(credentials["credentials"]) == 1
    screenshot(page, "passkey-added")

    # Step-up: with MFA on, approving needs the second factor; the passkey gives it.
    page.goto(f"{live_server.url}/proposals/{house.proposal.pk}/")
    page.click("[data-testid=approve]")
    page.wait_for_url(re.compile("/accounts/2fa/reauthenticate/"))
    screenshot(page, "passkey-step-up")
    button = page.locator("#mfa_webauthn_reauthenticate")
    if not button.count():  # the TOTP form first: follow the link to the security key
        page.click("a[href*='webauthn']")
        button = page.locator("#mfa_webauthn_reauthenticate")
    button.click()
    # Back on the proposal (the htmx click is not replayed), the approval now goes through.
    page.wait_for_url(re.compile(f"/proposals/{house.proposal.pk}/$"))
    assert Proposal.objects.get(pk=house.proposal.pk).status == Proposal.Status.PENDING
    page.click("[data-testid=approve]")
    expect(page.locator("#decision")).to_contain_text("Approved")
    assert Proposal.objects.get(pk=house.proposal.pk).decided_by == user

    # Sign out, then in again with the passkey alone.
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("#passkey_login")
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
    assert not [line for line in console if "Content Security Policy" in line], console
