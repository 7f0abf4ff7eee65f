"""Celery entry points for the portfolios app (thin: they call services)."""

from typing import Any

from celery import shared_task

from portfolios import prices, providers
from portfolios.imports import services as imports


@shared_task(
    name="portfolios.tasks.refresh_prices",
    autoretry_for=(providers.PriceFeedError,),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=4,
)
def refresh_prices() -> dict[str, Any]:
    """Pull the missing daily closes of every active security (idempotent upsert)."""
    return prices.refresh_prices().as_dict()


# A file at the 50 MB limit takes minutes on a busy worker: more than the default 5-minute
# limit, still under the broker's 30-minute visibility timeout (a task killed at its hard limit
# would otherwise be redelivered and killed again, forever).
@shared_task(name="portfolios.tasks.run_import", soft_time_limit=1500, time_limit=1700)
def run_import(batch_id: int, by_id: int | None) -> str:
    """Write a confirmed CSV import (all rows or none; a redelivery imports it once)."""
    return imports.run_import(batch_id, by_id=by_id)
