"""From a risk level to a model portfolio: the recommendation and what each model means."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from accounts.models import RiskAssessment
from portfolios.analytics import assumptions
from portfolios.models import ModelAllocation, ModelPortfolio

CENT = Decimal("0.01")


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


def model_rows(amount: Decimal, assessment: RiskAssessment) -> list[dict[str, Any]]:
    rows = []
    for model in ModelPortfolio.objects.filter(is_active=True).prefetch_related(
        "allocations__asset_class", "allocations__security"
    ):
        weights = {a.asset_class.code: float(a.weight) for a in model.allocations.all()}
        est = assumptions.portfolio_estimate(weights)
        bad = assumptions.bad_year_return(est.expected_return, est.volatility)
        rows.append(
            {
                "model": model,
                "expected_return": est.expected_return,
                "volatility": est.volatility,
                "bad_year": bad,
                "bad_year_money": (amount * Decimal(str(bad))).quantize(Decimal("1")),
                "bad_year_loss": -(amount * Decimal(str(bad))).quantize(Decimal("1")),
                "after_bad_year": (amount * (1 + Decimal(str(bad)))).quantize(Decimal("1")),
                "needs_ack": model.risk_level > assessment.risk_level
                and model.pk != assessment.recommended_model_id,
                "above_cap": model.risk_level > assessment.max_level,
                "allocation": [
                    {"name": a.asset_class.name, "weight": float(a.weight)}
                    for a in sorted(model.allocations.all(), key=lambda a: -a.weight)
                ],
                "funds": fund_rows(model.allocations.all(), amount),
            }
        )
    return rows


def fund_rows(allocations: Iterable[ModelAllocation], amount: Decimal) -> dict[str, Any]:
    """The funds a model buys, each with its weight, expense ratio and yearly cost on `amount`.

    `allocations`: the model's rows with asset_class and security loaded. Yearly cost of a fund
    = amount x weight x expense ratio (the fund's own fee, taken out of its price, not a bill);
    the model's expense ratio is the weighted sum. Rows largest weight first.
    """
    ordered = sorted(allocations, key=lambda a: -a.weight)
    rows = [
        {
            "asset_class": a.asset_class.name,
            "ticker": a.security.ticker,
            "name": a.security.name,
            "weight": a.weight,
            "expense_ratio": a.security.expense_ratio,
            "yearly_cost": (amount * a.weight * a.security.expense_ratio).quantize(CENT),
        }
        for a in ordered
    ]
    ratio = sum((a.weight * a.security.expense_ratio for a in ordered), Decimal("0"))
    return {
        "rows": rows,
        "expense_ratio": ratio,
        "yearly_cost": (amount * ratio).quantize(CENT),
        "amount": amount,
    }


def recommendation_gap(assessment: RiskAssessment) -> dict[str, Any] | None:
    """Why the recommended model's level differs from the assessed level, as data (the page
    words it); None when they match or nothing was recommended.

    `model_for_level` picks the assessed level, else the nearest LOWER level on offer
    ("lower"), and only when every model is riskier, the safest one ("safest").
    """
    model = assessment.recommended_model
    if model is None or model.risk_level == assessment.risk_level:
        return None
    levels = sorted(
        set(ModelPortfolio.objects.filter(is_active=True).values_list("risk_level", flat=True))
    )
    return {
        "kind": "lower" if model.risk_level < assessment.risk_level else "safest",
        "level": assessment.risk_level,
        "model_level": model.risk_level,
        "levels_offered": levels,
    }
