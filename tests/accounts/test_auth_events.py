"""Sign-in and second-factor events reach the audit trail (the successful sign-in with a TOTP
code is in tests/browser/test_console.py), with the request's session digest and address."""

import pyotp
import pytest
from django.urls import reverse

from accounts import audit
from accounts.models import AuditEvent
from tests.auth import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_failed_and_a_successful_sign_in_with_a_second_factor_are_audited(client) -> None:
    adviser = UserFactory(email="adviser@example.com", is_staff=True)
    sign_in(client, adviser.email, "wrong-password-0000")
    failed = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert failed.household is None and "adviser@example.com" in failed.summary
    assert "wrong-password" not in str(failed.data)
    sign_in(client, adviser.email)
    client.post(reverse("mfa_authenticate"), {"code": "000000"})
    client.post(reverse("mfa_authenticate"), {"code": pyotp.TOTP(adviser.totp_secret).now()})
    actions = list(
        AuditEvent.objects.filter(actor=adviser).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["auth.mfa_failed", "auth.mfa_used", "auth.signed_in"]
    signed_in = AuditEvent.objects.get(action="auth.signed_in")
    assert signed_in.data["request"]["ip"] == "127.0.0.1"
    assert len(signed_in.data["request"]["session"]) == 16
    assert audit.verify().ok
