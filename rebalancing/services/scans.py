"""One life cycle for both scheduled scans (drift check and harvest scan).

- `start_scan(kind)`: one transaction records the ScanRun and its batches (portfolio ids for
  a drift check, household ids for a harvest scan, `ADVISOR_SCAN_BATCH_SIZE` each); after the
  commit one task per batch is sent (`dispatch`), carrying only the batch id.
- `run_batch(batch_id)`: checks the batch's portfolios and writes their proposals, and in the
  SAME transaction claims the batch (`finished_at` set by a conditional UPDATE) and adds its
  statistics to the run. A redelivered or duplicated batch re-checks (the proposal writer
  keeps identical proposals) but cannot count twice; a batch already finished returns at once.
  A batch that raises is finished as failed with its error (the next scan checks those
  portfolios again); the last batch to finish closes the run: FINISHED, or ABANDONED when a
  batch failed.
- `resend_stalled_batches(now)` (the sweeper, every minute): a batch still unfinished when its
  lease (`ADVISOR_SCAN_BATCH_LEASE_SECONDS`, longer than the batch task's time limit) has run
  out lost its worker (killed whole, or its message lost with the broker down): it is sent
  again, and after `ADVISOR_SCAN_BATCH_ATTEMPTS` sends it is given up, failed, and the run
  ends ABANDONED instead of RUNNING for ever.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F

from advisor.core import clock
from advisor.core.chunks import chunks
from portfolios.models import Portfolio
from rebalancing.models import ScanBatch, ScanRun
from rebalancing.services import dispatch, drift, harvest

log = logging.getLogger(__name__)
MAX_ERRORS = 200
# Runs left RUNNING by code older than the batch leases (no batch rows to re-send).
ABANDONED_AFTER = dt.timedelta(hours=6)


@dataclass
class Outcome:
    """What one batch did: portfolios checked, proposals created, errors for the admin."""

    checked: int = 0
    created: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScanKind:
    members: Callable[[], list[int]]  # the ids a scan covers, sorted
    check: Callable[[list[int], dt.date, int], Outcome]  # one batch: ids, as of, run id


def _drift_members() -> list[int]:
    return list(Portfolio.objects.active().order_by("pk").values_list("pk", flat=True))


def _harvest_members() -> list[int]:
    return list(
        Portfolio.objects.filter(is_active=True, tax_treatment=Portfolio.TaxTreatment.TAXABLE)
        .order_by("owner_id")
        .values_list("owner_id", flat=True)
        .distinct()
    )


def _drift_check(ids: list[int], as_of: dt.date, run_id: int) -> Outcome:
    result = drift.check_portfolios(ids, today=as_of, scan_run_id=run_id)
    return Outcome(result.checked, len(result.created), result.errors)


def _harvest_check(ids: list[int], as_of: dt.date, run_id: int) -> Outcome:
    # A batch holds every household in its id range that had a taxable account when the scan
    # started: the range reads their lots in one indexed pass.
    result = harvest.scan_for_harvest(owner_range=(ids[0], ids[-1]), on=as_of, scan_run_id=run_id)
    return Outcome(result.portfolios, result.created)


KINDS = {
    ScanRun.Kind.DRIFT: ScanKind(_drift_members, _drift_check),
    ScanRun.Kind.HARVEST: ScanKind(_harvest_members, _harvest_check),
}


def start_scan(
    kind: str, *, as_of: dt.date | None = None, batch_size: int | None = None
) -> ScanRun:
    """Record a scan over every portfolio (drift) or household (harvest) and send its batches."""
    as_of = as_of or clock.today()
    size = max(1, batch_size or settings.ADVISOR_SCAN_BATCH_SIZE)
    now = clock.now()
    with transaction.atomic():
        parts = [list(part) for part in chunks(KINDS[ScanRun.Kind(kind)].members(), size)]
        run = ScanRun.objects.create(kind=kind, as_of=as_of, batches_total=len(parts))
        batches = ScanBatch.objects.bulk_create(
            ScanBatch(scan_run=run, number=n, ids=ids, dispatched_at=now, attempts=1)
            for n, ids in enumerate(parts)
        )
        if not batches:
            _close(run.pk, now)
        for batch in batches:
            dispatch.send_on_commit(dispatch.RUN_SCAN_BATCH, batch.pk)
    run.refresh_from_db()
    return run


def run_batch(batch_id: int) -> int:
    """Check one batch and count it once; returns the proposals it created (0 when the batch
    is gone or already counted)."""
    batch = ScanBatch.objects.select_related("scan_run").filter(pk=batch_id).first()
    if batch is None or batch.finished_at is not None:
        return 0  # a redelivery of a batch already counted
    run = batch.scan_run
    started = time.perf_counter()
    try:
        with transaction.atomic():
            outcome = KINDS[ScanRun.Kind(run.kind)].check(list(batch.ids), run.as_of, run.pk)
            counted = _finish(batch, outcome)
    except Exception as exc:  # recorded for the admin; the next scan checks these again
        log.exception("%s batch %s of scan %s failed", run.kind, batch.number, run.pk)
        with transaction.atomic():
            _finish(
                batch, Outcome(errors=[f"Batch {batch.number} failed: {exc!r}"[:500]]), failed=True
            )
        return 0
    log.info(
        "%s batch %s of scan %s: %s proposals in %.2fs",
        run.kind, batch.number, run.pk, outcome.created, time.perf_counter() - started,
    )  # fmt: skip
    return outcome.created if counted else 0


def _finish(batch: ScanBatch, outcome: Outcome, *, failed: bool = False) -> bool:
    """Claim the batch and add its outcome to the run, once; close the run after its last
    batch. Runs inside the transaction that wrote the batch's proposals."""
    now = clock.now()
    claimed = ScanBatch.objects.filter(pk=batch.pk, finished_at__isnull=True).update(
        finished_at=now,
        failed=failed,
        portfolios_checked=outcome.checked,
        proposals_created=outcome.created,
    )
    if not claimed:
        return False  # a second worker or a redelivery counted it already
    run = ScanRun.objects.select_for_update().get(pk=batch.scan_run_id)
    run.batches_done = F("batches_done") + 1
    run.portfolios_checked = F("portfolios_checked") + outcome.checked
    run.proposals_created = F("proposals_created") + outcome.created
    if outcome.errors and len(run.errors) < MAX_ERRORS:
        run.errors = (run.errors + outcome.errors)[:MAX_ERRORS]
    run.save(update_fields=["batches_done", "portfolios_checked", "proposals_created", "errors"])
    _close(run.pk, now)
    return True


def _close(run_id: int, now: dt.datetime) -> None:
    """RUNNING -> FINISHED once every batch is done, or ABANDONED when a batch failed (raised,
    or was given up): some portfolios went unchecked in this run."""
    run = ScanRun.objects.get(pk=run_id)
    if run.status != ScanRun.Status.RUNNING or run.batches_done < run.batches_total:
        return
    abandoned = run.batches.filter(failed=True).exists()
    ScanRun.objects.filter(pk=run_id, status=ScanRun.Status.RUNNING).update(
        status=ScanRun.Status.ABANDONED if abandoned else ScanRun.Status.FINISHED,
        finished_at=now,
        duration_seconds=(now - run.started_at).total_seconds(),
    )


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.ADVISOR_SCAN_BATCH_LEASE_SECONDS)


def _max_attempts() -> int:
    return int(settings.ADVISOR_SCAN_BATCH_ATTEMPTS)


def resend_stalled_batches(*, now: dt.datetime | None = None) -> int:
    """Re-send every unfinished batch whose lease ran out; give up (failed, counted, the run
    closed) on one sent `ADVISOR_SCAN_BATCH_ATTEMPTS` times. Returns how many were re-sent.
    Each re-send is claimed by a conditional UPDATE, so two sweepers send it once."""
    now = now or clock.now()
    stalled = ScanBatch.objects.filter(
        finished_at__isnull=True, dispatched_at__lte=now - _lease()
    ).order_by("pk")
    sent = 0
    for batch in stalled.select_related("scan_run"):
        if batch.attempts >= _max_attempts():
            with transaction.atomic():
                message = (
                    f"Batch {batch.number} given up after {batch.attempts} attempts: "
                    "its worker never finished it."
                )
                _finish(batch, Outcome(errors=[message]), failed=True)
            continue
        claimed = ScanBatch.objects.filter(
            pk=batch.pk, finished_at__isnull=True, dispatched_at=batch.dispatched_at
        ).update(dispatched_at=now, attempts=F("attempts") + 1)
        if claimed:
            sent += dispatch.send(dispatch.RUN_SCAN_BATCH, batch.pk)
    # Runs from before batches had leases: nothing to re-send, so close them.
    ScanRun.objects.filter(
        status=ScanRun.Status.RUNNING, started_at__lt=now - ABANDONED_AFTER, batches__isnull=True
    ).update(status=ScanRun.Status.ABANDONED, finished_at=now)
    return sent
