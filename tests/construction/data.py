"""Shared data of the construction tests: the demo's asset classes and an assessment at a
chosen level (as scoring would store it)."""

from decimal import Decimal

from accounts import questionnaire
from accounts.models import RiskAssessment, User
from portfolios import demo
from portfolios.onboarding.selectors import model_for_level

ALL_CLASSES = [code for code, _ in demo.ASSET_CLASSES]
BONDS = ("us-bonds", "intl-bonds", "tips")


def assessment_at_level(user: User, *, level: int, max_level: int) -> RiskAssessment:
    return RiskAssessment.objects.create(
        user=user,
        questionnaire=questionnaire.ensure_default_questionnaire(),
        answers=[],
        tolerance_score=Decimal("50"),
        capacity_score=Decimal("60"),
        risk_level=level,
        max_level=max_level,
        limited_by="tolerance",
        recommended_model=model_for_level(level),
    )
