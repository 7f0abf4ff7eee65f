"""The broker down during an approval and a "Check drift now", on a real worker and Redis.

The web process (this test's client) sends to a closed port while the investor clicks; the
worker stays connected to the test Redis. The pages are ordinary pages, the database holds the
undone work, and once the broker is back the sweeper, sent as its task the way beat sends it,
gets every approved proposal executed once and every new proposal notified.
"""

import pytest
from django.urls import reverse

from portfolios.models import Transaction
from rebalancing import tasks
from rebalancing.models import Notification, PaperOrder, Proposal
from tests.auth import recently_signed_in
from tests.conftest import broker_stopped, wait_for
from tests.factories import PASSWORD
from tests.rebalancing.drift_world import make_portfolios, make_world

pytestmark = [pytest.mark.celery_worker, pytest.mark.usefixtures("on_the_drift_day")]


def _check_now(client, portfolio) -> Proposal:
    response = client.post(reverse("rebalancing:check_now", args=[portfolio.pk]), follow=True)
    assert response.status_code == 200
    assert "a rebalance proposal is waiting for your approval" in response.content.decode()
    return Proposal.objects.get(portfolio=portfolio)


def _waiting(proposal: Proposal) -> bool:
    return Notification.objects.filter(proposal=proposal, kind="waiting").exists()


def _beat_until(done, *, passes: int = 60) -> None:
    """Send the sweep task once a second, as beat does once a minute, until `done()`."""
    for _ in range(passes):
        tasks.sweep.delay()
        try:
            wait_for(done, timeout=1, interval=0.1)
            return
        except AssertionError:
            continue
    raise AssertionError(f"not done after {passes} sweeps")


def test_the_broker_down_during_approval_and_check_now(
    start_celery_worker, client, user, monkeypatch
):
    world = make_world()
    first, second = make_portfolios(world, 2, owner=user)
    # The sweeper re-sends work undone for a second (a minute in production), so the test
    # can play several beat passes quickly.
    monkeypatch.setenv("ADVISOR_SWEEP_GRACE_SECONDS", "1")
    start_celery_worker(concurrency=2)
    client.login(email=user.email, password=PASSWORD)
    recently_signed_in(client)  # approving trades asks for a recent sign-in
    approved = _check_now(client, first)  # the broker is up: the worker notifies the investor
    wait_for(lambda: _waiting(approved), timeout=60)

    with broker_stopped():
        response = client.post(reverse("rebalancing:approve", args=[approved.pk]), follow=True)
        assert response.status_code == 200
        assert "Approved. The trades are being sent to the broker." in response.content.decode()
        new = _check_now(client, second)

    # Nothing reached the worker: the approval and the new proposal wait in the database.
    approved.refresh_from_db()
    assert approved.status == Proposal.Status.APPROVED
    assert not PaperOrder.objects.exists()
    assert not _waiting(new)

    # The broker is back; nobody clicks again. The sweeper's passes finish the work.
    _beat_until(
        lambda: (
            Proposal.objects.filter(pk=approved.pk, status=Proposal.Status.EXECUTED).exists()
            and _waiting(new)
            and not Notification.objects.filter(emailed_at__isnull=True).exists()
        )
    )
    # The passes that raced the execution placed no second order.
    trades = approved.trades.count()
    assert trades > 0 and PaperOrder.objects.count() == trades
    fills = Transaction.objects.filter(portfolio=first, source=Transaction.Source.BROKER)
    assert fills.count() == trades
    assert Notification.objects.filter(proposal=new, kind="waiting").count() == 1
    assert Notification.objects.filter(proposal=approved, kind="waiting").count() == 1
