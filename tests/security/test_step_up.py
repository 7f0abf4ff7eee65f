"""Step-up before changing an account's broker details (bank-like settings); approving trades
is covered in tests/rebalancing/test_views.py."""

import datetime as dt

import pyotp
import pytest
import time_machine
from django.urls import reverse

from advisor.core import clock
from portfolios.models import Portfolio
from tests.auth import recently_signed_in
from tests.factories import PASSWORD, PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGE = {"name": "Brokerage", "tax_treatment": "taxable", "broker_name": "Evil Broker",
          "account_number_last4": "6666", "is_active": "on"}  # fmt: skip


def _broker(portfolio: Portfolio) -> str:
    return Portfolio.objects.values_list("broker_name", flat=True).get(pk=portfolio.pk)


def test_changing_broker_details_on_an_old_sign_in_asks_for_the_password(client, user) -> None:
    portfolio = PortfolioFactory(owner=user, name="Brokerage", broker_name="Good Broker")
    url = reverse("portfolios:edit", args=[portfolio.pk])
    client.force_login(user)
    with time_machine.travel(clock.now() - dt.timedelta(hours=1), tick=False):
        recently_signed_in(client)
    assert client.get(url).status_code == 200  # looking needs no step-up
    response = client.post(url, CHANGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert _broker(portfolio) == "Good Broker"
    resumed = client.post(
        reverse("account_reauthenticate") + f"?next={url}", {"password": PASSWORD}
    )
    assert resumed.status_code == 302
    assert _broker(portfolio) == "Evil Broker"


def test_with_mfa_the_change_needs_the_second_factor(client) -> None:
    user = UserFactory(email="mfa@example.com", totp=True)
    portfolio = PortfolioFactory(owner=user, name="Brokerage", broker_name="Good Broker")
    url = reverse("portfolios:edit", args=[portfolio.pk])
    client.force_login(user)
    recently_signed_in(client, method="password")
    response = client.post(url, CHANGE)
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))
    assert _broker(portfolio) == "Good Broker"
    code = pyotp.TOTP(user.totp_secret).now()
    client.post(reverse("mfa_reauthenticate") + f"?next={url}", {"code": code})
    assert _broker(portfolio) == "Evil Broker"


def test_another_users_account_is_a_404_before_any_step_up(client, user, other_user) -> None:
    theirs = PortfolioFactory(owner=other_user, name="Theirs")
    client.force_login(user)
    assert client.post(reverse("portfolios:edit", args=[theirs.pk]), CHANGE).status_code == 404
