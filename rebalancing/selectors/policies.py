"""The one policy resolver: a portfolio's own policy wins, else its model's default policy,
else the built-in defaults (a fresh `RebalancePolicy()`). The drift check, the approval
re-check and the dashboard all read policies here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.db.models import Q

from portfolios.models import Portfolio
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
