"""The admin cannot change or delete an audit event, even for a superuser, and what staff do
in the admin is itself audited."""

import pytest
from django.urls import reverse

from accounts import audit
from accounts.models import AdviserAssignment, AuditEvent
from tests.auth import recently_signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    boss = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(boss)
    recently_signed_in(client, "mfa")
    return boss


def test_the_admin_refuses_to_change_or_delete_an_audit_event(client, root, user) -> None:
    event = audit.record("test.event", household=user, actor=user, summary="kept")
    change = reverse("admin:accounts_auditevent_change", args=[event.pk])
    assert client.get(change).status_code == 200  # read-only view
    assert client.post(change, {"summary": "rewritten"}).status_code == 403
    delete = reverse("admin:accounts_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:accounts_auditevent_changelist")
    response = client.post(
        changelist, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302, 403)
    assert AuditEvent.objects.get(pk=event.pk).summary == "kept"
    assert audit.verify().ok


def test_an_edit_in_the_admin_is_audited_with_its_author(client, root, user) -> None:
    adviser = UserFactory(email="adviser@example.com", is_staff=True)
    response = client.post(
        reverse("admin:accounts_adviserassignment_add"),
        {"adviser": adviser.pk, "household": user.pk},
    )
    assert response.status_code == 302, response.content[:500]
    assert AdviserAssignment.objects.filter(adviser=adviser, household=user).exists()
    event = AuditEvent.objects.get(action="admin.added")
    assert event.actor == root and "adviser assignment" in event.summary.lower()


def test_deleting_several_rows_at_once_in_the_admin_is_audited_per_row(client, root) -> None:
    adviser = UserFactory(email="adviser@example.com", is_staff=True)
    rows = [
        AdviserAssignment.objects.create(adviser=adviser, household=UserFactory()) for _ in range(3)
    ]
    response = client.post(
        reverse("admin:accounts_adviserassignment_changelist"),
        {"action": "delete_selected", "_selected_action": [r.pk for r in rows], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AdviserAssignment.objects.exists()
    deleted = AuditEvent.objects.filter(action="admin.deleted", actor=root)
    assert sorted(deleted.values_list("object_id", flat=True)) == sorted(str(r.pk) for r in rows)
    one = AdviserAssignment.objects.create(adviser=adviser, household=UserFactory())
    client.post(
        reverse("admin:accounts_adviserassignment_changelist"),
        {"action": "delete_selected", "_selected_action": [one.pk], "post": "yes"},
    )
    assert AuditEvent.objects.filter(action="admin.deleted").count() == 4  # once, not twice
    assert audit.verify().ok
