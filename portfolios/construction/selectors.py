"""Reads for portfolio construction: the universe of asset classes, where a household stands
(current and target weights by asset class) and the volatility guardrails of a risk level."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from dateutil.relativedelta import relativedelta

from accounts.models import RiskAssessment, User
from portfolios import selectors
from portfolios.analytics import assumptions
from portfolios.construction import compute
from portfolios.models import AssetClass, ModelPortfolio, Portfolio, Security
from portfolios.onboarding.selectors import level_estimate, model_weights

HISTORY_YEARS = 3


def asset_classes() -> list[AssetClass]:
    """Asset classes with at least one active security (a class nobody can buy is no choice)."""
    return list(AssetClass.objects.filter(securities__is_active=True).distinct())


def security_for(asset_class: AssetClass, model: ModelPortfolio | None = None) -> Security | None:
    """The security bought for a class: the model's current choice, else the cheapest active."""
    if model is not None:
        current = model.allocations.filter(asset_class=asset_class).select_related("security")
        if (row := current.first()) is not None:
            return row.security
    return (
        Security.objects.filter(asset_class=asset_class, is_active=True)
        .order_by("expense_ratio", "ticker")
        .first()
    )


def _by_column(frame: pd.DataFrame, key: str, column: str) -> dict[str, float]:
    """Fractions of `column` summed by `key` (zero and negative totals dropped)."""
    if frame.empty:
        return {}
    totals = frame.groupby(key)[column].sum()
    totals = totals[totals > 0]
    whole = float(totals.sum())
    return {str(k): float(v) / whole for k, v in totals.items()} if whole > 0 else {}


def _scaled_targets(targets: pd.DataFrame, positions: pd.DataFrame) -> pd.DataFrame:
    """Target rows with `scaled`: the weight times the account's invested value (each account
    counts equally when nothing is invested)."""
    value = positions.groupby("portfolio_id")["market_value"].sum()
    weight_of = {pid: float(value.get(pid, 0.0)) for pid in set(targets["portfolio_id"])}
    if sum(weight_of.values()) <= 0:
        weight_of = dict.fromkeys(weight_of, 1.0)
    return targets.assign(scaled=targets["weight"] * targets["portfolio_id"].map(weight_of))


def household_weights(user: User) -> tuple[dict[str, float], dict[str, float]]:
    """(current, target) weights by asset class code across the user's active accounts:
    current from the positions at their latest prices, target from each account's model or
    custom targets weighted by the account's invested value (equally when nothing is invested).
    Either is empty when there is nothing to show."""
    ids = list(Portfolio.objects.for_user(user).active().values_list("pk", flat=True))
    if not ids:
        return {}, {}
    positions = selectors.holdings(ids).dropna(subset=["market_value"])
    current = _by_column(positions, "asset_class", "market_value")
    targets = selectors.targets(ids)
    if targets.empty:
        return current, {}
    return current, _by_column(_scaled_targets(targets, positions), "asset_class", "scaled")


@dataclass(frozen=True)
class Guardrails:
    """Volatility (annual fraction) of the model for the investor's level, above which a custom
    target needs the suitability acknowledgement, and of the model for their capacity cap,
    above which it is refused."""

    level: int
    max_level: int
    level_volatility: float
    cap_volatility: float


def guardrails(assessment: RiskAssessment) -> Guardrails:
    """The volatility limits of an assessment, from the same estimate the result page shows."""
    level_vol = level_estimate(assessment.risk_level)[1].volatility
    cap_vol = level_estimate(assessment.max_level)[1].volatility
    return Guardrails(
        assessment.risk_level, assessment.max_level, level_vol, max(level_vol, cap_vol)
    )


def estimate(weights: dict[str, float]) -> assumptions.PortfolioEstimate:
    """Expected return and volatility of asset-class weights (the capital market assumptions)."""
    return assumptions.portfolio_estimate(weights)


def published_weights(model: ModelPortfolio) -> dict[str, float]:
    """The model's target as it stands (its allocation rows)."""
    return model_weights(model)


def asset_class_names() -> dict[str, str]:
    """Asset class code -> name."""
    return dict(AssetClass.objects.values_list("code", "name"))


def securities() -> list[Security]:
    """Active securities with at least one close (the lab's choice of securities)."""
    return list(
        Security.objects.filter(is_active=True, prices__isnull=False)
        .select_related("asset_class")
        .distinct()
        .order_by("ticker")
    )


def security_universe(tickers: list[str], *, today: dt.date) -> compute.Universe:
    """Estimates of these securities from their closes over the last HISTORY_YEARS years."""
    rows = list(
        Security.objects.filter(ticker__in=tickers).values_list("pk", "ticker", "asset_class__code")
    )
    prices = selectors.price_frame(
        [pk for pk, _, _ in rows], start=today - relativedelta(years=HISTORY_YEARS)
    )
    if prices.empty:
        prices = pd.DataFrame(columns=tickers, dtype=float)
    return compute.history_universe(prices, {t: code for _, t, code in rows})


def household_securities(user: User) -> tuple[dict[str, float], dict[str, float]]:
    """(current, target) weights by ticker across the user's active accounts: positions at
    their latest prices, and each target class's security weighted as in `household_weights`."""
    ids = list(Portfolio.objects.for_user(user).active().values_list("pk", flat=True))
    if not ids:
        return {}, {}
    positions = selectors.holdings(ids).dropna(subset=["market_value"])
    current = _by_column(positions, "ticker", "market_value")
    targets = selectors.targets(ids)
    if targets.empty:
        return current, {}
    ticker_of = dict(
        Security.objects.filter(pk__in=set(targets["security_id"])).values_list("pk", "ticker")
    )
    targets = _scaled_targets(targets, positions).assign(
        ticker=lambda f: f["security_id"].map(ticker_of)
    )
    return current, _by_column(targets, "ticker", "scaled")


def assumption_rows() -> list[dict[str, object]]:
    """The capital market assumptions of each asset class on offer (annual fractions)."""
    rows = []
    for asset_class in asset_classes():
        cls = assumptions.canonical_class(asset_class.code)
        rows.append(
            {
                "name": asset_class.name,
                "code": asset_class.code,
                "expected_return": assumptions.EXPECTED_RETURN[cls],
                "volatility": assumptions.VOLATILITY[cls],
            }
        )
    return rows
