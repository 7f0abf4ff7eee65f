"""The sweeper (every minute): re-send work recorded in the database but not done.

Services send tasks after their commit (`dispatch`); when the broker was down, or a worker was
killed whole with the message still unacknowledged in Redis, the database still says what is
undone, and this pass sends it again:

- proposals approved (or executing) for longer than the grace period -> `execute_proposal`
  (claimed by a conditional UPDATE and a run lock: a duplicate finds nothing to do);
- pending proposals without their "waiting" notification -> `process_new_proposals`
  (auto-approval or the notification, once: a unique constraint);
- notifications not yet mailed -> `send_notification_email` (claimed by `emailed_at`);
- scan batches whose lease ran out -> `run_scan_batch`, or given up (`scans`);
- confirmed CSV imports still queued that no worker is writing -> `portfolios.tasks.run_import`.

Everything it sends is idempotent, so a pass that races the original message is harmless.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from advisor.core import clock
from advisor.core.chunks import chunks
from portfolios.imports import services as imports
from rebalancing.models import Notification, Proposal
from rebalancing.services import dispatch, scans

PROCESS_CHUNK = 500


def _grace() -> dt.timedelta:
    return dt.timedelta(seconds=settings.ADVISOR_SWEEP_GRACE_SECONDS)


def sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """One pass; returns how many of each kind of work were re-sent."""
    now = now or clock.now()
    before = now - _grace()
    approved = list(
        Proposal.objects.filter(
            status__in=[Proposal.Status.APPROVED, Proposal.Status.EXECUTING],
            decided_at__lte=before,
        ).values_list("pk", flat=True)
    )
    for pk in approved:
        dispatch.send(dispatch.EXECUTE_PROPOSAL, pk)
    unprocessed = list(
        Proposal.objects.pending()
        .filter(created_at__lte=before)
        .exclude(notifications__kind=Notification.Kind.WAITING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for part in chunks(unprocessed, PROCESS_CHUNK):
        dispatch.send(dispatch.PROCESS_NEW_PROPOSALS, list(part))
    unmailed = list(
        Notification.objects.filter(emailed_at__isnull=True, created_at__lte=before).values_list(
            "pk", flat=True
        )
    )
    for pk in unmailed:
        dispatch.send(dispatch.SEND_NOTIFICATION_EMAIL, pk)
    return {
        "executions": len(approved),
        "new_proposals": len(unprocessed),
        "emails": len(unmailed),
        "scan_batches": scans.resend_stalled_batches(now=now),
        "imports": imports.resend_queued_imports(before=before),
    }
