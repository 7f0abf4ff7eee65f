"""The append-only audit trail. Call `record` from services, inside their transaction, so an
event exists exactly when the change it describes was committed."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models

from accounts.models import AuditEvent, User
from advisor.core import clock


def record(
    action: str,
    *,
    household: User | None,
    actor: User | None = None,
    obj: models.Model | None = None,
    summary: str = "",
    **data: Any,
) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action,
        household=household,
        actor=actor,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=summary[:500],
        data=data,
    )


@dataclass
class Event:
    """One event for `record_many` (same meaning as `record`'s arguments). The object is `obj`,
    or `object_type` ("app_label.Model") and `object_id` for a row written without an instance."""

    action: str
    household_id: int | None
    obj: models.Model | None = None
    actor_id: int | None = None
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    object_type: str = ""
    object_id: str = ""


def record_many(events: list[Event]) -> list[AuditEvent]:
    """Append many events in one INSERT (scans writing thousands of proposals per batch)."""
    now = clock.now()
    return AuditEvent.objects.bulk_create([AuditEvent(**row) for row in rows(events, now=now)])


def rows(events: list[Event], *, now: datetime) -> list[dict[str, Any]]:
    """The AuditEvent rows of `events` as {attname: value}, for a caller that inserts them in
    bulk itself (inside the transaction of the change they describe)."""
    return [
        {
            "action": e.action,
            "household_id": e.household_id,
            "actor_id": e.actor_id,
            "object_type": e.obj._meta.label if e.obj is not None else e.object_type,
            "object_id": str(e.obj.pk) if e.obj is not None else e.object_id,
            "summary": e.summary[:500],
            "data": e.data,
            "created_at": now,
        }
        for e in events
    ]
