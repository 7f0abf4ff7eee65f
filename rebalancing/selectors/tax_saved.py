"""The household's tax saved by executed harvests (rows written by services/tax_saved.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum

from accounts.models import User
from portfolios.models import Portfolio
from rebalancing.models import TaxSaving

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class TaxSaved:
    """Totals in dollars (net of costs): `total` since the first harvest, `this_year` in the
    calendar year of `today`; `rows` the newest harvests."""

    total: Decimal
    this_year: Decimal
    count: int
    rows: list[TaxSaving] = field(default_factory=list)


def household_tax_saved(
    user: User, *, today: dt.date, portfolio: Portfolio | None = None, newest: int = 10
) -> TaxSaved:
    """Two queries: the totals, and the newest rows with their proposals' accounts. With
    `portfolio`, only the harvests in that account."""
    year_start = dt.date(today.year, 1, 1)
    savings = TaxSaving.objects.filter(household=user)
    if portfolio is not None:
        savings = savings.filter(proposal__portfolio=portfolio)
    totals = savings.aggregate(
        total=Sum("amount"),
        this_year=Sum("amount", filter=Q(realised_on__gte=year_start)),
        count=Count("id"),
    )
    rows = list(
        savings.select_related("proposal__portfolio").order_by("-realised_on", "-id")[:newest]
    )
    return TaxSaved(
        total=totals["total"] or ZERO,
        this_year=totals["this_year"] or ZERO,
        count=int(totals["count"] or 0),
        rows=rows,
    )
