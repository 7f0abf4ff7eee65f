"""What the money pages and the proposal page show about deposits, withdrawals, contributions
and when orders fill. Data only; the words are in the templates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from advisor.core import clock
from portfolios import market_calendar
from portfolios.models import Portfolio
from rebalancing.engine import contributions
from rebalancing.models import ContributionSchedule, Proposal, WithdrawalRequest
from rebalancing.selectors import tax

NOT_DONE = {
    Proposal.Status.PENDING,
    Proposal.Status.APPROVED,
    Proposal.Status.EXECUTING,
}


@dataclass(frozen=True)
class TaxCost:
    """The tax estimate of a proposal's sales: realised short/long-term gains, the tax (netted
    within the year) and the rates used (fractions)."""

    short_term_gain: Decimal
    long_term_gain: Decimal
    tax: Decimal
    short_rate: float
    long_rate: float


def tax_cost(proposal: Proposal) -> TaxCost:
    """The tax cost of raising a withdrawal: the proposal page's own estimate
    (`selectors.tax.proposal_tax`: Schedule D netting with what the household realised this
    year, at the investor's rates), so the withdrawal page and the proposal page show one
    number. The one place money movement reads a tax estimate."""
    estimate = tax.proposal_tax(proposal)
    return TaxCost(
        proposal.est_short_term_gain,
        proposal.est_long_term_gain,
        Decimal(f"{estimate.tax:.2f}"),
        estimate.short_rate,
        estimate.long_rate,
    )


def orders_fill_at(now: dt.datetime | None = None) -> dt.datetime | None:
    """When orders sent now would fill: None while the market is open (or where the paper
    broker is told to ignore market hours), otherwise the next session's opening bell."""
    if settings.ADVISOR_BROKER == "paper" and not settings.ADVISOR_PAPER_MARKET_HOURS:
        return None
    now = now or clock.now()
    return None if market_calendar.is_open(now) else market_calendar.next_open(now)


def proposal_panel(proposal: Proposal) -> dict[str, Any]:
    """The money facts of a proposal page: the withdrawal it raises (with its request and tax
    cost) and, while it is not done, when its orders fill. (The execution summary is stored in
    the proposal's details when it finishes: `selectors.execution.summary`.)"""
    details = proposal.details or {}
    wanted = details.get("withdrawal")
    request = WithdrawalRequest.objects.filter(pk=wanted["request"]).first() if wanted else None
    return {
        "withdrawal": request,
        "tax_cost": tax_cost(proposal) if request is not None else None,
        "fills_at": orders_fill_at() if proposal.status in NOT_DONE else None,
    }


def open_withdrawal(portfolio: Portfolio) -> tuple[WithdrawalRequest | None, Proposal | None]:
    """The account's open withdrawal request and the pending or running proposal raising it."""
    request = WithdrawalRequest.objects.filter(
        portfolio=portfolio, status=WithdrawalRequest.Status.OPEN
    ).first()
    if request is None:
        return None, None
    proposal = (
        Proposal.objects.filter(
            portfolio=portfolio, status__in=NOT_DONE, details__withdrawal__request=request.pk
        )
        .order_by("-created_at")
        .first()
    )
    return request, proposal


def past_withdrawals(portfolio: Portfolio) -> list[WithdrawalRequest]:
    return list(
        WithdrawalRequest.objects.filter(portfolio=portfolio)
        .exclude(status=WithdrawalRequest.Status.OPEN)
        .order_by("-created_at")[:10]
    )


def schedules(portfolio: Portfolio) -> list[dict[str, Any]]:
    """The account's active contribution schedules, each with its next due date."""
    today = clock.today()
    return [
        {
            "schedule": s,
            "next": contributions.next_due(
                s.frequency, s.day_of_month, s.start_on, after=s.last_due_on, today=today
            ),
        }
        for s in ContributionSchedule.objects.filter(portfolio=portfolio, is_active=True)
    ]
