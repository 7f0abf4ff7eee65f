"""The one policy resolver: a portfolio's own policy wins, else its model's default policy,
else the built-in defaults (a fresh `RebalancePolicy()`). The drift check, the approval
re-check and the dashboard all read policies here."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
from django.db.models import Q

from portfolios.models import Portfolio
from rebalancing.engine import policy
from rebalancing.models import RebalancePolicy

# (portfolio id, model id or None)
Owner = tuple[int, int | None]


def distinct_policies(
    portfolios: Sequence[Owner], *, span: tuple[int, int] | None = None
) -> tuple[list[RebalancePolicy], np.ndarray]:
    """The policy of each portfolio as the few distinct policies that apply and, per portfolio,
    the index of its policy in that list. One query. `span` (an inclusive id range covering
    the portfolios) replaces a long id list in the query."""
    ids = [pk for pk, _ in portfolios]
    models = {model for _, model in portfolios if model is not None}
    own = (
        Q(portfolio_id__gte=span[0], portfolio_id__lte=span[1]) if span else Q(portfolio_id__in=ids)
    )
    rows = RebalancePolicy.objects.filter(own | Q(model_id__in=models)) if ids else []
    by_portfolio = {r.portfolio_id: r for r in rows if r.portfolio_id is not None}
    by_model = {r.model_id: r for r in rows if r.model_id is not None}
    default = RebalancePolicy()
    unique: list[RebalancePolicy] = []
    slot: dict[int, int] = {}
    index = np.empty(len(portfolios), dtype=np.intp)
    for i, (pk, model) in enumerate(portfolios):
        chosen = by_portfolio.get(pk) or (model is not None and by_model.get(model)) or default
        if id(chosen) not in slot:
            slot[id(chosen)] = len(unique)
            unique.append(chosen)
        index[i] = slot[id(chosen)]
    return unique, index


def policies_for(portfolios: Sequence[Portfolio]) -> dict[int, RebalancePolicy]:
    """{portfolio id: the policy that applies} for a few portfolios (pages). One query."""
    unique, index = distinct_policies([(p.pk, p.model_id) for p in portfolios])
    return {p.pk: unique[i] for p, i in zip(portfolios, index.tolist(), strict=True)}


def policy_for(portfolio: Portfolio) -> RebalancePolicy:
    """The policy that applies to one portfolio. One query."""
    return policies_for([portfolio])[portfolio.pk]


def _float_or_nan(value: Decimal | None) -> float:
    return float("nan") if value is None else float(value)


def engine_policies(rows: Sequence[RebalancePolicy]) -> policy.Policies:
    """The engine's arrays for these policies, one entry per row (`last_calendar` NaT): the one
    conversion the drift check and the backtests share."""
    return policy.Policies(
        frequency=np.array([r.calendar_frequency for r in rows], dtype=object),
        calendar_day=np.array([r.calendar_day for r in rows], dtype=int),
        absolute_band=np.array([_float_or_nan(r.absolute_band) for r in rows], dtype=float),
        relative_band=np.array([_float_or_nan(r.relative_band) for r in rows], dtype=float),
        cash_flow=np.array([r.cash_flow_enabled for r in rows], dtype=bool),
        volatility_adjusted=np.array([r.volatility_adjusted for r in rows], dtype=bool),
        full=np.array([r.rebalance_to == RebalancePolicy.Target.FULL for r in rows], dtype=bool),
        min_trade=np.array([float(r.min_trade_amount) for r in rows], dtype=float),
        cash_buffer=np.array([float(r.cash_buffer) for r in rows], dtype=float),
        allow_short_term_gains=np.array([r.allow_short_term_gains for r in rows], dtype=bool),
        max_tax_cost=np.array([_float_or_nan(r.max_tax_cost) for r in rows], dtype=float),
        last_calendar=np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[D]"),
    )
