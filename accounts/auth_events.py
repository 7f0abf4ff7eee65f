"""Sign-in, second-factor and admin events into the audit trail, and the web request an event
was caused from (session and client address) on every event recorded during a request.

allauth and the Django admin announce these only by signal, so the handlers here do one thing:
write the audit event.
"""

import hashlib
from collections.abc import Callable
from typing import Any

from allauth.account import signals as account_signals
from allauth.account.adapter import get_adapter
from allauth.mfa import signals as mfa_signals
from django.contrib.admin.models import LogEntry
from django.contrib.auth import signals as auth_signals
from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponse

from accounts import audit


class AuditRequestMiddleware:
    """Tags the audit events a request writes with a digest of its session key and the client
    address (the same address allauth's rate limits use, proxies counted)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = audit.request_context.set(lambda: request_origin(request))
        try:
            return self.get_response(request)
        finally:
            audit.request_context.reset(token)


def request_origin(request: HttpRequest) -> dict[str, str]:
    session_key = getattr(getattr(request, "session", None), "session_key", None) or ""
    return {
        # A digest: the key itself is a credential and must not sit in a readable log.
        "session": hashlib.sha256(session_key.encode()).hexdigest()[:16] if session_key else "",
        "ip": get_adapter().get_client_ip(request) or "",
    }


def _signed_in(request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit.record("auth.signed_in", household=user, actor=user, summary="Signed in")


def _mfa(action: str, summary: str) -> Callable[..., None]:
    def handler(request: HttpRequest, user: Any, authenticator: Any, **kwargs: Any) -> None:
        audit.record(
            action,
            household=user,
            actor=user,
            obj=authenticator,
            summary=f"{summary} ({authenticator.type})",
            kind=authenticator.type,
            reauthenticated=bool(kwargs.get("reauthenticated", False)),
        )

    return handler


def _sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any
) -> None:
    # Only the login name: credentials also hold the password.
    login = str(credentials.get("email") or credentials.get("username") or "")[:254]
    audit.record("auth.sign_in_failed", household=None, summary=f"Failed sign-in for {login}")


def _admin_edit(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    verb = {1: "added", 2: "changed", 3: "deleted"}.get(instance.action_flag, "edited")
    audit.record(
        f"admin.{verb}",
        household=None,
        actor=instance.user,
        summary=f"{verb} {instance.content_type} {instance.object_repr}"[:500],
        content_type=str(instance.content_type),
        object_id=instance.object_id or "",
        change=instance.get_change_message(),
    )


MFA_EVENTS = {
    "authenticator_used": ("auth.mfa_used", "Second factor used"),
    "authentication_failed": ("auth.mfa_failed", "Second factor refused"),
    "authenticator_added": ("auth.mfa_added", "Second factor added"),
    "authenticator_removed": ("auth.mfa_removed", "Second factor removed"),
    "authenticator_reset": ("auth.mfa_reset", "Recovery codes regenerated"),
}


def connect() -> None:
    account_signals.user_logged_in.connect(_signed_in, dispatch_uid="audit.signed_in")
    auth_signals.user_login_failed.connect(_sign_in_failed, dispatch_uid="audit.sign_in_failed")
    for name, (action, summary) in MFA_EVENTS.items():
        getattr(mfa_signals, name).connect(
            _mfa(action, summary), dispatch_uid=f"audit.{action}", weak=False
        )
    post_save.connect(_admin_edit, sender=LogEntry, dispatch_uid="audit.admin_edit")
