"""Signing in as a person does, for the tests of sign-in, MFA and step-up, and a shortcut for
tests about something else that need a session with a recent sign-in."""

from allauth.account.internal.flows.login import (
    _AUTHENTICATION_METHODS_USER_SESSION_KEY,
    AUTHENTICATION_METHODS_SESSION_KEY,
)
from allauth.account.internal.userkit import user_id_to_str
from django.test import Client
from django.urls import reverse

from advisor.core import clock
from tests.factories import PASSWORD


def recently_signed_in(client: Client, method: str = "password") -> None:
    """Record a sign-in by `method` ("password" or "mfa") just now in the client's session, as
    allauth does at login: enough for a step-up check. The step-up tests sign in for real."""
    from django.contrib.auth import SESSION_KEY, get_user_model

    session = client.session
    user = get_user_model().objects.get(pk=session[SESSION_KEY])
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = user_id_to_str(user)
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": method, "at": clock.now().timestamp(), "reauthenticated": True}
    ]
    session.save()


def sign_in(client: Client, email: str, password: str = PASSWORD) -> object:
    """POST the allauth sign-in form; returns the response (a redirect when it worked)."""
    return client.post(reverse("account_login"), {"login": email, "password": password})
