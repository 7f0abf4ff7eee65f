"""Reads about the investor: the current risk assessment and whether it needs a review."""

from __future__ import annotations

import datetime as dt

from accounts.models import RiskAssessment, User


def current_assessment(user: User) -> RiskAssessment | None:
    """The investor's latest submitted assessment (None before the first)."""
    return (
        RiskAssessment.objects.for_user(user)
        .select_related("recommended_model", "accepted_model")
        .first()
    )


def needs_review(user: User, *, now: dt.datetime) -> bool:
    """True when the investor has no assessment or the latest is older than 12 months."""
    assessment = current_assessment(user)
    return assessment is None or assessment.is_stale(now)
