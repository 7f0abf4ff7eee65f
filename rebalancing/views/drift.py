"""The "Check drift now" button: POST, scoped to the signed-in investor's own accounts."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedRequest
from portfolios.models import Portfolio
from rebalancing.models import Proposal, ScanRun
from rebalancing.services import drift


@login_required
@require_POST
def check_now(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    portfolio = get_object_or_404(Portfolio.objects.for_user(request.user), pk=pk)
    result = drift.run_drift_check(portfolio)
    if result.status in ("proposed", "unchanged"):
        pending = (
            Proposal.objects.for_user(request.user)
            .pending()
            .filter(portfolio=portfolio, kind=Proposal.Kind.REBALANCE)
            .first()
        )
        messages.success(
            request,
            "Checked: a rebalance proposal is waiting for your approval."
            if result.status == "proposed"
            else "Checked: the proposal already waiting is still current.",
        )
        if pending is not None:
            return redirect(reverse("rebalancing:detail", args=[pending.pk]))
    elif result.status == "no_trades":
        messages.info(
            request,
            f"{result.reason} No trade passes the account's policy limits: {result.notes}".strip(),
        )
    elif result.status == "skipped":
        messages.warning(request, f"The account could not be checked: {result.notes}.")
    else:
        messages.success(
            request, "Checked: the account is within its rebalancing policy. No trades needed."
        )
    return redirect(reverse("portfolios:detail", args=[portfolio.pk]))


@login_required
def scan_status(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The scheduled scans' progress beside the account's "Check drift now" button (polled
    while a scan runs): the same progress partial as the imports."""
    portfolio = get_object_or_404(Portfolio.objects.for_user(request.user), pk=pk)
    runs = ScanRun.objects.order_by("-started_at")
    running = runs.filter(status=ScanRun.Status.RUNNING).first()
    last = None if running else runs.filter(status=ScanRun.Status.FINISHED).first()
    return render(
        request,
        "rebalancing/_scan_progress.html",
        {"portfolio": portfolio, "running": running, "last": last},
    )
