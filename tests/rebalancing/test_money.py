"""Deposits, withdrawal requests and scheduled contributions through the proposal path, and
the paper broker's market hours. Numbers hand-worked from tests/rebalancing/money_world.py."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from dateutil.relativedelta import SA, relativedelta
from django.db import connection

from accounts.models import AuditEvent, InvestorProfile
from advisor.core import clock
from portfolios import market_calendar
from portfolios.models import Portfolio, Transaction
from rebalancing.engine import contributions
from rebalancing.models import (
    ContributionSchedule,
    Notification,
    PaperOrder,
    Proposal,
    WithdrawalRequest,
)
from rebalancing.selectors import money as panels
from rebalancing.services import approval, execution, money
from tests.factories import UserFactory
from tests.rebalancing.money_world import balanced_account

pytestmark = pytest.mark.django_db

ST_RATE = InvestorProfile._meta.get_field("short_term_tax_rate").default


def _trades(proposal: Proposal) -> dict[tuple[str, str], object]:
    return {(t.side, t.security.ticker): t for t in proposal.trades.select_related("security")}


def _execute(proposal_id: int, user) -> str:
    decision = approval.approve_proposal(proposal_id, by=user)
    assert decision.ok, decision.message
    return execution.execute_proposal(proposal_id)


def test_a_deposit_is_recorded_audited_and_invested_toward_the_target():
    owner = UserFactory()
    world = balanced_account(owner)
    outcome = money.deposit(owner, world.portfolio.pk, Decimal("1000"), key="k1")
    world.portfolio.refresh_from_db()
    assert world.portfolio.cash == Decimal("1000.00")
    assert outcome.transaction.kind == Transaction.Kind.DEPOSIT
    assert AuditEvent.objects.filter(action="cash.deposit", household=owner).count() == 1
    proposal = Proposal.objects.get(pk=outcome.proposal_id)
    assert proposal.rule == "cash_flow"
    # 11,000 less the 1% buffer (110) and the 5 bp spread: 889.56 to invest, split so both
    # classes end at 60/40 of the invested 10,889.56 -> 533.73 VTI and 355.82 BND.
    trades = _trades(proposal)
    assert set(trades) == {("buy", "VTI"), ("buy", "BND")}
    assert trades["buy", "VTI"].amount == pytest.approx(Decimal("533.73"), abs=Decimal("0.02"))
    assert trades["buy", "BND"].amount == pytest.approx(Decimal("355.82"), abs=Decimal("0.02"))


def test_a_resubmitted_deposit_form_records_one_deposit():
    owner = UserFactory()
    world = balanced_account(owner)
    money.deposit(owner, world.portfolio.pk, Decimal("1000"), key="same")
    money.deposit(owner, world.portfolio.pk, Decimal("1000"), key="same")
    world.portfolio.refresh_from_db()
    assert world.portfolio.cash == Decimal("1000.00")
    assert AuditEvent.objects.filter(action="cash.deposit").count() == 1
    assert Proposal.objects.filter(portfolio=world.portfolio).pending().count() == 1


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Decimal("0"), "must be more than $0.00"),
        (Decimal("-50"), "must be more than $0.00"),
        (None, "Enter the amount"),
    ],
)
def test_a_bad_deposit_is_refused_and_changes_nothing(amount, message):
    owner = UserFactory()
    world = balanced_account(owner)
    before = (Transaction.objects.count(), AuditEvent.objects.count(), Proposal.objects.count())
    with pytest.raises(money.MoneyError, match=message.replace("$", r"\$")):
        money.deposit(owner, world.portfolio.pk, amount)
    after = (Transaction.objects.count(), AuditEvent.objects.count(), Proposal.objects.count())
    assert after == before


def test_another_users_account_is_not_found():
    owner, intruder = UserFactory(), UserFactory()
    world = balanced_account(owner)
    with pytest.raises(Portfolio.DoesNotExist):
        money.deposit(intruder, world.portfolio.pk, Decimal("10"))
    with pytest.raises(Portfolio.DoesNotExist):
        money.request_withdrawal(
            intruder, world.portfolio.pk, Decimal("10"), clock.today() + dt.timedelta(days=3)
        )
    assert not WithdrawalRequest.objects.exists()
    assert Transaction.objects.filter(kind=Transaction.Kind.DEPOSIT).count() == 0


def test_a_withdrawal_sells_the_loss_lot_first_and_is_paid_out_on_execution():
    owner = UserFactory()
    world = balanced_account(owner)
    outcome = money.request_withdrawal(
        owner, world.portfolio.pk, Decimal("2000"), clock.today() + dt.timedelta(days=10)
    )
    proposal = Proposal.objects.get(pk=outcome.proposal_id)
    assert proposal.details["withdrawal"] == {"request": outcome.request.pk, "amount": "2000.00"}
    # 10,000 - 2,000 - 1% buffer (100) - spread (1.05) = 7,898.95 invested at 60/40:
    # sell 1,260.63 of VTI and 840.42 of BND.
    trades = _trades(proposal)
    assert set(trades) == {("sell", "VTI"), ("sell", "BND")}
    vti = trades["sell", "VTI"]
    assert vti.amount == pytest.approx(Decimal("1260.63"), abs=Decimal("0.02"))
    assert trades["sell", "BND"].amount == pytest.approx(Decimal("840.42"), abs=Decimal("0.02"))
    # Least tax: every VTI share comes from the lot bought at 120 (a 20 loss a share), none
    # from the lot bought at 80 (a 20 gain a share).
    assert [int(e["lot"]) for e in vti.lots] == [world.loss_lot.pk]
    assert proposal.est_short_term_gain == pytest.approx(Decimal("-252.13"), abs=Decimal("0.02"))
    assert proposal.est_long_term_gain == Decimal("0.00")
    cost = panels.tax_cost(proposal)
    assert cost.tax == pytest.approx(Decimal("-252.13") * ST_RATE, abs=Decimal("0.02"))

    assert _execute(proposal.pk, owner) == Proposal.Status.EXECUTED
    request = WithdrawalRequest.objects.get(pk=outcome.request.pk)
    assert request.status == WithdrawalRequest.Status.PAID
    paid = Transaction.objects.get(portfolio=world.portfolio, kind=Transaction.Kind.WITHDRAWAL)
    assert paid.amount == Decimal("-2000.00")
    world.portfolio.refresh_from_db()
    proposal.refresh_from_db()
    summary = proposal.details["execution"]
    # Proceeds 2,101.05 less the 5 bp the paper broker's fills give up: about 100 left.
    assert Decimal(summary["cash_left"]) == world.portfolio.cash
    assert world.portfolio.cash == pytest.approx(Decimal("100.00"), abs=Decimal("0.05"))
    # Realised at the fill price: 12.6063 shares x (99.95 - 120) = -252.76.
    assert Decimal(summary["short_term_gain"]) == pytest.approx(
        Decimal("-252.76"), abs=Decimal("0.02")
    )
    assert summary["withdrawal"]["status"] == "paid"
    body = Notification.objects.get(proposal=proposal, kind="executed").body
    assert "Sold:" in body and "VTI" in body and "BND" in body
    assert "Withdrawal of $2000.00: paid out" in body
    assert proposal.reason not in body
    # The next check of the account no longer raises the cash.
    assert money.drift.run_drift_check(world.portfolio.pk).status in ("no_action", "no_trades")


@pytest.mark.parametrize(
    ("amount", "days", "message"),
    [
        (Decimal("10000.01"), 5, "larger than the account"),
        (Decimal("0"), 5, "must be more than"),
        (Decimal("-100"), 5, "must be more than"),
        (Decimal("100"), -1, "in the past"),
        (Decimal("100"), 400, "at most a year ahead"),
    ],
)
def test_a_bad_withdrawal_is_refused_and_changes_nothing(amount, days, message):
    owner = UserFactory()
    world = balanced_account(owner)
    before = (AuditEvent.objects.count(), Proposal.objects.count(), Transaction.objects.count())
    with pytest.raises(money.MoneyError, match=message):
        money.request_withdrawal(
            owner, world.portfolio.pk, amount, clock.today() + dt.timedelta(days=days)
        )
    assert not WithdrawalRequest.objects.exists()
    after = (AuditEvent.objects.count(), Proposal.objects.count(), Transaction.objects.count())
    assert after == before


def test_a_withdrawal_the_cash_covers_is_paid_at_once_without_a_sale():
    owner = UserFactory()
    world = balanced_account(owner)
    money.deposit(owner, world.portfolio.pk, Decimal("1000"))
    outcome = money.request_withdrawal(
        owner, world.portfolio.pk, Decimal("600"), clock.today() + dt.timedelta(days=3)
    )
    assert outcome.request.status == WithdrawalRequest.Status.PAID
    world.portfolio.refresh_from_db()
    assert world.portfolio.cash == Decimal("400.00")
    # The deposit's invest proposal is re-checked with the cash left: 400 - 1% of 10,400
    # (104) = 296 to invest, no sale.
    proposal = Proposal.objects.pending().get(portfolio=world.portfolio)
    assert proposal.pk == outcome.proposal_id
    assert "withdrawal" not in proposal.details
    trades = _trades(proposal)
    assert {side for side, _ in trades} == {"buy"}
    assert sum(t.amount for t in trades.values()) == pytest.approx(
        Decimal("295.85"), abs=Decimal("0.05")
    )


def test_a_second_open_withdrawal_is_refused_and_a_cancelled_one_is_not_raised():
    owner = UserFactory()
    world = balanced_account(owner)
    first = money.request_withdrawal(
        owner, world.portfolio.pk, Decimal("500"), clock.today() + dt.timedelta(days=3)
    )
    with pytest.raises(money.MoneyError, match="already being raised"):
        money.request_withdrawal(
            owner, world.portfolio.pk, Decimal("700"), clock.today() + dt.timedelta(days=3)
        )
    money.cancel_withdrawal(owner, first.request.pk)
    assert Proposal.objects.get(pk=first.proposal_id).status == Proposal.Status.EXPIRED
    assert not Proposal.objects.pending().filter(portfolio=world.portfolio).exists()


def _weekly_schedule(world) -> ContributionSchedule:
    start = market_calendar.previous_session(clock.today())
    return ContributionSchedule.objects.create(
        portfolio=world.portfolio, amount=Decimal("250"), frequency="weekly", start_on=start
    )


def test_a_contribution_run_twice_deposits_once_and_proposes_investing_it():
    owner = UserFactory()
    world = balanced_account(owner)
    schedule = _weekly_schedule(world)
    assert money.run_contributions() == 1
    assert money.run_contributions() == 0
    deposits = Transaction.objects.filter(portfolio=world.portfolio, kind="deposit")
    assert [(d.amount, d.trade_date) for d in deposits] == [(Decimal("250.00"), schedule.start_on)]
    assert deposits[0].external_id == f"contribution:{schedule.pk}:{schedule.start_on}"
    proposal = Proposal.objects.pending().get(portfolio=world.portfolio)
    assert proposal.rule == "cash_flow"


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_contributions_at_once_deposit_once():
    owner = UserFactory()
    world = balanced_account(owner)
    _weekly_schedule(world)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            money.run_contributions()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Transaction.objects.filter(portfolio=world.portfolio, kind="deposit").count() == 1
    assert Proposal.objects.filter(portfolio=world.portfolio).pending().count() == 1


def test_contribution_dates_land_on_sessions():
    # 2026-08-15 is a Saturday: the monthly contribution arrives on Monday the 17th.
    due = contributions.due(
        "monthly", 15, dt.date(2026, 7, 1), after=None, today=dt.date(2026, 8, 20)
    )
    assert [(d.scheduled, d.session) for d in due] == [
        (dt.date(2026, 7, 15), dt.date(2026, 7, 15)),
        (dt.date(2026, 8, 15), dt.date(2026, 8, 17)),
    ]
    assert contributions.due(
        "quarterly", 1, dt.date(2026, 1, 1), after=dt.date(2026, 4, 1), today=dt.date(2026, 9, 1)
    ) == [contributions.Due(dt.date(2026, 7, 1), dt.date(2026, 7, 1))]


def test_orders_sent_while_the_market_is_closed_fill_at_the_next_open_exactly_once(
    settings, client
):
    settings.ADVISOR_PAPER_MARKET_HOURS = True
    saturday = clock.today() + relativedelta(weekday=SA)
    noon = dt.datetime.combine(saturday, dt.time(12), tzinfo=market_calendar.TIME_ZONE)
    with time_machine.travel(noon, tick=False):
        owner = UserFactory()
        world = balanced_account(owner)
        outcome = money.deposit(owner, world.portfolio.pk, Decimal("1000"))
        proposal_id = outcome.proposal_id
        opens = market_calendar.next_open(clock.now())
        assert panels.orders_fill_at() == opens
        assert _execute(proposal_id, owner) == Proposal.Status.EXECUTING
        assert execution.execute_proposal(proposal_id) == Proposal.Status.EXECUTING
        queued = PaperOrder.objects.get()
        assert (queued.status, queued.fills_after) == (PaperOrder.Status.NEW, opens)
        assert not Transaction.objects.filter(portfolio=world.portfolio, kind="buy").exists()
        client.force_login(owner)
        page = client.get(f"/proposals/{proposal_id}/").content.decode()
        assert "the orders are queued and fill when it opens on" in page
        assert f"{opens:%b} {opens.day}, {opens.year}, 09:30 New York time" in page
    with time_machine.travel(opens + dt.timedelta(minutes=1), tick=False):
        assert panels.orders_fill_at() is None
        assert execution.execute_proposal(proposal_id) == Proposal.Status.EXECUTED
        assert execution.execute_proposal(proposal_id) == Proposal.Status.EXECUTED
    buys = Transaction.objects.filter(portfolio=world.portfolio, kind="buy")
    assert sorted(b.security.ticker for b in buys) == ["BND", "VTI"]
    assert all(b.trade_date == opens.date() for b in buys)
    # The newest close known at the open (Friday's 100) plus the 5 bp spread.
    vti = buys.get(security=world.stocks)
    assert vti.price == Decimal("100.050000")


@pytest.mark.django_db(transaction=True)
def test_two_workers_resuming_a_queued_execution_at_the_open_fill_it_once(settings):
    settings.ADVISOR_PAPER_MARKET_HOURS = True
    saturday = clock.today() + relativedelta(weekday=SA)
    noon = dt.datetime.combine(saturday, dt.time(12), tzinfo=market_calendar.TIME_ZONE)
    with time_machine.travel(noon, tick=False):
        owner = UserFactory()
        world = balanced_account(owner)
        proposal_id = money.deposit(owner, world.portfolio.pk, Decimal("1000")).proposal_id
        assert _execute(proposal_id, owner) == Proposal.Status.EXECUTING
        opens = market_calendar.next_open(clock.now())
    start = threading.Barrier(2)
    results: list[str] = []

    def worker() -> None:
        try:
            start.wait()
            results.append(execution.execute_proposal(proposal_id))
        finally:
            connection.close()

    with time_machine.travel(opens + dt.timedelta(minutes=1), tick=False):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # One ran it (or both, one after the other); nothing was bought twice.
        assert Proposal.Status.EXECUTED in results
        assert execution.execute_proposal(proposal_id) == Proposal.Status.EXECUTED
    buys = Transaction.objects.filter(portfolio=world.portfolio, kind="buy")
    assert sorted(b.security.ticker for b in buys) == ["BND", "VTI"]
    assert PaperOrder.objects.filter(status=PaperOrder.Status.FILLED).count() == 2


def test_an_open_alpaca_order_outside_market_hours_is_held_for_the_open():
    from rebalancing.brokers import alpaca

    saturday = clock.today() + relativedelta(weekday=SA)
    noon = dt.datetime.combine(saturday, dt.time(12), tzinfo=market_calendar.TIME_ZONE)
    with time_machine.travel(noon, tick=False):
        opens = market_calendar.next_open(clock.now())
        assert alpaca._status({"status": "accepted", "qty": "3"}).fills_after == opens
        assert alpaca._status({"status": "filled", "qty": "3"}).fills_after is None
    with time_machine.travel(opens + dt.timedelta(minutes=5), tick=False):
        assert alpaca._status({"status": "new", "qty": "3"}).fills_after is None
