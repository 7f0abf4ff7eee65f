"""The money pages: forms refuse bad input with a message and change nothing; good input goes
to the proposal (or back to the page)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from advisor.core import clock
from portfolios.models import Transaction
from rebalancing.models import ContributionSchedule, Proposal, WithdrawalRequest
from tests.factories import UserFactory
from tests.rebalancing.money_world import balanced_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client):
    owner = UserFactory()
    client.force_login(owner)
    return balanced_account(owner)


def _unchanged():
    return (
        Transaction.objects.count(),
        AuditEvent.objects.count(),
        Proposal.objects.count(),
        WithdrawalRequest.objects.count(),
        ContributionSchedule.objects.count(),
    )


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("money:deposit", {"amount": "-5"}, "must be more than $0.00"),
        ("money:deposit", {"amount": "abc"}, "is not a number"),
        ("money:withdraw", {"amount": "50", "needed_on": "2000-01-01"}, "is in the past"),
        ("money:withdraw", {"amount": "99999", "needed_on": ""}, "This field is required"),
        (
            "money:contributions",
            {"amount": "100", "frequency": "monthly", "day_of_month": "31"},
            "less than or equal to 28",
        ),
        (
            "money:contributions",
            {"amount": "0", "frequency": "weekly", "day_of_month": "1"},
            "must be more than $0.00",
        ),
    ],
)
def test_bad_input_gets_a_message_and_changes_nothing(client, world, name, data, message):
    before = _unchanged()
    response = client.post(reverse(name, args=[world.portfolio.pk]), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert _unchanged() == before


def test_a_withdrawal_larger_than_the_account_is_refused(client, world):
    needed = (clock.today() + dt.timedelta(days=5)).isoformat()
    response = client.post(
        reverse("money:withdraw", args=[world.portfolio.pk]),
        {"amount": "10000.01", "needed_on": needed},
    )
    assert "is worth 10,000.00: a withdrawal of 10,000.01 is larger than the account" in (
        response.content.decode()
    )
    assert not WithdrawalRequest.objects.exists()


def test_deposit_goes_to_its_invest_proposal(client, world):
    page = client.get(reverse("money:deposit", args=[world.portfolio.pk])).content.decode()
    assert 'name="key"' in page
    response = client.post(
        reverse("money:deposit", args=[world.portfolio.pk]), {"amount": "1000", "key": "abc"}
    )
    proposal = Proposal.objects.pending().get(portfolio=world.portfolio)
    assert response.url == reverse("rebalancing:detail", args=[proposal.pk])


def test_schedule_a_contribution_then_stop_it(client, world):
    url = reverse("money:contributions", args=[world.portfolio.pk])
    client.post(url, {"amount": "250", "frequency": "monthly", "day_of_month": "15"})
    schedule = ContributionSchedule.objects.get()
    assert (schedule.amount, schedule.start_on) == (Decimal("250.00"), clock.today())
    page = client.get(url).content.decode()
    assert "Every month, day 15" in page
    client.post(reverse("money:contribution_stop", args=[schedule.pk]))
    schedule.refresh_from_db()
    assert not schedule.is_active
    assert AuditEvent.objects.filter(action__startswith="cash.contribution_").count() == 2
