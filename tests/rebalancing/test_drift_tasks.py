"""The drift scan on real Celery workers and Redis: concurrent scans and a SIGKILL mid-scan."""

import pytest
from django.db.models import Count

from rebalancing import tasks
from rebalancing.models import Notification, Proposal, ScanRun
from rebalancing.services import drift
from tests.conftest import wait_for
from tests.rebalancing.drift_world import TODAY, make_portfolios, make_world

pytestmark = [pytest.mark.celery_worker, pytest.mark.usefixtures("on_the_drift_day")]


def _per_portfolio() -> dict[int, int]:
    return dict(
        Proposal.objects.values_list("portfolio_id")
        .annotate(n=Count("id"))
        .values_list("portfolio_id", "n")
    )


def _finished(run_ids: list[int]) -> bool:
    return ScanRun.objects.filter(pk__in=run_ids, status="finished").count() == len(run_ids)


def test_two_concurrent_scans_create_each_proposal_exactly_once(start_celery_worker, settings):
    settings.ADVISOR_SCAN_BATCH_SIZE = 5
    world = make_world()
    drifted = make_portfolios(world, 30)
    make_portfolios(world, 5, equity_shares=62, bond_shares=76)  # inside the bands
    start_celery_worker(concurrency=2)
    start_celery_worker(concurrency=2)

    # Both scans are started at once; their 2 x 7 batches race on four worker processes.
    first = drift.run_drift_scan(today=TODAY)
    second = drift.run_drift_scan(today=TODAY)
    wait_for(lambda: _finished([first.pk, second.pk]), timeout=120)

    counts = _per_portfolio()
    assert set(counts) == {p.pk for p in drifted}
    assert set(counts.values()) == {1}
    assert Proposal.objects.filter(status="pending").count() == 30
    runs = ScanRun.objects.filter(pk__in=[first.pk, second.pk])
    assert sum(r.proposals_created for r in runs) == 30
    assert all(r.portfolios_checked == 35 and r.batches_done == 7 for r in runs)
    # Each new proposal was handed to the notification centre once, by the worker.
    wait_for(lambda: Notification.objects.filter(kind="waiting").count() == 30, timeout=60)


def test_worker_killed_mid_scan_leaves_no_duplicates_and_the_next_run_completes(
    start_celery_worker,
):
    world = make_world()
    portfolios = make_portfolios(world, 80)
    worker = start_celery_worker(concurrency=1)

    run = drift.run_drift_scan(today=TODAY, batch_size=2)  # 40 batches, one at a time
    wait_for(lambda: Proposal.objects.exists(), timeout=60, interval=0.02)
    worker.kill()  # SIGKILL to the whole process group, mid-batch or between batches

    counts = _per_portfolio()
    assert 0 < len(counts) < 80, "the kill should land mid-scan"
    assert set(counts.values()) == {1}  # nothing duplicated, nothing half-written
    run.refresh_from_db()
    assert run.status == "running" and run.batches_done < run.batches_total
    # A batch's proposals and its statistics commit together.
    assert run.proposals_created == Proposal.objects.filter(scan_run=run).count()

    # Restarted: the worker goes on with the batches still queued; the batch the killed worker
    # held is lost until Redis' visibility timeout, so the next scheduled run covers it.
    start_celery_worker(concurrency=2)
    tasks.run_drift_scan.delay(TODAY.isoformat())  # the next scheduled run, through the broker
    wait_for(lambda: ScanRun.objects.filter(pk__gt=run.pk, status="finished").exists(), timeout=180)
    counts = _per_portfolio()
    assert set(counts) == {p.pk for p in portfolios}
    assert set(counts.values()) == {1}  # earlier proposals kept, the missing ones written
    assert Proposal.objects.filter(status="pending").count() == 80
    wait_for(
        lambda: sum(ScanRun.objects.values_list("proposals_created", flat=True)) == 80, timeout=60
    )
