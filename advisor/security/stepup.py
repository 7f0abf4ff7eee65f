"""Step-up: a fresh proof of identity before a sensitive action (approving trades, changing an
account's broker details).

With MFA on, only a second factor (TOTP code, recovery code or passkey) within
ACCOUNT_REAUTHENTICATION_TIMEOUT counts: a password alone does not. Without MFA, the password
within the same time. A sign-in counts as much as a re-authentication, so someone who just
signed in with their second factor is not asked again.

The request is suspended the way allauth does it (a POST is stored in the session and resumed
after the check); an htmx request gets `HX-Redirect` to the check and back to its page.
"""

from urllib.parse import urlsplit

from allauth.account.authentication import get_authentication_records
from allauth.account.internal.flows.reauthentication import suspend_request
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import urlencode

from advisor.core import clock

SECOND_FACTOR = "mfa"
PASSWORD_METHOD = "password"  # noqa: S105 - the name of a sign-in method


def required_method(request: HttpRequest) -> str:
    return SECOND_FACTOR if is_mfa_enabled(request.user) else PASSWORD_METHOD


def has_recent_step_up(request: HttpRequest) -> bool:
    """Did this session prove the user's strongest factor within the reauthentication timeout?"""
    if not request.user.is_authenticated:
        return False
    wanted = (
        {SECOND_FACTOR} if required_method(request) == SECOND_FACTOR else {PASSWORD_METHOD, "mfa"}
    )
    now = clock.now().timestamp()
    timeout = settings.ACCOUNT_REAUTHENTICATION_TIMEOUT
    return any(
        record.get("method") in wanted and 0 <= now - float(record.get("at", 0)) < timeout
        for record in get_authentication_records(request, request.user)
    )


def step_up_url(request: HttpRequest) -> str:
    return reverse(
        "mfa_reauthenticate"
        if required_method(request) == SECOND_FACTOR
        else "account_reauthenticate"
    )


def challenge(request: HttpRequest) -> HttpResponse | None:
    """None when the request may go on; otherwise the response that asks for the step-up.
    Call it after the object was fetched for the user, so another person's id stays a 404."""
    if request.method in ("GET", "HEAD") or has_recent_step_up(request):
        return None
    if request.headers.get("HX-Request") == "true":
        # An htmx click: check, then back to the page it was made on to click again.
        page = urlsplit(request.headers.get("HX-Current-URL", "")).path or "/"
        response = HttpResponse(status=204)
        response["HX-Redirect"] = f"{step_up_url(request)}?{urlencode({'next': page})}"
        return response
    return suspend_request(request, step_up_url(request))
