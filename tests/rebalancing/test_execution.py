"""Executing an approved proposal exactly once: fills through the ledger, resumes after
crashes and timeouts, partial fills and rejects end in a clear state, never a second order."""

import datetime as dt
import os
import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import AuditEvent
from advisor.core import clock
from portfolios.models import LotSale, TaxLot, Transaction
from rebalancing import tasks
from rebalancing.brokers import BrokerTimeout, OrderRequest
from rebalancing.brokers.paper import PaperBroker
from rebalancing.models import Notification, PaperOrder, Proposal, ProposedTrade
from rebalancing.services import approval, execution, sweeper
from tests.conftest import wait_for
from tests.rebalancing.proposal_data import drifted_household, expected_after_execution


@pytest.fixture(autouse=True)
def _fast_polls(settings):
    settings.ADVISOR_BROKER_POLL_INTERVAL = 0.01
    settings.ADVISOR_PAPER_SLIPPAGE_BPS = 5.0
    settings.ADVISOR_PAPER_COMMISSION = 0.0
    settings.ADVISOR_PAPER_MAX_FILL = 0.0
    settings.ADVISOR_PAPER_DELAY_SECONDS = 0.0


def _approved(user):
    house = drifted_household(user)
    decision = approval.approve_proposal(house.proposal.pk, by=user)
    assert decision.ok, decision.message
    return house


def _position(portfolio, security) -> Decimal:
    return sum(
        TaxLot.objects.open()
        .filter(portfolio=portfolio, security=security)
        .values_list("quantity", flat=True),
        Decimal("0"),
    )


def _assert_executed_once(house) -> None:
    expected = expected_after_execution()
    house.portfolio.refresh_from_db()
    assert house.portfolio.cash == expected["cash"]
    assert _position(house.portfolio, house.stocks) == expected["vti"]
    assert _position(house.portfolio, house.bonds) == expected["bnd"]
    fills = Transaction.objects.filter(portfolio=house.portfolio, source=Transaction.Source.BROKER)
    assert sorted(fills.values_list("kind", flat=True)) == ["buy", "sell"]
    assert PaperOrder.objects.count() == 2
    # cash == sum of the ledger (the ledger invariant)
    assert (
        sum(Transaction.objects.filter(portfolio=house.portfolio).values_list("amount", flat=True))
        == expected["cash"]
    )


@pytest.mark.django_db
def test_execution_fills_through_the_ledger_sells_first_with_the_proposed_lots(user, mailoutbox):
    house = _approved(user)

    assert execution.execute_proposal(house.proposal.pk) == Proposal.Status.EXECUTED

    _assert_executed_once(house)
    sell = Transaction.objects.get(portfolio=house.portfolio, kind="sell")
    buy = Transaction.objects.get(portfolio=house.portfolio, kind="buy")
    assert sell.id < buy.id  # sells run before buys
    assert sell.price == Decimal("99.950000") and sell.amount == Decimal("1999.00")
    assert buy.price == Decimal("50.025000") and buy.amount == Decimal("-2401.20")
    assert sell.lot_relief_method == "specific"
    sale = LotSale.objects.get(transaction=sell)
    # the proposal named the 110-basis lot: 20 x 99.95 - 20 x 110 = -201.00, short term
    assert sale.lot_id == house.proposal.trades.get(side="sell").lots[0]["lot"]
    assert sale.gain == Decimal("-201.00") and sale.is_long_term is False
    proposal = Proposal.objects.get(pk=house.proposal.pk)
    assert proposal.executed_at is not None and proposal.failure_reason == ""
    assert set(proposal.trades.values_list("status", flat=True)) == {ProposedTrade.Status.FILLED}
    assert (
        AuditEvent.objects.filter(action="proposal.executed", object_id=str(proposal.pk)).count()
        == 1
    )
    assert Notification.objects.filter(proposal=proposal, kind="executed").count() == 1

    # a second run (a redelivered task) changes nothing
    assert execution.execute_proposal(house.proposal.pk) == Proposal.Status.EXECUTED
    _assert_executed_once(house)


@pytest.mark.django_db
def test_a_partial_fill_is_booked_and_the_rest_cancelled(user, settings):
    settings.ADVISOR_PAPER_MAX_FILL = 30.0
    house = _approved(user)

    assert execution.execute_proposal(house.proposal.pk) == Proposal.Status.PARTIAL

    proposal = Proposal.objects.get(pk=house.proposal.pk)
    buy = proposal.trades.get(side="buy")
    sell = proposal.trades.get(side="sell")
    assert sell.status == ProposedTrade.Status.FILLED and sell.filled_quantity == 20
    assert buy.status == ProposedTrade.Status.PARTIALLY_FILLED and buy.filled_quantity == 30
    assert PaperOrder.objects.get(client_order_id=buy.idempotency_key).status == "canceled"
    assert "Broker filled 30 of 48 shares (canceled)" in buy.message
    assert "1 of 2 trades filled in full" in proposal.failure_reason
    house.portfolio.refresh_from_db()
    # 500 + 1,999.00 - 30 x 50.025 (1,500.75) = 998.25
    assert house.portfolio.cash == Decimal("998.25")
    assert _position(house.portfolio, house.bonds) == Decimal("70")


@pytest.mark.django_db
def test_a_rejected_order_fails_the_trade_with_the_brokers_reason(user):
    house = _approved(user)
    house.bonds.is_active = False
    house.bonds.save()

    assert execution.execute_proposal(house.proposal.pk) == Proposal.Status.PARTIAL

    buy = Proposal.objects.get(pk=house.proposal.pk).trades.get(side="buy")
    assert buy.status == ProposedTrade.Status.FAILED
    assert "Unknown symbol BND" in buy.message
    assert not Transaction.objects.filter(portfolio=house.portfolio, kind="buy").exists()


@pytest.mark.django_db
def test_resuming_after_a_crash_between_order_and_booking_does_not_send_again(user):
    house = _approved(user)
    Proposal.objects.filter(pk=house.proposal.pk).update(status=Proposal.Status.EXECUTING)
    sell = house.proposal.trades.get(side="sell")
    # The worker marked the trade sent, the broker filled it, then the worker died.
    ProposedTrade.objects.filter(pk=sell.pk).update(status="sent", order_quantity=sell.quantity)
    PaperBroker().place_order(OrderRequest(sell.idempotency_key, "VTI", "sell", sell.quantity))

    assert execution.execute_proposal(house.proposal.pk) == Proposal.Status.EXECUTED

    assert PaperOrder.objects.filter(client_order_id=sell.idempotency_key).count() == 1
    _assert_executed_once(house)


class LostAnswerBroker(PaperBroker):
    """The order reaches the paper broker, but the answer is lost the first time."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def place_order(self, order: OrderRequest):
        result = super().place_order(order)
        if self.lost == 0:
            self.lost += 1
            raise BrokerTimeout("read timed out")
        return result


@pytest.mark.django_db
def test_a_broker_timeout_is_retried_by_lookup_not_by_a_second_order(user):
    house = _approved(user)
    broker = LostAnswerBroker()

    with pytest.raises(BrokerTimeout):
        execution.execute_proposal(house.proposal.pk, broker=broker)
    assert Proposal.objects.get(pk=house.proposal.pk).status == Proposal.Status.EXECUTING
    assert house.proposal.trades.get(side="sell").status == ProposedTrade.Status.SENT

    assert execution.execute_proposal(house.proposal.pk, broker=broker) == Proposal.Status.EXECUTED
    _assert_executed_once(house)


@pytest.mark.django_db
def test_giving_up_after_the_last_retry_says_which_orders_are_unknown(
    user, mailoutbox, django_capture_on_commit_callbacks
):
    house = _approved(user)
    Proposal.objects.filter(pk=house.proposal.pk).update(status=Proposal.Status.EXECUTING)
    sell = house.proposal.trades.get(side="sell")
    ProposedTrade.objects.filter(pk=sell.pk).update(status="sent")

    with django_capture_on_commit_callbacks() as queued:
        execution.give_up(house.proposal.pk, "read timed out")
        execution.give_up(house.proposal.pk, "read timed out")  # a second call is a no-op

    proposal = Proposal.objects.get(pk=house.proposal.pk)
    assert proposal.status == Proposal.Status.FAILED
    assert (
        sell.idempotency_key in proposal.failure_reason
        and "check with the broker" in proposal.failure_reason
    )
    assert len(queued) == 1  # one email task queued after the commit
    note = Notification.objects.get(proposal=proposal, kind="failed")
    assert tasks.send_notification_email(note.pk) is True
    assert tasks.send_notification_email(note.pk) is False  # mailed once
    assert [m.to for m in mailoutbox] == [[user.email]]
    assert "could not be executed" in mailoutbox[0].subject


def test_twenty_simultaneous_approvals_execute_once(transactional_db, user):
    """20 threads, each with its own database connection, approve and execute at once."""
    house = drifted_household(user)
    barrier = threading.Barrier(20)
    results: list[str] = []
    errors: list[BaseException] = []

    def click() -> None:
        try:
            barrier.wait()
            decision = approval.approve_proposal(house.proposal.pk, by=user)
            results.append(decision.message)
            results.append(execution.execute_proposal(house.proposal.pk))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    assert results.count("Approved. The trades are being sent to the broker.") == 1
    assert results.count("This proposal was already approved.") == 19
    assert AuditEvent.objects.filter(action="proposal.approved").count() == 1
    assert AuditEvent.objects.filter(action="proposal.executed").count() == 1
    assert Proposal.objects.get(pk=house.proposal.pk).status == Proposal.Status.EXECUTED
    _assert_executed_once(house)


@pytest.mark.celery_worker
def test_a_worker_killed_mid_execution_resumes_without_a_second_order(
    start_celery_worker, user, monkeypatch
):
    house = drifted_household(user)
    # A slow broker: the order is on its books for 5 s before the worker hears back.
    monkeypatch.setenv("ADVISOR_PAPER_DELAY_SECONDS", "5")
    worker = start_celery_worker(concurrency=1)
    approval.approve_proposal(house.proposal.pk, by=user)  # queues execute_proposal on commit

    wait_for(lambda: PaperOrder.objects.exists(), timeout=30)
    worker.kill()  # SIGKILL to the whole group, inside the broker's answer window
    assert Proposal.objects.get(pk=house.proposal.pk).status == Proposal.Status.EXECUTING
    assert PaperOrder.objects.count() == 1
    assert not Transaction.objects.filter(source=Transaction.Source.BROKER).exists()

    monkeypatch.delenv("ADVISOR_PAPER_DELAY_SECONDS")
    start_celery_worker(concurrency=2)
    sweeper.sweep(now=clock.now() + dt.timedelta(minutes=2))  # the beat sweep after a crash
    tasks.execute_proposal.delay(house.proposal.pk)  # and a redelivery at the same time

    status = wait_for(
        lambda: (
            Proposal.objects.filter(pk=house.proposal.pk)
            .exclude(status__in=["approved", "executing"])
            .values_list("status", flat=True)
            .first()
        ),
        timeout=60,
    )
    assert status == Proposal.Status.EXECUTED
    _assert_executed_once(house)
    assert os.environ.get("ADVISOR_PAPER_DELAY_SECONDS") is None
