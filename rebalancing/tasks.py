"""Thin Celery entry points for rebalancing: each calls one service. Tasks take ids.

Every task carries a time limit (settings: CELERY_TASK_TIME_LIMIT, below the broker's
visibility timeout) and is idempotent; services send them through `services.dispatch`.
"""

import datetime as dt

from celery import shared_task

from advisor.core import clock
from rebalancing.brokers import BrokerTimeout
from rebalancing.models import ScanRun
from rebalancing.services import (
    approval,
    backtests,
    drawdown,
    execution,
    money,
    notifications,
    proposals,
    scans,
    sweeper,
)


def _day(as_of: str | None) -> dt.date | None:
    return dt.date.fromisoformat(as_of) if as_of else None


@shared_task(name="rebalancing.tasks.expire_stale_proposals")
def expire_stale_proposals() -> int:
    """Hourly: pending proposals past their expiry, on old prices or changed holdings."""
    return proposals.expire_stale_proposals()


@shared_task(name="rebalancing.tasks.sweep")
def sweep() -> dict[str, int]:
    """Every minute: re-send work recorded in the database but not done."""
    return sweeper.sweep()


@shared_task(
    name="rebalancing.tasks.execute_proposal",
    bind=True,
    autoretry_for=(BrokerTimeout,),
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=6,
)
def execute_proposal(self, proposal_id: int) -> str:
    """Execute an approved proposal exactly once (resumes an interrupted run)."""
    try:
        return execution.execute_proposal(proposal_id)
    except BrokerTimeout as exc:
        if self.request.retries >= self.max_retries:
            return execution.give_up(proposal_id, str(exc))
        raise


@shared_task(name="rebalancing.tasks.process_new_proposals")
def process_new_proposals(proposal_ids: list[int]) -> None:
    """New proposals: auto-approve (policy opt-in) or notify each investor (once)."""
    for proposal_id in proposal_ids:
        approval.process_new_proposal(proposal_id)


@shared_task(name="rebalancing.tasks.send_notification_email")
def send_notification_email(notification_id: int) -> bool:
    return notifications.send_email(notification_id)


@shared_task(name="rebalancing.tasks.run_drift_scan")
def run_drift_scan(as_of: str | None = None) -> int:
    """Beat entry: a drift check over every active portfolio, one task per batch."""
    return scans.start_scan(ScanRun.Kind.DRIFT, as_of=_day(as_of)).pk


@shared_task(name="rebalancing.tasks.run_harvest_scan")
def run_harvest_scan(as_of: str | None = None) -> int:
    """Beat entry: a harvest scan over every household, one task per batch."""
    return scans.start_scan(ScanRun.Kind.HARVEST, as_of=_day(as_of)).pk


@shared_task(name="rebalancing.tasks.run_contributions")
def run_contributions(as_of: str | None = None) -> int:
    """Beat entry (weekdays after the open): deposit due contributions and propose investing
    them; idempotent (each schedule's due date is deposited once)."""
    return money.run_contributions(today=_day(as_of))


@shared_task(name="rebalancing.tasks.run_scan_batch")
def run_scan_batch(batch_id: int) -> int:
    """One batch of either scan; idempotent (a redelivery counts nothing twice)."""
    return scans.run_batch(batch_id)


@shared_task(name="rebalancing.tasks.check_drawdowns")
def check_drawdowns() -> dict[str, int]:
    """Daily after the close: alert households fallen beyond their stated tolerance (once per
    episode)."""
    return drawdown.check_drawdowns(today=clock.today())


@shared_task(name="rebalancing.tasks.run_backtest")
def run_backtest(run_id: int) -> str:
    """One backtest run; idempotent (claimed by a conditional UPDATE)."""
    return backtests.run_backtest(run_id)
