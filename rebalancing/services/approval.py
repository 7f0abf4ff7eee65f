"""Approve or reject a proposal; optional auto-approval of small cash deployments.

Approval re-checks freshness (`proposals.is_stale`) and, for a harvest, the wash-sale guard
(`harvest.wash_sale_conflict`) inside the same transaction that locks the proposal row and
changes its state, so a proposal can never be approved on numbers that
changed under it. A stale proposal is marked expired (committed) and the caller gets the
reason to show. Execution is sent after the commit (`dispatch`): with the broker down the
approval still stands and the sweeper sends the execution once the broker is back.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from accounts import audit
from accounts.models import User
from advisor.core import clock
from rebalancing.models import Notification, Proposal
from rebalancing.selectors import policies
from rebalancing.services import dispatch, harvest, notifications, proposals

APPROVED_OR_LATER = {
    Proposal.Status.APPROVED,
    Proposal.Status.EXECUTING,
    Proposal.Status.EXECUTED,
    Proposal.Status.PARTIAL,
    Proposal.Status.FAILED,
}


@dataclass
class Decision:
    proposal: Proposal
    ok: bool
    message: str
    stale: bool = False


def _lock(proposal_id: int) -> Proposal:
    return Proposal.objects.select_for_update().select_related("portfolio").get(pk=proposal_id)


def _expire(proposal: Proposal, reason: str, *, by: User | None) -> None:
    Proposal.objects.filter(pk=proposal.pk).expire_pending(reason, now=clock.now())
    proposal.refresh_from_db(fields=["status", "decided_at", "decision_note"])
    # The expiry itself is audited by expire_pending; this records who tried to approve it.
    audit.record(
        "proposal.approval_refused",
        household=proposal.portfolio.owner,
        actor=by,
        obj=proposal,
        summary=f"Approval refused, proposal expired: {reason}",
        reason=reason,
    )
    notifications.notify(proposal, Notification.Kind.EXPIRED, body=reason)


def _not_pending(proposal: Proposal, verb: str) -> Decision:
    if verb == "approve" and proposal.status in APPROVED_OR_LATER:
        return Decision(proposal, True, "This proposal was already approved.")
    return Decision(
        proposal,
        False,
        f"This proposal is {proposal.get_status_display().lower()} and can no longer be {verb}d.",
        stale=proposal.status == Proposal.Status.EXPIRED,
    )


def approve_proposal(
    proposal_id: int, *, by: User | None, note: str = "", auto: bool = False
) -> Decision:
    """Approve a pending, fresh proposal and queue its execution.

    Idempotent: approving an approved proposal again (double click, second tab) changes
    nothing. A stale proposal is expired instead, and `Decision.stale` is True.
    """
    with transaction.atomic():
        proposal = _lock(proposal_id)
        if proposal.status != Proposal.Status.PENDING:
            return _not_pending(proposal, "approve")
        reason = proposals.is_stale(proposal)
        if reason is None and proposal.kind == Proposal.Kind.HARVEST:
            # Since the scan, another account may have bought the security or started
            # reinvesting its dividends: executing now would wash the loss.
            reason = harvest.wash_sale_conflict(proposal)
        if reason is not None:
            _expire(proposal, reason, by=by)
            return Decision(proposal, False, reason, stale=True)
        proposal.status = Proposal.Status.APPROVED
        proposal.decided_by = by
        proposal.decided_at = clock.now()
        proposal.decision_note = note[:500]
        proposal.auto_approved = auto
        proposal.save(
            update_fields=["status", "decided_by", "decided_at", "decision_note", "auto_approved"]
        )
        audit.record(
            "proposal.auto_approved" if auto else "proposal.approved",
            household=proposal.portfolio.owner,
            actor=by,
            obj=proposal,
            summary=(
                f"Auto-approved (cash deployment under the policy limit): {proposal.reason}"
                if auto
                else f"Approved: {proposal.reason}"
            ),
            note=note,
            total_value=str(proposal.total_value),
        )
        dispatch.send_on_commit(dispatch.EXECUTE_PROPOSAL, proposal.pk)
    return Decision(proposal, True, "Approved. The trades are being sent to the broker.")


def reject_proposal(proposal_id: int, *, by: User, note: str = "") -> Decision:
    """Reject a pending proposal, with an optional reason. Rejecting twice is a no-op."""
    with transaction.atomic():
        proposal = _lock(proposal_id)
        if proposal.status == Proposal.Status.REJECTED:
            return Decision(proposal, True, "This proposal was already rejected.")
        if proposal.status != Proposal.Status.PENDING:
            return _not_pending(proposal, "reject")
        proposal.status = Proposal.Status.REJECTED
        proposal.decided_by = by
        proposal.decided_at = clock.now()
        proposal.decision_note = note[:500]
        proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit.record(
            "proposal.rejected",
            household=proposal.portfolio.owner,
            actor=by,
            obj=proposal,
            summary=f"Rejected{': ' + note if note else ''}",
            note=note,
        )
    return Decision(proposal, True, "Rejected. Nothing will be traded.")


def auto_approvable(proposal: Proposal) -> bool:
    """True when the account's policy opted into auto-approval and this proposal is a cash
    deployment (rule "cash_flow", buys only) whose total is under the policy's limit."""
    if proposal.kind != Proposal.Kind.REBALANCE or proposal.rule != "cash_flow":
        return False
    policy = policies.policy_for(proposal.portfolio)
    if policy.auto_approve_cash_flow_below is None:
        return False
    trades = list(proposal.trades.all())
    if not trades or any(t.side != "buy" for t in trades):
        return False
    total = sum((t.amount for t in trades), Decimal("0"))
    return total < policy.auto_approve_cash_flow_below


def process_new_proposal(proposal_id: int) -> Decision | None:
    """After a scan wrote a proposal: auto-approve it if the policy says so, else tell the
    investor it is waiting. Safe to call twice (status guard, notification once)."""
    proposal = Proposal.objects.select_related("portfolio").filter(pk=proposal_id).first()
    if proposal is None or proposal.status != Proposal.Status.PENDING:
        return None
    if auto_approvable(proposal):
        return approve_proposal(proposal_id, by=None, auto=True)
    with transaction.atomic():
        notifications.notify(proposal, Notification.Kind.WAITING)
    return None
