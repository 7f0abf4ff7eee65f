"""Money pages: deposit, withdrawal request, scheduled contributions (namespace `money`).

Thin: the account is fetched scoped to request.user (another user's id is a 404), the services
in rebalancing.services.money do the work and refuse bad input with a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedRequest
from portfolios.models import Portfolio
from rebalancing.forms import ContributionForm, DepositForm, WithdrawalForm, one_time_key
from rebalancing.models import ContributionSchedule, WithdrawalRequest
from rebalancing.selectors import money as panels
from rebalancing.services import money


def _portfolio(request: AuthenticatedRequest, pk: int) -> Portfolio:
    return get_object_or_404(Portfolio, pk=pk, owner=request.user, is_active=True)


def _to_proposal_or_account(outcome: money.Outcome, portfolio: Portfolio) -> HttpResponse:
    proposal_id = outcome.proposal_id
    if proposal_id is not None:
        return redirect("rebalancing:detail", pk=proposal_id)
    return redirect("portfolios:detail", pk=portfolio.pk)


@login_required
@require_http_methods(["GET", "POST"])
def deposit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    portfolio = _portfolio(request, pk)
    form = DepositForm(request.POST or None, initial={"key": one_time_key()})
    if request.method == "POST" and form.is_valid():
        try:
            outcome = money.deposit(
                request.user, portfolio.pk, form.cleaned_data["amount"],
                key=form.cleaned_data["key"],
            )  # fmt: skip
        except money.MoneyError as exc:
            form.add_error("amount", str(exc))
        else:
            amount = outcome.transaction.amount if outcome.transaction else 0
            if outcome.proposal_id is not None:
                messages.success(request, f"Deposit of ${amount:,.2f} recorded: the proposal "
                                 "below invests it.")  # fmt: skip
            else:
                messages.success(request, f"Deposit of ${amount:,.2f} recorded. No purchase "
                                 "is proposed now: the account has no target yet, the amount "
                                 "is below the minimum trade, or its policy keeps new cash as "
                                 "cash.")  # fmt: skip
            return _to_proposal_or_account(outcome, portfolio)
    return render(
        request,
        "money/deposit.html",
        {"nav": "portfolios", "portfolio": portfolio, "form": form,
         "fills_at": panels.orders_fill_at()},
    )  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    portfolio = _portfolio(request, pk)
    form = WithdrawalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            outcome = money.request_withdrawal(
                request.user, portfolio.pk, d["amount"], d["needed_on"]
            )
        except money.MoneyError as exc:
            form.add_error(None, str(exc))
        else:
            assert outcome.request is not None
            if outcome.request.status == WithdrawalRequest.Status.PAID:
                messages.success(request, f"${outcome.request.amount:,.2f} paid out of the "
                                 "account's cash: no sale was needed.")  # fmt: skip
                return redirect("money:withdraw", pk=portfolio.pk)
            if outcome.proposal_id is not None:
                messages.success(request, f"Withdrawal of ${outcome.request.amount:,.2f} "
                                 "requested: the proposal below raises it.")  # fmt: skip
                return redirect("rebalancing:detail", pk=outcome.proposal_id)
            messages.success(request, "Withdrawal requested.")
            return redirect("money:withdraw", pk=portfolio.pk)
    request_open, proposal = panels.open_withdrawal(portfolio)
    return render(
        request,
        "money/withdraw.html",
        {
            "nav": "portfolios",
            "portfolio": portfolio,
            "form": form,
            "open_request": request_open,
            "proposal": proposal,
            "tax_cost": panels.tax_cost(proposal) if proposal else None,
            "past": panels.past_withdrawals(portfolio),
            "value": money.account_value(portfolio),
        },
    )


@login_required
@require_POST
def withdraw_cancel(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    try:
        cancelled = money.cancel_withdrawal(request.user, pk)
    except WithdrawalRequest.DoesNotExist:
        raise Http404 from None
    except money.MoneyError as exc:
        messages.error(request, str(exc))
        found = get_object_or_404(WithdrawalRequest, pk=pk, portfolio__owner=request.user)
        return redirect("money:withdraw", pk=found.portfolio_id)
    messages.success(request, "Withdrawal cancelled.")
    return redirect("money:withdraw", pk=cancelled.portfolio_id)


@login_required
@require_http_methods(["GET", "POST"])
def contributions(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    portfolio = _portfolio(request, pk)
    form = ContributionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            money.add_contribution(
                request.user, portfolio.pk, amount=d["amount"], frequency=d["frequency"],
                day_of_month=d["day_of_month"], start_on=d["start_on"],
            )  # fmt: skip
        except money.MoneyError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Contribution scheduled.")
            return redirect("money:contributions", pk=portfolio.pk)
    return render(
        request,
        "money/contributions.html",
        {"nav": "portfolios", "portfolio": portfolio, "form": form,
         "schedules": panels.schedules(portfolio)},
    )  # fmt: skip


@login_required
@require_POST
def contribution_stop(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    try:
        schedule = money.stop_contribution(request.user, pk)
    except ContributionSchedule.DoesNotExist:
        raise Http404 from None
    messages.success(request, "Contribution stopped.")
    return redirect("money:contributions", pk=schedule.portfolio_id)
