"""Both scans on real Celery workers and Redis: concurrent scans, a SIGKILL mid-scan and
redelivered batches, and a run whose worker never comes back."""

import datetime as dt

import pytest
from django.db.models import Count

from advisor.core import clock
from rebalancing import tasks
from rebalancing.models import Notification, Proposal, ScanBatch, ScanRun
from rebalancing.services import scans, sweeper
from tests.conftest import wait_for
from tests.rebalancing.drift_world import TODAY, make_households, make_portfolios, make_world

pytestmark = pytest.mark.usefixtures("on_the_drift_day")


def _per_portfolio() -> dict[int, int]:
    return dict(
        Proposal.objects.values_list("portfolio_id")
        .annotate(n=Count("id"))
        .values_list("portfolio_id", "n")
    )


def _finished(run_ids: list[int]) -> bool:
    return ScanRun.objects.filter(pk__in=run_ids, status="finished").count() == len(run_ids)


@pytest.mark.celery_worker
def test_two_concurrent_scans_create_each_proposal_exactly_once(start_celery_worker, settings):
    settings.ADVISOR_SCAN_BATCH_SIZE = 5
    world = make_world()
    drifted = make_portfolios(world, 30)
    make_portfolios(world, 5, equity_shares=62, bond_shares=76)  # inside the bands
    start_celery_worker(concurrency=2)
    start_celery_worker(concurrency=2)

    # Both scans are started at once; their 2 x 7 batches race on four worker processes.
    first = scans.start_scan(ScanRun.Kind.DRIFT, as_of=TODAY)
    second = scans.start_scan(ScanRun.Kind.DRIFT, as_of=TODAY)
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


def _accounts(world, kind: str) -> list:
    """80 accounts the scan proposes for: portfolios of one investor (drift), or 80 households
    with one taxable account each (harvest, whose batches hold whole households)."""
    if kind == ScanRun.Kind.DRIFT:
        return make_portfolios(world, 80)
    return make_households(world, 80)


@pytest.mark.celery_worker
@pytest.mark.parametrize("kind", [ScanRun.Kind.DRIFT, ScanRun.Kind.HARVEST])
def test_worker_killed_whole_mid_scan_the_sweeper_finishes_the_run(
    start_celery_worker, settings, kind
):
    accounts = _accounts(make_world(), kind)
    worker = start_celery_worker(concurrency=1)

    run = scans.start_scan(kind, as_of=TODAY, batch_size=2)  # 40 batches
    wait_for(lambda: Proposal.objects.exists(), timeout=60, interval=0.02)
    worker.kill()  # SIGKILL to the whole process group, mid-batch or between batches

    counts = _per_portfolio()
    assert 0 < len(counts) < 80, "the kill should land mid-scan"
    assert set(counts.values()) == {1}  # nothing duplicated, nothing half-written
    run.refresh_from_db()
    assert run.status == "running" and run.batches_done < run.batches_total
    # A batch's proposals and its statistics commit together.
    assert run.proposals_created == Proposal.objects.filter(scan_run=run).count()
    assert run.portfolios_checked == 2 * run.batches_done

    # The batch the killed worker held stays invisible in Redis until its visibility timeout.
    # The sweeper's next pass after the batch lease re-sends every unfinished batch (swept
    # before the restart, so a fast new worker cannot have finished them all first); the
    # restarted worker goes on with them, and every batch is delivered a second time besides
    # (a redelivery): nothing is counted twice.
    lease = dt.timedelta(seconds=settings.ADVISOR_SCAN_BATCH_LEASE_SECONDS)
    assert sweeper.sweep(now=clock.now() + lease)["scan_batches"] > 0
    start_celery_worker(concurrency=2)
    for batch_id in ScanBatch.objects.filter(scan_run=run).values_list("pk", flat=True):
        tasks.run_scan_batch.delay(batch_id)
    wait_for(lambda: _finished([run.pk]), timeout=180)
    run.refresh_from_db()
    assert run.batches_done == 40 and run.portfolios_checked == 80
    counts = _per_portfolio()
    assert set(counts) == {a.pk for a in accounts}  # no account left unchecked
    assert set(counts.values()) == {1}
    assert run.proposals_created == 80 == Proposal.objects.filter(status="pending").count()
    assert set(Proposal.objects.values_list("kind", flat=True)) == {
        "rebalance" if kind == ScanRun.Kind.DRIFT else "harvest"
    }


@pytest.mark.parametrize("kind", [ScanRun.Kind.DRIFT, ScanRun.Kind.HARVEST])
def test_a_run_whose_worker_never_returns_ends_abandoned_not_running(db, settings, kind):
    """No worker at all: each sweeper pass past the lease re-sends the batches, and the pass
    after the last attempt gives them up, so the run ends ABANDONED with its reason."""
    _accounts(make_world(), kind)
    run = scans.start_scan(kind, as_of=TODAY, batch_size=40)  # 2 batches, never run
    lease = dt.timedelta(seconds=settings.ADVISOR_SCAN_BATCH_LEASE_SECONDS + 1)
    now = clock.now()
    for _ in range(settings.ADVISOR_SCAN_BATCH_ATTEMPTS - 1):
        now += lease
        assert scans.resend_stalled_batches(now=now) == 2
        run.refresh_from_db()
        assert run.status == "running"
    now += lease
    assert scans.resend_stalled_batches(now=now) == 0
    run.refresh_from_db()
    assert run.status == "abandoned" and run.batches_done == 2 and run.portfolios_checked == 0
    assert run.errors and "given up after 3 attempts" in run.errors[0]
    assert not Proposal.objects.exists()
