"""Approval: freshness re-checked under the row lock, idempotent decisions, auto-approval of
small cash deployments (opt-in, logged as such), notifications once."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from accounts.models import AuditEvent
from advisor.core import clock
from portfolios import ledger
from portfolios.models import Price
from rebalancing.models import Notification, Proposal, RebalancePolicy
from rebalancing.services import approval, proposals
from tests.rebalancing.proposal_data import drifted_household, last_weekday

pytestmark = pytest.mark.django_db


def test_approving_queues_one_execution_and_records_who(user, django_capture_on_commit_callbacks):
    house = drifted_household(user)
    with django_capture_on_commit_callbacks() as queued:
        decision = approval.approve_proposal(house.proposal.pk, by=user, note="ok")
        again = approval.approve_proposal(house.proposal.pk, by=user)
    assert decision.ok and again.ok and again.message == "This proposal was already approved."
    assert len(queued) == 1
    proposal = Proposal.objects.get(pk=house.proposal.pk)
    assert (proposal.status, proposal.decided_by, proposal.decision_note) == (
        "approved",
        user,
        "ok",
    )
    event = AuditEvent.objects.get(action="proposal.approved")
    assert event.actor == user and event.household == user


def test_an_expired_proposal_is_refused_and_marked_expired(user, settings):
    house = drifted_household(user)
    later = house.proposal.expires_at + dt.timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        decision = approval.approve_proposal(house.proposal.pk, by=user)
    assert not decision.ok and decision.stale
    assert decision.message == f"Expired: older than {settings.ADVISOR_PROPOSAL_TTL_HOURS} hours."
    proposal = Proposal.objects.get(pk=house.proposal.pk)
    assert proposal.status == Proposal.Status.EXPIRED and proposal.decided_by is None
    assert Notification.objects.filter(proposal=proposal, kind="expired").count() == 1


def test_a_price_move_beyond_the_limit_makes_it_stale(user):
    house = drifted_household(user)
    Price.objects.filter(security=house.stocks, date=last_weekday()).update(close=Decimal("106"))
    decision = approval.approve_proposal(house.proposal.pk, by=user)
    assert not decision.ok and "prices moved more than 5%" in decision.message


def test_a_change_of_holdings_makes_it_stale(user):
    house = drifted_household(user)
    ledger.record_cash(
        house.portfolio, kind="withdrawal", amount=Decimal("10"), trade_date=last_weekday()
    )
    decision = approval.approve_proposal(house.proposal.pk, by=user)
    assert not decision.ok and "holdings or cash changed" in decision.message


def test_reject_is_idempotent_and_blocks_approval(user):
    house = drifted_household(user)
    assert approval.reject_proposal(house.proposal.pk, by=user, note="not now").ok
    assert (
        approval.reject_proposal(house.proposal.pk, by=user).message
        == "This proposal was already rejected."
    )
    refused = approval.approve_proposal(house.proposal.pk, by=user)
    assert not refused.ok and "rejected" in refused.message
    assert AuditEvent.objects.filter(action="proposal.rejected").count() == 1


def _cash_flow_proposal(user, amount: str = "480"):
    house = drifted_household(user, cash="1000.00")
    Proposal.objects.filter(pk=house.proposal.pk).update(status=Proposal.Status.SUPERSEDED)
    draft = proposals.ProposalDraft(
        portfolio_id=house.portfolio.pk,
        rule="cash_flow",
        reason="$1,000 cash is waiting above your 1% buffer: invest it in bonds, the most underweight class.",
        prices_as_of=last_weekday(),
        holdings_fingerprint=proposals.holdings_fingerprint([house.portfolio.pk])[
            house.portfolio.pk
        ],
        trades=[
            proposals.TradeDraft(
                security_id=house.bonds.pk,
                side="buy",
                quantity=Decimal(amount) / 50,
                price=Decimal("50"),
            )
        ],
    )
    created = proposals.write_proposals([draft], kind="rebalance").created[0]
    return house, Proposal.objects.get(pk=created.pk)


def test_small_cash_deployment_is_auto_approved_only_when_the_policy_opts_in(
    user, django_capture_on_commit_callbacks
):
    house, proposal = _cash_flow_proposal(user)
    # off by default: the investor is told it is waiting
    with django_capture_on_commit_callbacks() as queued:
        assert approval.process_new_proposal(proposal.pk) is None
        assert approval.process_new_proposal(proposal.pk) is None  # twice: one notification
    assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING
    assert Notification.objects.filter(proposal=proposal, kind="waiting").count() == 1
    assert len(queued) == 1  # one email

    RebalancePolicy.objects.create(
        portfolio=house.portfolio, auto_approve_cash_flow_below=Decimal("500")
    )
    decision = approval.process_new_proposal(proposal.pk)
    assert decision is not None and decision.ok
    proposal.refresh_from_db()
    assert (
        proposal.status == Proposal.Status.APPROVED
        and proposal.auto_approved
        and proposal.decided_by is None
    )
    event = AuditEvent.objects.get(action="proposal.auto_approved")
    assert "Auto-approved" in event.summary and event.actor is None


@pytest.mark.parametrize(
    ("amount", "limit", "expected"),
    [("480", "500", True), ("500", "500", False), ("480", None, False)],
)
def test_auto_approval_limit_is_strictly_below(user, amount, limit, expected):
    house, proposal = _cash_flow_proposal(user, amount)
    RebalancePolicy.objects.create(
        portfolio=house.portfolio, auto_approve_cash_flow_below=Decimal(limit) if limit else None
    )
    assert approval.auto_approvable(proposal) is expected


def test_a_threshold_rebalance_with_sells_is_never_auto_approved(user):
    house = drifted_household(user)
    RebalancePolicy.objects.create(
        portfolio=house.portfolio, auto_approve_cash_flow_below=Decimal("1000000")
    )
    assert approval.auto_approvable(house.proposal) is False
    assert clock.now() < house.proposal.expires_at
