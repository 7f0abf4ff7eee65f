"""State changes about the investor: the record-only profile facts (audited).

Submitting the questionnaire and choosing a model are onboarding services in
`portfolios.onboarding.services` (they pick model portfolios).
"""

from __future__ import annotations

from django.db import transaction

from accounts import audit
from accounts.models import InvestorProfile, User


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
