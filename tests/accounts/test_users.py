import pytest
from django.db import connection

from accounts import audit
from accounts.models import AuditEvent, User
from advisor.core.schedules import DEFAULT_SCHEDULES, ensure_default_schedules

pytestmark = pytest.mark.django_db


def test_email_is_the_login_and_is_normalised() -> None:
    user = User.objects.create_user("Someone@EXAMPLE.com", "pw-0123456789")
    assert user.email == "Someone@example.com"
    assert user.username is None if hasattr(user, "username") else True
    assert User.USERNAME_FIELD == "email"
    admin = User.objects.create_superuser("boss@example.com", "pw-0123456789")
    assert admin.is_staff and admin.is_superuser


def test_audit_events_cannot_be_changed_or_deleted(user) -> None:
    event = audit.record("test.event", household=user, actor=user, summary="hello", answer=42)
    assert event.data == {"answer": 42}
    event.summary = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    assert AuditEvent.objects.get().summary == "hello"


def test_audit_rows_are_protected_in_the_database_too(user) -> None:
    event = audit.record("test.event", household=user, summary="hello")
    if connection.vendor != "postgresql":
        pytest.fail("the suite runs on PostgreSQL")
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(summary="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get().summary == "hello"


def test_default_schedules_are_created_once() -> None:
    from django_celery_beat.models import PeriodicTask

    assert ensure_default_schedules() == len(DEFAULT_SCHEDULES)
    assert ensure_default_schedules() == 0
    tasks = {t.name: t for t in PeriodicTask.objects.all()}
    assert len(tasks) == len(DEFAULT_SCHEDULES)
    drift = tasks["Drift check (all portfolios)"]
    assert drift.task == "rebalancing.tasks.run_drift_scan"
    assert drift.crontab.day_of_week == "1-5" and str(drift.crontab.timezone) == "America/New_York"
    assert all(t.expire_seconds and t.expire_seconds < 24 * 3600 for t in tasks.values())
