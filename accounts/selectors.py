"""Reads about the investor: the current risk assessment and whether it needs a review."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accounts import questionnaire
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


@dataclass(frozen=True)
class LossTolerance:
    """The loss the investor said in their latest questionnaire they could bear: `fraction`
    (0.12 == a 12% fall), the answer they chose and when."""

    fraction: float
    answer: str
    submitted_at: dt.datetime


def loss_tolerance(user: User) -> LossTolerance | None:
    """From the latest assessment (None before the first, or when it states no loss)."""
    assessment = current_assessment(user)
    if assessment is None:
        return None
    fraction = questionnaire.stated_loss_tolerance(assessment.answers)
    if fraction is None:
        return None
    answer = next(
        str(a.get("answer", ""))
        for a in assessment.answers
        if a.get("question") == questionnaire.LOSS_QUESTION
    )
    return LossTolerance(fraction=fraction, answer=answer, submitted_at=assessment.submitted_at)
