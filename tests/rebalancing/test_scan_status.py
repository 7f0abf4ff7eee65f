"""The scheduled scans' progress, shown to the investor beside "Check drift now"."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from advisor.core import clock
from rebalancing.models import ScanRun
from tests.factories import PortfolioFactory

pytestmark = pytest.mark.django_db


def test_a_running_scan_shows_its_progress_and_keeps_polling(client, user) -> None:
    account = PortfolioFactory(owner=user)
    ScanRun.objects.create(
        kind=ScanRun.Kind.DRIFT, as_of=clock.today(), batches_total=10, batches_done=3
    )
    client.force_login(user)
    page = client.get(reverse("rebalancing:scan_status", args=[account.pk])).content.decode()
    assert "3 of 10 batches of accounts checked" in page
    assert 'value="3" max="10"' in page and 'hx-trigger="every 2s"' in page


def test_after_the_scan_the_last_one_is_named_and_polling_stops(client, user) -> None:
    account = PortfolioFactory(owner=user)
    finished = clock.now() - dt.timedelta(hours=2)
    ScanRun.objects.create(
        kind=ScanRun.Kind.DRIFT, as_of=clock.today(), status=ScanRun.Status.FINISHED,
        batches_total=10, batches_done=10, portfolios_checked=412, finished_at=finished,
    )  # fmt: skip
    client.force_login(user)
    page = client.get(reverse("rebalancing:scan_status", args=[account.pk])).content.decode()
    assert "Last scheduled drift check: finished" in page and "412 accounts checked" in page
    assert "hx-trigger" not in page


def test_the_account_page_loads_the_scan_progress_beside_check_drift_now(client, user) -> None:
    account = PortfolioFactory(owner=user, cash=Decimal("1000.00"))  # not empty: drift applies
    client.force_login(user)
    page = client.get(reverse("portfolios:detail", args=[account.pk])).content.decode()
    assert reverse("rebalancing:scan_status", args=[account.pk]) in page
