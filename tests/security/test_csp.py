"""Content-Security-Policy: no inline script or event handler in any template (ours, allauth's,
the admin's), and every HTML page answers with a policy carrying a fresh nonce."""

import re
from pathlib import Path

import allauth
import django
import pytest
from django.test import Client
from django.urls import reverse

from tests.auth import recently_signed_in
from tests.factories import UserFactory
from tests.rebalancing.proposal_data import drifted_household

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE_DIRS = [
    ROOT / "templates",
    Path(allauth.__file__).parent / "templates",
    Path(django.__file__).parent / "contrib" / "admin" / "templates",
]
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
# on*= attributes (onclick, onsubmit, ...), hx-on, and javascript: URLs.
HANDLER = re.compile(r"""\s(on[a-z]+|hx-on[:\w-]*)\s*=\s*["']|javascript:""", re.I)
NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=_-]+)'")


def _templates() -> list[Path]:
    return [p for d in TEMPLATE_DIRS for p in d.rglob("*.html")]


def test_no_template_has_an_inline_script_or_event_handler() -> None:
    offenders = []
    for path in _templates():
        text = path.read_text()
        for match in SCRIPT_TAG.finditer(text):
            attributes = match.group(1)
            if "src=" in attributes or re.search(r'type="application/(ld\+)?json"', attributes):
                continue  # a file, or data (json_script, allauth's data-allauth-onload)
            offenders.append(f"{path}: <script{attributes}>")
        offenders += [f"{path}: {m.group(0).strip()}" for m in HANDLER.finditer(text)]
    assert offenders == []
    assert len(_templates()) > 100  # the three sets were found


def test_the_policy_allows_no_inline_code() -> None:
    from django.conf import settings

    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    scripts = directives["script-src"]
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]


def _html_pages(user, staff) -> list[tuple[object, str]]:
    house = drifted_household(user)
    pages = [
        (None, reverse("account_login")), (None, reverse("account_signup")),
        (None, reverse("account_reset_password")), (None, reverse("methodology")), (None, reverse("dashboard")),
        (user, reverse("dashboard")), (user, reverse("portfolios:list")),
        (user, reverse("portfolios:detail", args=[house.portfolio.pk])),
        (user, reverse("portfolios:edit", args=[house.portfolio.pk])),
        (user, reverse("portfolios:import", args=[house.portfolio.pk])),
        (user, reverse("portfolios:transaction_create", args=[house.portfolio.pk])),
        (user, reverse("onboarding:fund", args=[house.portfolio.pk])),
        (user, reverse("rebalancing:inbox")), (user, reverse("rebalancing:detail", args=[house.proposal.pk])),
        (user, reverse("rebalancing:notifications")), (user, reverse("rebalancing:tax_report")),
        (user, reverse("goals:list")), (user, reverse("goals:create")),
        (user, reverse("performance:household")), (user, reverse("performance:account", args=[house.portfolio.pk])),
        (user, reverse("lab:index")), (staff, reverse("construction:index")),
        (user, reverse("accounts:profile")), (user, reverse("mfa_index")),
        (user, reverse("mfa_activate_totp")), (user, reverse("account_email")),
        (user, reverse("account_change_password")), (user, reverse("mfa_add_webauthn")),
        (staff, reverse("admin:index")), (staff, reverse("admin:portfolios_portfolio_changelist")),
        (staff, reverse("admin:portfolios_portfolio_change", args=[house.portfolio.pk])),
    ]  # fmt: skip
    return pages


@pytest.mark.django_db
def test_every_html_page_has_a_policy_with_a_fresh_nonce(user) -> None:
    admin_user = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    pages = _html_pages(user, admin_user)
    nonces = set()
    for who, url in pages:
        client = Client()
        if who is not None:
            client.force_login(who)
            recently_signed_in(client, method="mfa")  # pages behind a re-authentication too
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html"), url
        policy = response["Content-Security-Policy"]
        match = NONCE.search(policy)
        assert match, (url, policy)
        assert "script-src 'self' 'nonce-" in policy, url
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0], url
        nonces.add(match.group(1))
        body = response.content.decode()
        for tag in SCRIPT_TAG.finditer(body):
            attributes = tag.group(1)
            assert "src=" in attributes or "application/json" in attributes, (url, attributes)
        assert "no-store" in response["Cache-Control"], url
    assert len(nonces) == len(pages)  # a fresh nonce on every response
