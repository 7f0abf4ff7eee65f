"""The notification centre: one Notification per (proposal, event), mailed once.

`notify` is called inside the transaction that changed the proposal, so the notification
exists exactly when the change committed; the email goes out from a task after the commit
(the sweeper re-sends it while `emailed_at` is empty).
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import InvestorProfile
from advisor.core import clock
from advisor.security import adapter
from rebalancing.models import Notification, Proposal
from rebalancing.services import dispatch

TITLES = {
    Notification.Kind.WAITING: "A {kind} proposal for {account} is waiting for your approval",
    Notification.Kind.EXECUTED: "Your {kind} proposal for {account} was executed",
    Notification.Kind.PARTIAL: "Your {kind} proposal for {account} was only partly executed",
    Notification.Kind.FAILED: "Your {kind} proposal for {account} could not be executed",
    Notification.Kind.EXPIRED: "A {kind} proposal for {account} expired",
}


def notify(proposal: Proposal, kind: str, *, body: str = "") -> Notification | None:
    """Create the notification for `proposal` and this event (once) and queue its email."""
    portfolio = proposal.portfolio
    title = TITLES[Notification.Kind(kind)].format(
        kind=proposal.get_kind_display().lower(), account=portfolio.name
    )
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                user_id=portfolio.owner_id,
                proposal=proposal,
                kind=kind,
                title=title,
                body=body or proposal.reason,
                url=reverse("rebalancing:detail", args=[proposal.pk]),
            )
    except IntegrityError:
        return None  # already notified (a retried task)
    dispatch.send_on_commit(dispatch.SEND_NOTIFICATION_EMAIL, note.pk)
    return note


def execution_body(proposal: Proposal) -> str:
    """The body of an executed / partial / failed notification: what was sold and bought, the
    gains realised, costs and cash left (the execution summary), and what went wrong."""
    return render_to_string(
        "rebalancing/notifications/execution.txt",
        {"proposal": proposal, "summary": (proposal.details or {}).get("execution") or {}},
    ).strip()


def send_email(notification_id: int) -> bool:
    """Mail one notification at most once (claimed by a conditional UPDATE)."""
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(
        emailed_at=clock.now()
    )
    if not claimed:
        return False
    note = Notification.objects.select_related("user").get(pk=notification_id)
    if not adapter.is_verified(note.user.email):
        return False  # an address nobody has confirmed is not contacted
    if not wants_email(note.user_id, note.kind):
        return False  # the investor turned these emails off (settings)
    link = settings.ADVISOR_SITE_URL.rstrip("/") + note.url if note.url else ""
    send_mail(
        subject=f"[Robo-advisor] {note.title}",
        message=f"{note.body}\n\n{link}\n".strip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[note.user.email],
    )
    return True


# Which profile switch (settings, "Notifications") covers each kind of email.
EMAIL_SWITCH = {
    Notification.Kind.WAITING: "email_waiting",
    Notification.Kind.EXECUTED: "email_executed",
    Notification.Kind.PARTIAL: "email_executed",
    Notification.Kind.FAILED: "email_problems",
    Notification.Kind.EXPIRED: "email_problems",
    Notification.Kind.DRAWDOWN: "email_problems",
}


def wants_email(user_id: int, kind: str) -> bool:
    """Whether the investor wants this kind of notification mailed (yes without a profile)."""
    switch = EMAIL_SWITCH[Notification.Kind(kind)]
    chosen = InvestorProfile.objects.filter(user_id=user_id).values_list(switch, flat=True).first()
    return chosen is None or bool(chosen)


def unread_count(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def mark_all_read(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).update(
        read_at=clock.now()
    )
