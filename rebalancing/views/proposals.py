"""Proposal pages: inbox, detail, approve/reject (htmx), live execution status, notifications.

Thin: every object is fetched scoped to request.user (another user's id is a 404), state
changes go through rebalancing.services.approval.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedRequest
from advisor.core import clock, dates, inputs
from advisor.security import stepup
from portfolios.models import AssetClass, TaxLot
from rebalancing.engine.wash_sales import WINDOW_DAYS
from rebalancing.models import Notification, Proposal, ProposedTrade
from rebalancing.selectors import money
from rebalancing.selectors import tax as tax_selectors
from rebalancing.services import approval, drift, notifications, proposals

LIVE = {Proposal.Status.APPROVED, Proposal.Status.EXECUTING}


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _proposal(request: AuthenticatedRequest, pk: int) -> Proposal:
    return get_object_or_404(
        Proposal.objects.for_user(request.user).select_related("portfolio", "decided_by"), pk=pk
    )


@login_required
@require_GET
def inbox(request: AuthenticatedRequest) -> HttpResponse:
    base = Proposal.objects.for_user(request.user)
    pending = list(
        base.pending()
        .select_related("portfolio")
        .annotate(trade_count=Count("trades"), trade_total=Sum("trades__amount"))
        .order_by("expires_at")
    )
    recent = list(
        base.exclude(status=Proposal.Status.PENDING)
        .select_related("portfolio")
        .annotate(trade_count=Count("trades"), trade_total=Sum("trades__amount"))
        .order_by("-created_at")[:30]
    )
    return render(
        request,
        "rebalancing/inbox.html",
        {
            "nav": "proposals",
            "pending": pending,
            "recent": recent,
            "pending_total": sum((p.trade_total or Decimal("0") for p in pending), Decimal("0")),
        },
    )


def _chart(proposal: Proposal) -> dict[str, object]:
    codes = list(
        dict.fromkeys([*proposal.target_weights, *proposal.before_weights, *proposal.after_weights])
    )
    names = dict(AssetClass.objects.filter(code__in=codes).values_list("code", "name"))
    pct = lambda weights, code: round(float(weights.get(code, 0.0)) * 100, 2)  # noqa: E731
    return {
        "labels": [names.get(c, c) for c in codes],
        "before": [pct(proposal.before_weights, c) for c in codes],
        "after": [pct(proposal.after_weights, c) for c in codes],
        "target": [pct(proposal.target_weights, c) for c in codes],
    }


def _trades_with_lots(proposal: Proposal) -> list[ProposedTrade]:
    trades = list(proposal.trades.select_related("security__asset_class"))
    lot_ids = [int(entry["lot"]) for t in trades for entry in (t.lots or [])]
    lots = {lot.pk: lot for lot in TaxLot.objects.filter(pk__in=lot_ids)} if lot_ids else {}
    for trade in trades:
        rows: list[dict[str, object]] = []
        trade.lot_rows = rows  # type: ignore[attr-defined]  # for the template only
        for entry in trade.lots or []:
            lot = lots.get(int(entry["lot"]))
            quantity = Decimal(str(entry["quantity"]))
            if lot is None:
                continue
            per_share = (
                lot.cost_basis / lot.quantity
                if lot.quantity
                else (lot.cost_basis / lot.original_quantity)
            )
            rows.append(
                {
                    "lot": lot,
                    "quantity": quantity,
                    "cost": (per_share * quantity).quantize(Decimal("0.01")),
                    "long_term": lot.is_long_term(proposal.prices_as_of),
                }
            )
    return trades


def wash_sale_check(details: dict[str, Any]) -> str:
    """The wash-sale check a harvest proposal passed, in words (from its stored details)."""
    since = dt.date.fromisoformat(details["scanned_on"]) - dt.timedelta(days=WINDOW_DAYS)
    return " ".join(
        f"No purchase of {h['security']} or a substantially identical security in any of your "
        f"accounts since {dates.day(since)}, none scheduled (dividend reinvestment "
        f"included), and {h['replacement']} was not sold at a loss in the past {WINDOW_DAYS} "
        f"days. Purchases of {h['security']} are blocked in all your accounts for "
        f"{WINDOW_DAYS + 1} days after the sale."
        for h in details.get("harvests", [])
    )


def _detail_context(
    request: AuthenticatedRequest, proposal: Proposal, **extra: object
) -> dict[str, object]:
    trades = _trades_with_lots(proposal)
    sells = sum((t.amount for t in trades if t.side == "sell"), Decimal("0"))
    buys = sum((t.amount for t in trades if t.side == "buy"), Decimal("0"))
    details = proposal.details or {}
    panel = money.proposal_panel(proposal)
    return {
        "nav": "proposals",
        "proposal": proposal,
        "trades": trades,
        "sells_total": sells,
        "buys_total": buys,
        "chart": _chart(proposal),
        "harvest_value": details.get("harvest_value") or details.get("tax_value"),
        "harvests": details.get("harvests", []) if proposal.kind == Proposal.Kind.HARVEST else [],
        "wash_sale_check": wash_sale_check(details)
        if proposal.kind == Proposal.Kind.HARVEST and details.get("scanned_on")
        else details.get("wash_sale_check"),
        "live": proposal.status in LIVE,
        "mfa": is_mfa_enabled(request.user),
        "money": panel,
        "fills_at": panel["fills_at"],
        "tax": tax_selectors.proposal_tax(proposal),
        **extra,
    }


@login_required
@require_GET
def detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    proposal = _proposal(request, pk)
    return render(request, "rebalancing/detail.html", _detail_context(request, proposal))


def _decision_response(request: AuthenticatedRequest, decision: approval.Decision) -> HttpResponse:
    proposal = Proposal.objects.select_related("portfolio", "decided_by").get(
        pk=decision.proposal.pk
    )
    if _is_htmx(request):
        return render(
            request,
            "rebalancing/_decision.html",
            {
                "proposal": proposal,
                "live": proposal.status in LIVE,
                "fills_at": money.orders_fill_at() if proposal.status in LIVE else None,
                "decision": decision,
                "oob": True,
            },
        )
    level = messages.SUCCESS if decision.ok else messages.ERROR
    messages.add_message(request, level, decision.message)
    return redirect("rebalancing:detail", pk=proposal.pk)


@login_required
@require_POST
def approve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Approve; needs a recent second factor with MFA on, a recent password without."""
    proposal = _proposal(request, pk)
    if step_up := stepup.challenge(request):
        return step_up
    note = inputs.note(request.POST.get("note", ""), 500)
    return _decision_response(
        request, approval.approve_proposal(proposal.pk, by=request.user, note=note)
    )


@login_required
@require_POST
def reject(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    proposal = _proposal(request, pk)
    note = inputs.note(request.POST.get("note", ""), 500)
    return _decision_response(
        request, approval.reject_proposal(proposal.pk, by=request.user, note=note)
    )


@login_required
@require_GET
def status(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The live execution panel (htmx polls it while the proposal is approved/executing)."""
    proposal = _proposal(request, pk)
    return render(
        request,
        "rebalancing/_status.html",
        {
            "proposal": proposal,
            "trades": list(proposal.trades.select_related("security")),
            "live": proposal.status in LIVE,
            "fills_at": money.orders_fill_at() if proposal.status in LIVE else None,
            "oob": True,
        },
    )


@login_required
@require_POST
def recheck(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """ "Re-check now" on a stale proposal: run the drift check again for its account."""
    proposal = _proposal(request, pk)
    if proposal.is_pending and (reason := proposals.is_stale(proposal)) is not None:
        Proposal.objects.filter(pk=proposal.pk).expire_pending(reason, now=clock.now())
    drift.run_drift_check(proposal.portfolio_id)
    newer = (
        Proposal.objects.for_user(request.user)
        .pending()
        .filter(portfolio_id=proposal.portfolio_id, kind=proposal.kind)
        .order_by("-created_at")
        .first()
    )
    if newer is not None and newer.pk != proposal.pk:
        messages.success(
            request, "Checked again with today's prices and holdings: here is the new proposal."
        )
        target = reverse("rebalancing:detail", args=[newer.pk])
    else:
        messages.info(request, "Checked again: the account needs no trades right now.")
        target = reverse("rebalancing:inbox")
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


@login_required
@require_GET
def notification_list(request: AuthenticatedRequest) -> HttpResponse:
    items = list(Notification.objects.filter(user=request.user).order_by("-created_at")[:50])
    unread = sum(1 for n in items if n.read_at is None)
    return render(
        request,
        "rebalancing/notifications.html",
        {"nav": "proposals", "notifications": items, "unread": unread},
    )


@login_required
@require_POST
def notifications_read(request: AuthenticatedRequest) -> HttpResponse:
    notifications.mark_all_read(request.user.pk)
    if _is_htmx(request):
        return HttpResponse('<span class="badge">0 unread</span>')
    return redirect("rebalancing:notifications")
