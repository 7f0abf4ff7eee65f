"""State changes about the investor: the record-only profile facts (audited).

Submitting the questionnaire and choosing a model are onboarding services in
`portfolios.onboarding.services` (they pick model portfolios).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

from accounts import audit
from accounts.models import InvestorProfile, ReviewNote, ReviewSignOff, User
from advisor.core import clock


class OnboardingError(ValueError):
    """Bad input: the message is shown to the investor; nothing was changed."""


PROFILE_FIELDS = ("date_of_birth", "annual_income", "sex", "marital_status")


@transaction.atomic
def update_profile(user: User, **fields: object) -> InvestorProfile:
    """Update the record-only profile facts (never used by scoring); audited."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise OnboardingError(f"Unknown profile fields: {', '.join(sorted(unknown))}")
    profile, _ = InvestorProfile.objects.select_for_update().get_or_create(user=user)
    changed = [name for name, value in fields.items() if getattr(profile, name) != value]
    for name in changed:
        setattr(profile, name, fields[name])
    if changed:
        profile.save(update_fields=[*changed, "updated_at"])
        audit.record(
            "profile.updated",
            household=user,
            actor=user,
            obj=profile,
            summary="Profile facts updated",
            fields=changed,
        )
    return profile


def check_audit_chain() -> audit.Verification:
    """Verify the audit hash chain; on a break, mail the alert recipients (ADVISOR_AUDIT_ALERT_
    EMAILS, else every active superuser) and record the break. Safe to run any number of times:
    each run reports what it finds."""
    result = audit.verify()
    if result.ok:
        return result
    recipients = list(settings.ADVISOR_AUDIT_ALERT_EMAILS) or list(
        User.objects.filter(is_superuser=True, is_active=True).values_list("email", flat=True)
    )
    context = {"result": result, "site_url": settings.ADVISOR_SITE_URL}
    if recipients:
        send_mail(
            subject=render_to_string("accounts/email/audit_chain_broken_subject.txt").strip(),
            message=render_to_string("accounts/email/audit_chain_broken.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    audit.record(
        "audit.chain_broken",
        household=None,
        summary=f"entry {result.broken.event_id}: {result.broken.problem}",  # type: ignore[union-attr]
        first_broken_id=result.broken.event_id,  # type: ignore[union-attr]
        checked=result.checked,
        alerted=recipients,
    )
    return result


# --- The adviser's review of a household ------------------------------------------------------


class ReviewError(ValueError):
    """Bad input for a note or a sign-off: the message is shown; nothing was changed."""


@transaction.atomic
def add_review_note(household: User, *, author: User, text: str) -> ReviewNote:
    text = text.strip()
    if not text:
        raise ReviewError("Write the note first.")
    if len(text) > 4000:
        raise ReviewError("A note holds at most 4,000 characters.")
    note = ReviewNote.objects.create(household=household, author=author, text=text)
    audit.record(
        "review.note_added", household=household, actor=author, obj=note, summary=text, text=text
    )
    return note


@transaction.atomic
def sign_off_review(
    household: User, *, reviewer: User, result: str, next_review_on: dt.date, comment: str = ""
) -> ReviewSignOff:
    """Record a periodic suitability review. The next review must fall after today."""
    if result not in ReviewSignOff.Result.values:
        raise ReviewError("Choose a result.")
    if next_review_on <= clock.today():
        raise ReviewError("The next review date must be after today.")
    sign_off = ReviewSignOff.objects.create(
        household=household,
        reviewer=reviewer,
        result=result,
        comment=comment.strip()[:4000],
        next_review_on=next_review_on,
    )
    audit.record(
        "review.signed_off",
        household=household,
        actor=reviewer,
        obj=sign_off,
        summary=f"{sign_off.get_result_display()}; next review {next_review_on.isoformat()}",
        result=result,
        next_review_on=next_review_on.isoformat(),
        comment=sign_off.comment,
    )
    return sign_off


@transaction.atomic
def record_staff_view(household: User, *, staff: User, what: str) -> None:
    """A staff member opened or exported a household's record (books and records: who saw
    what)."""
    audit.record(f"staff.{what}", household=household, actor=staff, summary=what)
