"""The append-only audit trail. Call `record` from services, inside their transaction, so an
event exists exactly when the change it describes was committed."""

from typing import Any

from django.db import models

from accounts.models import AuditEvent, User


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
