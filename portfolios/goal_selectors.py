"""Goal projections for pages and the dashboard: load inputs, run the Monte Carlo, cache.

Inputs of a goal's projection:
* starting wealth: market value (latest prices) plus cash of the accounts linked to the goal;
* the monthly contribution and the target amount and date from the goal;
* the risk level: the level of the linked accounts' model (the highest weight of money), else
  the investor's accepted or recommended level, else 5; then the glide path lowers it as the
  date nears (emergency funds always use level 2 at most);
* per month the expected return and volatility of the model for that month's level, from the
  capital market assumptions (portfolios.analytics.assumptions).

Results are cached (Django cache) under a key made of every input, so a changed price, a new
contribution or a new day gives a new key and nothing stale is ever shown.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import numpy as np
from django.core.cache import cache

from accounts import selectors as account_selectors
from accounts.models import User
from advisor.core import clock
from portfolios import selectors
from portfolios.analytics import glide_path, monte_carlo
from portfolios.models import Goal, Portfolio

SUCCESS_TARGET = 0.8
CACHE_SECONDS = 6 * 3600
EMERGENCY_MAX_LEVEL = 2


@dataclass(frozen=True)
class GoalInputs:
    initial: float
    contribution: float
    target: float
    months: int
    base_level: int
    levels: list[int]  # per month
    mu: list[float]  # per month, annual arithmetic expected return
    sigma: list[float]  # per month, annual volatility
    level_source: str


@dataclass
class GoalProjection:
    goal_id: int
    probability: float
    median_final: float
    p10_final: float
    p90_final: float
    required_contribution: float | None  # per month for SUCCESS_TARGET; None if not reachable
    fan_labels: list[str] = field(default_factory=list)
    fan: dict[str, list[float]] = field(default_factory=dict)  # "p10"/"p50"/"p90" -> values
    glide: list[dict[str, float]] = field(default_factory=list)
    inputs: dict[str, object] = field(default_factory=dict)


def months_between(today: dt.date, target: dt.date) -> int:
    """Whole months from today to the target date (0 when the date has passed). A month that
    ends on the last day of a shorter month is whole: 31 January to 28 February is one month,
    29 February to 28 February ten years later is 120."""
    month_end = calendar.monthrange(target.year, target.month)[1]
    short = target.day < today.day and target.day < month_end
    months = (target.year - today.year) * 12 + (target.month - today.month) - short
    return max(0, months)


def linked_value(goal: Goal) -> float:
    """Market value of the goal's linked active accounts plus their cash (money, float)."""
    accounts = list(goal.portfolios.filter(is_active=True).values_list("pk", "cash"))
    if not accounts:
        return 0.0
    positions = selectors.holdings([pk for pk, _ in accounts])
    invested = (
        float(np.nansum(positions["market_value"].to_numpy(dtype=float)))
        if not positions.empty
        else 0.0
    )
    return invested + sum(float(cash) for _, cash in accounts)


def base_level(goal: Goal) -> tuple[int, str]:
    """The investor's risk level for this goal and where it came from."""
    levels = list(
        goal.portfolios.filter(is_active=True, model__isnull=False).values_list(
            "model__risk_level", flat=True
        )
    )
    if levels:
        return min(levels), "the model of the linked accounts"
    assessment = account_selectors.current_assessment(goal.user)
    if assessment is not None:
        model = assessment.accepted_model
        if model is not None:
            return model.risk_level, "your accepted model"
        return assessment.risk_level, "your risk profile"
    return 5, "a middle level (no risk profile yet)"


def goal_inputs(goal: Goal, *, today: dt.date) -> GoalInputs:
    months = months_between(today, goal.target_date)
    level, source = base_level(goal)
    if goal.kind == Goal.Kind.EMERGENCY:
        level = min(level, EMERGENCY_MAX_LEVEL)
    levels = glide_path.monthly_levels(level, months)
    estimates = {lv: account_selectors.level_estimate(lv)[1] for lv in set(levels) | {level}}
    return GoalInputs(
        initial=linked_value(goal),
        contribution=float(goal.monthly_contribution),
        target=float(goal.target_amount),
        months=months,
        base_level=level,
        levels=levels,
        mu=[estimates[lv].expected_return for lv in levels],
        sigma=[estimates[lv].volatility for lv in levels],
        level_source=source,
    )


def _key(inputs: GoalInputs, today: dt.date, paths: int) -> str:
    raw = json.dumps([asdict(inputs), today.isoformat(), paths], sort_keys=True, default=str)
    return "goal-projection:" + hashlib.sha256(raw.encode()).hexdigest()


def project_goal(
    goal: Goal, *, today: dt.date, paths: int = monte_carlo.DEFAULT_PATHS
) -> GoalProjection:
    """The goal's Monte Carlo projection (cached on its inputs)."""
    inputs = goal_inputs(goal, today=today)
    key = _key(inputs, today, paths)
    cached = cache.get(key)
    if cached is not None:
        cached.goal_id = goal.pk
        return cached
    p = monte_carlo.simulate(
        initial=inputs.initial,
        contribution=inputs.contribution,
        months=inputs.months,
        mu=np.array(inputs.mu),
        sigma=np.array(inputs.sigma),
        target=inputs.target,
        paths=paths,
    )
    required: float | None = monte_carlo.required_contribution(
        p, initial=inputs.initial, target=inputs.target, probability=SUCCESS_TARGET
    )
    if required is not None and not np.isfinite(required):
        required = None
    labels = [(today.year * 12 + today.month - 1 + int(m)) for m in p.fan_months]
    result = GoalProjection(
        goal_id=goal.pk,
        probability=p.probability,
        median_final=p.final_percentiles[50.0],
        p10_final=p.final_percentiles[10.0],
        p90_final=p.final_percentiles[90.0],
        required_contribution=required,
        fan_labels=[f"{ym // 12}-{ym % 12 + 1:02d}" for ym in labels],
        fan={f"p{int(k)}": [round(float(x), 2) for x in v] for k, v in p.fan.items()},
        glide=[
            {"years_left": s.years_left, "level": s.level}
            for s in glide_path.schedule(inputs.base_level, inputs.months / 12)
        ],
        inputs={
            "initial": inputs.initial,
            "contribution": inputs.contribution,
            "months": inputs.months,
            "base_level": inputs.base_level,
            "level_source": inputs.level_source,
            "expected_return_now": inputs.mu[0] if inputs.mu else None,
            "volatility_now": inputs.sigma[0] if inputs.sigma else None,
        },
    )
    cache.set(key, result, CACHE_SECONDS)
    return result


@dataclass(frozen=True)
class GoalSummary:
    goal_id: int
    name: str
    kind: str
    target_amount: Decimal
    target_date: dt.date
    probability: float  # 0..1
    median_final: Decimal
    on_track: bool  # probability >= 80%


def goal_success_probabilities(user: User, *, today: dt.date | None = None) -> list[GoalSummary]:
    """Every goal of `user` with its probability of success, for the dashboard."""

    today = today or clock.today()
    summaries = []
    for goal in Goal.objects.filter(user=user).prefetch_related("portfolios"):
        projection = project_goal(goal, today=today)
        summaries.append(
            GoalSummary(
                goal_id=goal.pk,
                name=goal.name,
                kind=goal.kind,
                target_amount=goal.target_amount,
                target_date=goal.target_date,
                probability=projection.probability,
                median_final=Decimal(str(round(projection.median_final, 2))),
                on_track=projection.probability >= SUCCESS_TARGET,
            )
        )
    return summaries


def user_portfolios(user: User) -> list[Portfolio]:
    return list(Portfolio.objects.for_user(user).active())
