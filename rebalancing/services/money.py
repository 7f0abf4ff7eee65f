"""Money movement: deposits, scheduled contributions and withdrawal requests.

All three end on the drift check's proposal path (`services.drift`), so the cash is invested or
raised by the same engine, approved (with step-up) and executed like any rebalance:

- `deposit`: the cash arrives in the ledger (with its audit event, one transaction), then the
  account is checked: the engine's cash-flow rule proposes investing it toward the target.
- `run_contributions` (beat, daily): each schedule's due sessions become deposits, once each:
  the ledger key `contribution:<schedule>:<scheduled date>` is unique per account, and the
  ledger locks the account row first, so two workers or a rerun after a crash find the first
  deposit instead of writing a second.
- `request_withdrawal`: an open `WithdrawalRequest`; every drift check of the account passes
  its amount to the engine (`evaluate(withdrawal=)` / `generate(withdrawal=)`), which sells
  the most overweight classes, cheapest lots in tax first. `settle_withdrawal`, called in the
  transaction that finishes the execution, pays the cash out.

Services raise `MoneyError` with a message for the investor; nothing is written then.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from accounts import audit
from accounts.models import User
from advisor.core import clock, dates
from portfolios import ledger, selectors
from portfolios.models import Portfolio, Transaction
from rebalancing.engine import contributions
from rebalancing.models import ContributionSchedule, Proposal, WithdrawalRequest
from rebalancing.services import drift

#: How far ahead a withdrawal may be requested.
MAX_NOTICE_DAYS = 366


class MoneyError(ValueError):
    """A money movement refused; the message is meant for the investor."""


@dataclass
class Outcome:
    """What a deposit or a withdrawal request led to: the drift check's result (a proposal
    when `check.proposal_id` is set or an identical one already waits)."""

    check: drift.CheckResult
    transaction: Transaction | None = None
    request: WithdrawalRequest | None = None

    @property
    def proposal_id(self) -> int | None:
        if self.check.proposal_id is not None:
            return self.check.proposal_id
        if self.check.status != "unchanged":
            return None
        return (
            Proposal.objects.pending()
            .filter(portfolio_id=self.check.portfolio_id, kind=Proposal.Kind.REBALANCE)
            .values_list("pk", flat=True)
            .first()
        )


def _owned(user: User, portfolio_id: int) -> Portfolio:
    portfolio = Portfolio.objects.filter(pk=portfolio_id, owner=user, is_active=True).first()
    if portfolio is None:
        raise Portfolio.DoesNotExist(portfolio_id)
    return portfolio


def account_value(portfolio: Portfolio) -> Decimal:
    """Cash plus the holdings at their latest close (unpriced holdings count nothing)."""
    positions = selectors.holdings([portfolio.pk])
    invested = float(positions["market_value"].fillna(0.0).sum()) if len(positions) else 0.0
    return portfolio.cash + Decimal(f"{invested:.2f}")


def _positive(amount: Decimal | None, what: str) -> Decimal:
    if amount is None:
        raise MoneyError(f"Enter the amount to {what}.")
    if amount <= 0:
        raise MoneyError(f"The amount to {what} must be more than $0.00.")
    try:
        return ledger.money(amount)
    except ledger.LedgerError as exc:
        raise MoneyError(str(exc)) from None


def deposit(user: User, portfolio_id: int, amount: Decimal | None, *, key: str = "") -> Outcome:
    """Record cash arriving in the investor's account today and propose investing it.

    `key` (a form's one-time token) makes a resubmitted form record the deposit once.
    Raises Portfolio.DoesNotExist for an account that is not the user's, MoneyError for a bad
    amount."""
    portfolio = _owned(user, portfolio_id)
    value = _positive(amount, "deposit")
    external_id = f"deposit:{key}" if key else None
    with transaction.atomic():
        Portfolio.objects.select_for_update().get(pk=portfolio.pk)
        if external_id and (
            seen := Transaction.objects.filter(portfolio=portfolio, external_id=external_id).first()
        ):
            return Outcome(drift.run_drift_check(portfolio.pk), transaction=seen)
        try:
            txn = ledger.record_cash(
                portfolio,
                kind=Transaction.Kind.DEPOSIT,
                amount=value,
                trade_date=clock.today(),
                external_id=external_id,
                note="Deposit",
            )
        except ledger.LedgerError as exc:
            raise MoneyError(str(exc)) from None
        audit.record(
            "cash.deposit",
            household=user,
            actor=user,
            obj=txn,
            summary=f"Deposit of {value:,.2f} into {portfolio.name}",
            portfolio=portfolio.pk,
            amount=str(value),
        )
    return Outcome(drift.run_drift_check(portfolio.pk), transaction=txn)


def request_withdrawal(
    user: User, portfolio_id: int, amount: Decimal | None, needed_on: dt.date | None
) -> Outcome:
    """Ask for `amount` out of the account by `needed_on`; the drift check proposes the sales
    that raise it. Refused (MoneyError): no or a non-positive amount, more than the account is
    worth, a date in the past or more than a year ahead, another request still open."""
    portfolio = _owned(user, portfolio_id)
    value = _positive(amount, "withdraw")
    today = clock.today()
    if needed_on is None:
        raise MoneyError("Enter the date you need the money.")
    if needed_on < today:
        raise MoneyError(f"The date {dates.day(needed_on)} is in the past.")
    if needed_on > today + dt.timedelta(days=MAX_NOTICE_DAYS):
        raise MoneyError("Ask for a withdrawal at most a year ahead.")
    worth = account_value(portfolio)
    if value > worth:
        raise MoneyError(
            f"{portfolio.name} is worth {worth:,.2f}: a withdrawal of {value:,.2f} is larger "
            "than the account."
        )
    with transaction.atomic():
        locked = Portfolio.objects.select_for_update().get(pk=portfolio.pk)
        if WithdrawalRequest.objects.filter(
            portfolio=portfolio, status=WithdrawalRequest.Status.OPEN
        ).exists():
            raise MoneyError(
                "A withdrawal from this account is already being raised: cancel it first."
            )
        request = WithdrawalRequest.objects.create(
            portfolio=portfolio, amount=value, needed_on=needed_on
        )
        audit.record(
            "cash.withdrawal_requested",
            household=user,
            actor=user,
            obj=request,
            summary=f"Withdrawal of {value:,.2f} from {portfolio.name} requested for "
            f"{dates.day(needed_on)}",
            portfolio=portfolio.pk,
            amount=str(value),
            needed_on=needed_on.isoformat(),
        )
        if locked.cash >= value:
            _pay_from_cash(request)
    # The check raises what the cash does not cover (or invests what is left over).
    return Outcome(drift.run_drift_check(portfolio.pk), request=request)


def _pay_from_cash(request: WithdrawalRequest) -> None:
    """The account's cash covers the withdrawal: no sale is needed, it is paid out at once (in
    the caller's transaction, which holds the account's row lock)."""
    ledger.record_cash(
        request.portfolio,
        kind=Transaction.Kind.WITHDRAWAL,
        amount=request.amount,
        trade_date=clock.today(),
        external_id=f"withdrawal:{request.pk}",
        note=f"Withdrawal requested for {dates.day(request.needed_on)}, paid from cash",
    )
    request.status, request.closed_at = WithdrawalRequest.Status.PAID, clock.now()
    request.save(update_fields=["status", "closed_at"])
    audit.record(
        "cash.withdrawal_paid",
        household=request.portfolio.owner,
        obj=request,
        summary=f"Withdrawal of {request.amount:,.2f} paid from the account's cash",
    )


def cancel_withdrawal(user: User, request_id: int) -> WithdrawalRequest:
    """Cancel an open request; its pending proposal is checked again without it."""
    with transaction.atomic():
        request = (
            WithdrawalRequest.objects.select_for_update()
            .filter(pk=request_id, portfolio__owner=user)
            .first()
        )
        if request is None:
            raise WithdrawalRequest.DoesNotExist(request_id)
        if request.status != WithdrawalRequest.Status.OPEN:
            raise MoneyError(f"This withdrawal is {request.get_status_display().lower()}.")
        request.status = WithdrawalRequest.Status.CANCELLED
        request.closed_at = clock.now()
        request.save(update_fields=["status", "closed_at"])
        audit.record(
            "cash.withdrawal_cancelled",
            household=user,
            actor=user,
            obj=request,
            summary=f"Withdrawal of {request.amount:,.2f} cancelled",
        )
    drift.run_drift_check(request.portfolio_id)
    return request


def settle_withdrawal(proposal: Proposal) -> WithdrawalRequest | None:
    """Pay out the withdrawal an executed proposal raised cash for (call inside the transaction
    that finishes the execution). Idempotent: the ledger key is the request's."""
    wanted = (proposal.details or {}).get("withdrawal")
    if not wanted or proposal.status not in (Proposal.Status.EXECUTED, Proposal.Status.PARTIAL):
        return None
    request = (
        WithdrawalRequest.objects.select_for_update()
        .filter(pk=wanted["request"], status=WithdrawalRequest.Status.OPEN)
        .first()
    )
    if request is None:
        return None
    try:
        with transaction.atomic():
            ledger.record_cash(
                proposal.portfolio,
                kind=Transaction.Kind.WITHDRAWAL,
                amount=request.amount,
                trade_date=clock.today(),
                external_id=f"withdrawal:{request.pk}",
                note=f"Withdrawal requested for {dates.day(request.needed_on)}",
            )
        request.status = WithdrawalRequest.Status.PAID
    except ledger.LedgerError as exc:
        request.status, request.note = WithdrawalRequest.Status.FAILED, str(exc)[:300]
    request.closed_at = clock.now()
    request.save(update_fields=["status", "note", "closed_at"])
    audit.record(
        f"cash.withdrawal_{request.status}",
        household=proposal.portfolio.owner,
        obj=request,
        summary=f"Withdrawal of {request.amount:,.2f} {request.get_status_display().lower()}",
        proposal=proposal.pk,
    )
    return request


def add_contribution(
    user: User,
    portfolio_id: int,
    *,
    amount: Decimal | None,
    frequency: str,
    day_of_month: int,
    start_on: dt.date | None,
) -> ContributionSchedule:
    """A new schedule for the investor's account (audited)."""
    portfolio = _owned(user, portfolio_id)
    value = _positive(amount, "contribute")
    if frequency not in ContributionSchedule.Frequency.values:
        raise MoneyError("Choose how often to contribute.")
    if not 1 <= day_of_month <= 28:
        raise MoneyError("The day of the month must be between 1 and 28.")
    today = clock.today()
    start = start_on or today
    if start < today:
        raise MoneyError(f"The first date {dates.day(start)} is in the past.")
    with transaction.atomic():
        schedule = ContributionSchedule.objects.create(
            portfolio=portfolio,
            amount=value,
            frequency=frequency,
            day_of_month=day_of_month,
            start_on=start,
        )
        audit.record(
            "cash.contribution_scheduled",
            household=user,
            actor=user,
            obj=schedule,
            summary=f"{schedule.get_frequency_display()}: {value:,.2f} into {portfolio.name}",
            amount=str(value),
            frequency=frequency,
            day_of_month=day_of_month,
            start_on=start.isoformat(),
        )
    return schedule


def stop_contribution(user: User, schedule_id: int) -> ContributionSchedule:
    with transaction.atomic():
        schedule = (
            ContributionSchedule.objects.select_for_update()
            .filter(pk=schedule_id, portfolio__owner=user, is_active=True)
            .first()
        )
        if schedule is None:
            raise ContributionSchedule.DoesNotExist(schedule_id)
        schedule.is_active = False
        schedule.save(update_fields=["is_active"])
        audit.record(
            "cash.contribution_stopped",
            household=user,
            actor=user,
            obj=schedule,
            summary=f"Stopped {schedule.get_frequency_display().lower()} {schedule.amount:,.2f}",
        )
    return schedule


def contribute_due(schedule_id: int, *, today: dt.date) -> list[Transaction]:
    """Deposit every due contribution of one schedule (each once), then check the account.

    The schedule row is locked and its last deposited date read under the lock, so a second
    worker waits and then finds nothing due; the ledger key is the last guard."""
    with transaction.atomic():
        schedule = (
            ContributionSchedule.objects.select_for_update()
            .select_related("portfolio__owner")
            .get(pk=schedule_id)
        )
        due = contributions.due(
            schedule.frequency,
            schedule.day_of_month,
            schedule.start_on,
            after=schedule.last_due_on,
            today=today,
        )
        if not due or not schedule.is_active:
            return []
        deposits = [
            ledger.record_cash(
                schedule.portfolio,
                kind=Transaction.Kind.DEPOSIT,
                amount=schedule.amount,
                trade_date=item.session,
                external_id=f"contribution:{schedule.pk}:{item.scheduled.isoformat()}",
                note=f"Scheduled contribution of {dates.day(item.scheduled)}",
            )
            for item in due
        ]
        schedule.last_due_on = due[-1].scheduled
        schedule.save(update_fields=["last_due_on"])
        audit.record(
            "cash.contribution",
            household=schedule.portfolio.owner,
            obj=schedule,
            summary=f"{len(due)} scheduled contribution(s) of {schedule.amount:,.2f} into "
            f"{schedule.portfolio.name}",
            dates=[d.scheduled.isoformat() for d in due],
        )
    drift.run_drift_check(schedule.portfolio_id, today=today)
    return deposits


def run_contributions(*, today: dt.date | None = None) -> int:
    """Beat entry (daily, after the open): every active schedule's due contributions.
    Returns how many schedules deposited something."""
    today = today or clock.today()
    done = 0
    ids = ContributionSchedule.objects.filter(
        is_active=True, start_on__lte=today, portfolio__is_active=True
    ).values_list("pk", flat=True)
    for schedule_id in ids:
        if contribute_due(schedule_id, today=today):
            done += 1
    return done
