"""Thin Celery entry points for rebalancing: each calls one service. Tasks take ids."""

from celery import shared_task


@shared_task(name="rebalancing.tasks.expire_stale_proposals")
def expire_stale_proposals() -> int:
    """Hourly sweep: pending proposals past their expiry, on old prices or changed holdings."""
    from rebalancing.services import proposals

    return proposals.expire_stale_proposals()


# --- approval, execution and notifications (issue 7) ----------------------------------------

from rebalancing.brokers import BrokerTimeout  # noqa: E402


@shared_task(
    name="rebalancing.tasks.execute_proposal",
    bind=True,
    acks_late=True,
    autoretry_for=(BrokerTimeout,),
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=6,
)
def execute_proposal(self, proposal_id: int) -> str:
    """Execute an approved proposal exactly once (resumes an interrupted run)."""
    from rebalancing.services import execution

    try:
        return execution.execute_proposal(proposal_id)
    except BrokerTimeout as exc:
        if self.request.retries >= self.max_retries:
            return execution.give_up(proposal_id, str(exc))
        raise


@shared_task(name="rebalancing.tasks.resume_interrupted_executions")
def resume_interrupted_executions(older_than_seconds: int = 120) -> list[int]:
    """Re-queue executions a killed worker left behind (each resumes without re-sending)."""
    from rebalancing.services import execution

    return execution.resume_interrupted(older_than_seconds=older_than_seconds)


@shared_task(name="rebalancing.tasks.process_new_proposal")
def process_new_proposal(proposal_id: int) -> None:
    """After a scan wrote a proposal: auto-approve it (policy opt-in) or notify the investor."""
    from rebalancing.services import approval

    approval.process_new_proposal(proposal_id)


@shared_task(name="rebalancing.tasks.send_notification_email")
def send_notification_email(notification_id: int) -> bool:
    from rebalancing.services import notifications

    return notifications.send_email(notification_id)


# --- tax-loss harvesting (issue 6) -----------------------------------------------------------


@shared_task(name="rebalancing.tasks.run_harvest_scan")
def run_harvest_scan(as_of: str | None = None) -> int:
    """Beat entry: start a harvest scan and fan out one task per batch of households."""
    import datetime as dt

    from django.db import transaction

    from rebalancing.services import harvest

    on = dt.date.fromisoformat(as_of) if as_of else None
    with transaction.atomic():
        run, batches = harvest.start_harvest_scan(on=on)
        for lo, hi in batches:
            harvest_scan_batch.delay_on_commit(run.pk, lo, hi, run.as_of.isoformat())
    return run.pk


@shared_task(name="rebalancing.tasks.harvest_scan_batch", acks_late=True)
def harvest_scan_batch(run_id: int, lo: int, hi: int, as_of: str) -> int:
    """One batch of households (owner ids lo..hi); idempotent, so a retry or a second worker
    writes nothing twice."""
    import datetime as dt

    from rebalancing.services import harvest

    result = harvest.run_harvest_batch(run_id, lo, hi, dt.date.fromisoformat(as_of))
    return 0 if result is None else result.created


# --- drift checks (issue 5) ------------------------------------------------------------------


@shared_task(name="rebalancing.tasks.run_drift_scan")
def run_drift_scan(as_of: str | None = None) -> int:
    """Beat entry: start a drift scan over every active portfolio, one task per batch."""
    import datetime as dt

    from rebalancing.services import drift

    return drift.run_drift_scan(today=dt.date.fromisoformat(as_of) if as_of else None).pk


@shared_task(name="rebalancing.tasks.check_drift_batch", acks_late=True)
def check_drift_batch(scan_run_id: int, portfolio_ids: list[int], number: int | None = None) -> int:
    """One batch of a drift scan; idempotent (a retry or second worker writes nothing twice)."""
    from rebalancing.services import drift

    return drift.check_drift_batch(scan_run_id, portfolio_ids, number)


@shared_task(name="rebalancing.tasks.process_new_proposals")
def process_new_proposals(proposal_ids: list[int]) -> None:
    """A batch's new proposals: auto-approve (policy opt-in) or notify each investor (once)."""
    from rebalancing.services import approval

    for proposal_id in proposal_ids:
        approval.process_new_proposal(proposal_id)
