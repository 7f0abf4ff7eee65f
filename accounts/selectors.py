"""Reads for the onboarding pages and other apps: current assessment, model recommendation."""

from __future__ import annotations

import datetime as dt

from accounts.models import RiskAssessment, User
from portfolios.analytics import assumptions
from portfolios.models import ModelPortfolio


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


def model_for_level(level: int) -> ModelPortfolio | None:
    """The active model matching `level`; else the nearest LOWER level; else the safest there is.

    Never picks a model more aggressive than the level when a matching or safer one exists.
    """
    models = ModelPortfolio.objects.filter(is_active=True)
    exact_or_lower = models.filter(risk_level__lte=level).order_by("-risk_level", "name").first()
    return exact_or_lower or models.order_by("risk_level", "name").first()


def model_weights(model: ModelPortfolio) -> dict[str, float]:
    """Asset class code -> weight (fraction) of a model portfolio."""
    return {
        a.asset_class.code: float(a.weight) for a in model.allocations.select_related("asset_class")
    }


def fallback_weights(level: int) -> dict[str, float]:
    """A documented stand-in allocation when no model portfolio exists for a level.

    Stocks are 10% per level (level 1 = 10% stocks, level 10 = 100%), split 60/40 US/international;
    the rest is US bonds.
    """
    equity = min(1.0, max(0.1, level / 10.0))
    weights = {"us-stocks": 0.6 * equity, "intl-developed": 0.4 * equity, "us-bonds": 1.0 - equity}
    return {k: v for k, v in weights.items() if v > 0}


def level_estimate(level: int) -> tuple[ModelPortfolio | None, assumptions.PortfolioEstimate]:
    """The model for a level and its expected return / volatility (capital market assumptions)."""
    model = model_for_level(level)
    weights = model_weights(model) if model is not None else {}
    return model, assumptions.portfolio_estimate(weights or fallback_weights(level))
