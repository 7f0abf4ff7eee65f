from celery import shared_task

from accounts import audit


@shared_task
def record_worker_heartbeat(note: str = "") -> None:
    """Writes one audit event: proof for an operator (and a test) that a worker consumes the
    queue and reaches the database."""
    audit.record("system.worker_heartbeat", household=None, summary=note or "worker alive")
