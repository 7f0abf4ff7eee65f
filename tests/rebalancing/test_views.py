"""Proposal pages and the dashboard: ownership (404), CSRF, MFA reauthentication, htmx
fragments, bounded queries."""

import datetime as dt
from decimal import Decimal

import pyotp
import pytest
import time_machine
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse

from advisor.core import clock
from portfolios import ledger
from rebalancing.models import Notification, Proposal
from tests.auth import recently_signed_in, sign_in
from tests.factories import PASSWORD, PortfolioFactory
from tests.rebalancing.proposal_data import drifted_household, last_weekday

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def house(user):
    return drifted_household(user)


def _status(proposal) -> str:
    return Proposal.objects.values_list("status", flat=True).get(pk=proposal.pk)


def test_inbox_and_detail_show_the_proposal_with_its_lots_and_reason(client, user, house):
    client.force_login(user)
    inbox = client.get(reverse("rebalancing:inbox"))
    assert inbox.status_code == 200
    assert f"Rebalance #{house.proposal.pk}" in inbox.text

    page = client.get(reverse("rebalancing:detail", args=[house.proposal.pk]))
    assert page.status_code == 200
    assert "US stocks are 20.0 points above target" in page.text
    assert "lot bought" in page.text and "short term" in page.text  # the 110-basis lot
    assert "basis $2,200.00" in page.text  # 20 of 30 shares of a 3,300 lot
    assert "saves $48.00" in page.text
    assert 'id="countdown"' in page.text


@pytest.mark.parametrize("name", ["detail", "status"])
def test_another_user_cannot_see_a_proposal(client, other_user, house, name):
    client.force_login(other_user)
    assert client.get(reverse(f"rebalancing:{name}", args=[house.proposal.pk])).status_code == 404
    assert f"#{house.proposal.pk}" not in client.get(reverse("rebalancing:inbox")).text


@pytest.mark.parametrize("name", ["approve", "reject", "recheck"])
def test_another_user_cannot_act_on_a_proposal(client, other_user, house, name):
    client.force_login(other_user)
    response = client.post(reverse(f"rebalancing:{name}", args=[house.proposal.pk]), **HTMX)
    assert response.status_code == 404
    assert _status(house.proposal) == Proposal.Status.PENDING


def test_approve_and_reject_require_a_csrf_token(user, house, django_capture_on_commit_callbacks):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    recently_signed_in(client)
    url = reverse("rebalancing:approve", args=[house.proposal.pk])
    assert client.post(url, **HTMX).status_code == 403
    assert client.post(reverse("rebalancing:reject", args=[house.proposal.pk])).status_code == 403
    assert _status(house.proposal) == Proposal.Status.PENDING

    client.get(reverse("rebalancing:detail", args=[house.proposal.pk]))  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(url, HTTP_X_CSRFTOKEN=token, **HTMX)
    assert response.status_code == 200
    assert _status(house.proposal) == Proposal.Status.APPROVED
    assert len(queued) == 1  # execute_proposal queued after the commit


def test_htmx_approve_returns_the_live_status_fragment(client, user, house):
    client.force_login(user)
    recently_signed_in(client)
    response = client.post(
        reverse("rebalancing:approve", args=[house.proposal.pk]), {"note": "go ahead"}, **HTMX
    )
    assert response.status_code == 200
    assert "<html" not in response.text  # a fragment, no full reload
    assert 'id="decision"' in response.text and 'hx-trigger="every 1s"' in response.text
    proposal = Proposal.objects.get(pk=house.proposal.pk)
    assert proposal.decided_by == user and proposal.decision_note == "go ahead"


def test_reject_with_a_reason(client, user, house):
    client.force_login(user)
    recently_signed_in(client)
    response = client.post(
        reverse("rebalancing:reject", args=[house.proposal.pk]),
        {"note": "waiting for a deposit"},
        **HTMX,
    )
    assert "Rejected. Nothing will be traded." in response.text
    proposal = Proposal.objects.get(pk=house.proposal.pk)
    assert (
        proposal.status == Proposal.Status.REJECTED
        and proposal.decision_note == "waiting for a deposit"
    )
    # approving a rejected proposal is refused
    again = client.post(reverse("rebalancing:approve", args=[house.proposal.pk]), **HTMX)
    assert "is rejected and can no longer be approved" in again.text


def test_a_stale_proposal_is_refused_with_a_recheck_button(client, user, house):
    # a deposit after the proposal was made changes the holdings fingerprint
    ledger.record_cash(
        house.portfolio, kind="deposit", amount=Decimal("100"), trade_date=last_weekday()
    )
    client.force_login(user)
    recently_signed_in(client)
    response = client.post(reverse("rebalancing:approve", args=[house.proposal.pk]), **HTMX)
    assert "holdings or cash changed" in response.text
    assert 'data-testid="recheck"' in response.text
    assert _status(house.proposal) == Proposal.Status.EXPIRED
    assert Notification.objects.filter(proposal=house.proposal, kind="expired").exists()
    recheck = client.post(reverse("rebalancing:recheck", args=[house.proposal.pk]), **HTMX)
    assert recheck.status_code == 204 and recheck["HX-Redirect"]


def test_with_mfa_on_approval_needs_a_recent_second_factor_not_the_password(client, user, house):
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    client.force_login(user)
    recently_signed_in(client, method="password")  # a password alone, just now
    url = reverse("rebalancing:approve", args=[house.proposal.pk])

    plain = client.post(url)
    assert plain.status_code == 302 and plain["Location"].startswith(reverse("mfa_reauthenticate"))
    htmx = client.post(url, HTTP_HX_CURRENT_URL="http://testserver/proposals/1/", **HTMX)
    assert htmx.status_code == 204
    assert htmx["HX-Redirect"].startswith(reverse("mfa_reauthenticate"))
    # The password re-authentication still does not count.
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert client.post(url, **HTMX).status_code == 204
    assert _status(house.proposal) == Proposal.Status.PENDING

    code = pyotp.TOTP(secret).now()
    reauth = client.post(reverse("mfa_reauthenticate"), {"code": code})
    assert reauth.status_code == 302
    response = client.post(url, **HTMX)
    assert response.status_code == 200 and "Approved" in response.text
    assert _status(house.proposal) == Proposal.Status.APPROVED


def test_without_mfa_an_old_sign_in_must_confirm_the_password(client, user, house):
    client.force_login(user)
    url = reverse("rebalancing:approve", args=[house.proposal.pk])
    with time_machine.travel(clock.now() - dt.timedelta(hours=1), tick=False):
        recently_signed_in(client)  # signed in an hour ago
    response = client.post(url, **HTMX)
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("account_reauthenticate"))
    assert _status(house.proposal) == Proposal.Status.PENDING

    # A full-page POST is kept and resumed after the password is confirmed.
    assert client.post(url, {"note": "after the check"})["Location"].startswith(
        reverse("account_reauthenticate")
    )
    resumed = client.post(
        reverse("account_reauthenticate") + f"?next={url}", {"password": PASSWORD}
    )
    assert resumed.status_code in (200, 302)
    proposal = Proposal.objects.get(pk=house.proposal.pk)
    assert proposal.status == Proposal.Status.APPROVED
    assert proposal.decision_note == "after the check"


def test_a_fresh_password_sign_in_is_enough_without_mfa(client, user, house):
    assert sign_in(client, user.email).status_code == 302
    response = client.post(reverse("rebalancing:approve", args=[house.proposal.pk]), **HTMX)
    assert response.status_code == 200 and _status(house.proposal) == Proposal.Status.APPROVED


def test_notification_centre_is_per_user(client, user, other_user, house):
    client.force_login(user)
    client.post(reverse("rebalancing:reject", args=[house.proposal.pk]))
    Notification.objects.create(user=user, kind="waiting", title="A proposal is waiting", url="/")
    Notification.objects.create(user=other_user, kind="waiting", title="Charlie's secret")
    page = client.get(reverse("rebalancing:notifications"))
    assert "A proposal is waiting" in page.text and "Charlie" not in page.text
    client.post(reverse("rebalancing:notifications_read"), **HTMX)
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=other_user, read_at__isnull=True).exists()


def _more_lots(owner, accounts: int, lots_per_account: int, house) -> None:
    day = last_weekday()
    for a in range(accounts):
        portfolio = PortfolioFactory(owner=owner, name=f"Extra {a}", model=house.portfolio.model)
        for i in range(lots_per_account):
            ledger.record_transfer_in(
                portfolio,
                security=house.stocks if i % 2 else house.bonds,
                quantity=Decimal("1") + i,
                cost_basis=Decimal("50") * (i + 1),
                acquired_on=day - dt.timedelta(days=3 * i + 1),
            )


def test_dashboard_shows_value_drift_and_waiting_proposals(client, user, house):
    client.force_login(user)
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    # 80 x 100 + 40 x 50 + 500 cash
    assert 'data-testid="household-value">$10,500<' in page.text
    assert 'data-testid="waiting-count">1<' in page.text
    # US stocks: 8,000 of 10,000 invested = 80% vs 60%, as the drift check measures it
    assert "+20.0 pts" in page.text
    assert "outside" in page.text
    assert page.context["history"]["values"][-1] == 10500.0


def test_pages_run_a_bounded_number_of_queries(client, user, house, django_assert_max_num_queries):
    client.force_login(user)
    # 27: the ledger history (transactions, closes) and the tax saved total are read too.
    with django_assert_max_num_queries(27) as small:
        client.get(reverse("dashboard"))
    _more_lots(user, accounts=4, lots_per_account=40, house=house)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(reverse("dashboard")).status_code == 200
    for name in ("detail", "status"):
        with django_assert_max_num_queries(15):
            client.get(reverse(f"rebalancing:{name}", args=[house.proposal.pk]))
    with django_assert_max_num_queries(12):
        client.get(reverse("rebalancing:inbox"))


def test_methodology_reads_the_current_parameters(client, settings):
    settings.ADVISOR_PAPER_SLIPPAGE_BPS = 7.5
    settings.ADVISOR_PROPOSAL_TTL_HOURS = 48
    page = client.get(reverse("methodology"))
    assert page.status_code == 200
    assert "7.5 bp" in page.text
    assert "expires after 48 hours" in page.text
    assert "5 percentage points" in page.text and "25% of its target weight" in page.text


def test_the_admin_sees_proposals_with_their_execution_details(client, user, house):
    from tests.factories import UserFactory

    admin_user = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    assert client.get(reverse("admin:rebalancing_proposal_changelist")).status_code == 200
    page = client.get(reverse("admin:rebalancing_proposal_change", args=[house.proposal.pk]))
    assert page.status_code == 200
    assert house.proposal.trades.first().idempotency_key in page.text
    assert client.get(reverse("admin:rebalancing_paperorder_changelist")).status_code == 200
    assert client.get(reverse("admin:rebalancing_notification_changelist")).status_code == 200
