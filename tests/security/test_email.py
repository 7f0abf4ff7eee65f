"""An address added to an account is not used to contact anyone until it is verified, and the
verification mail names no account."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from rebalancing.models import Notification
from rebalancing.services import notifications
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STRANGER = "someone.else@example.org"


def test_the_verification_mail_to_an_added_address_names_nobody(client, user) -> None:
    user.first_name, user.last_name = "Mallory", "Sender"
    user.save()
    client.force_login(user)
    response = client.post(reverse("account_email"), {"action_add": "", "email": STRANGER})
    assert response.status_code == 302
    assert EmailAddress.objects.filter(user=user, email=STRANGER, verified=False).exists()
    assert [m.to for m in mail.outbox] == [[STRANGER]]
    body = mail.outbox[0].body + mail.outbox[0].subject
    for revealing in (user.email, "Mallory", "Sender", "investor"):
        assert revealing not in body, revealing
    assert "/accounts/confirm-email/" in body


def test_an_unverified_address_gets_no_password_reset_link(client, user) -> None:
    EmailAddress.objects.create(user=user, email=STRANGER, verified=False, primary=False)
    client.post(reverse("account_reset_password"), {"email": STRANGER})
    assert not any("/accounts/password/reset/key/" in m.body for m in mail.outbox)
    assert all(user.email not in m.body for m in mail.outbox)


def test_an_unverified_address_cannot_become_the_primary_one(client, user) -> None:
    EmailAddress.objects.create(user=user, email=STRANGER, verified=False, primary=False)
    client.force_login(user)
    client.post(reverse("account_email"), {"action_primary": "", "email": STRANGER})
    user.refresh_from_db()
    assert user.email == "investor@example.com"


def test_notifications_are_not_mailed_to_an_unverified_address() -> None:
    unverified = UserFactory(email="new@example.org")
    EmailAddress.objects.filter(user=unverified).update(verified=False)
    note = Notification.objects.create(user=unverified, kind="waiting", title="A proposal")
    assert notifications.send_email(note.pk) is False
    assert mail.outbox == []
    verified = UserFactory(email="known@example.org")
    note = Notification.objects.create(user=verified, kind="waiting", title="A proposal")
    assert notifications.send_email(note.pk) is True
    assert [m.to for m in mail.outbox] == [["known@example.org"]]
