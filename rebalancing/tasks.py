"""Thin Celery entry points for rebalancing: each calls one service. Tasks take ids."""

from celery import shared_task


@shared_task(name="rebalancing.tasks.expire_stale_proposals")
def expire_stale_proposals() -> int:
    """Hourly sweep: pending proposals past their expiry, on old prices or changed holdings."""
    from rebalancing.services import proposals

    return proposals.expire_stale_proposals()
