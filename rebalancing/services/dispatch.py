"""How services hand work to workers: the one place a task is sent.

`send_on_commit(task, *args)` sends a task, by name, once the caller's transaction has
committed. A broker that is down never fails the request: the work is already recorded in the
database (a proposal approved but not executed, a proposal not yet notified, a notification
not yet mailed, a scan batch not finished), and the sweeper (`services/sweeper.py`, every
minute) re-sends whatever is still undone. Every task is idempotent, so a message sent twice,
or by the sweeper while the first is still queued, changes nothing.

Tasks are sent by name, so services never import `rebalancing.tasks` (tasks import services).
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

log = logging.getLogger(__name__)

# One quick retry, then give up: a request must not hang on a broker that is down (kombu's
# default policy takes about 6 s per message), and the sweeper re-sends what was not sent.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}

EXECUTE_PROPOSAL = "rebalancing.tasks.execute_proposal"
PROCESS_NEW_PROPOSALS = "rebalancing.tasks.process_new_proposals"
SEND_NOTIFICATION_EMAIL = "rebalancing.tasks.send_notification_email"
RUN_SCAN_BATCH = "rebalancing.tasks.run_scan_batch"
RUN_BACKTEST = "rebalancing.tasks.run_backtest"


def send(task: str, *args: object) -> bool:
    """Send `task` now; False (logged) when the broker cannot take it."""
    try:
        current_app.send_task(task, args=args, retry_policy=PUBLISH_RETRY)
    except Exception:  # any broker failure: the sweeper re-sends from the database state
        log.warning("could not send %s%r; the sweeper will re-send it", task, args, exc_info=True)
        return False
    return True


def send_on_commit(task: str, *args: object) -> None:
    """Send `task` after the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: send(task, *args))
