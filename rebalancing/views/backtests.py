"""The backtest page of an account, its progress poll, and the stress-test panels (loaded by
htmx into the account page and the dashboard). Every object is fetched scoped to the signed-in
investor: another investor's account or run is a 404."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedRequest
from portfolios.models import Portfolio
from rebalancing.forms import BacktestForm, parse_own_shock
from rebalancing.models import BacktestRun
from rebalancing.selectors import backtests as backtest_selectors
from rebalancing.selectors import policies as policy_selectors
from rebalancing.selectors import stress as stress_selectors
from rebalancing.services import backtests

FORM_FIELDS = ("start", "end", "bands", "calendars")
COLOURS = ("#1f6feb", "#6b7685", "#d97706", "#0f9d58", "#9333ea", "#dc2626", "#0891b2", "#a16207")


def _label(variant: dict[str, Any]) -> str:
    kind, value = variant["kind"], variant["value"]
    if kind == "own":
        return "Your policy"
    if kind == "buy_and_hold":
        return "Buy and hold"
    if kind == "calendar":
        return f"{str(value).capitalize()} rebalancing"
    return f"{float(value) * 100:g}-point band"


def _chart(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "dates": result["dates"],
        "series": [
            {
                "label": _label(v),
                "colour": COLOURS[i % len(COLOURS)],
                "value": v["series"],
                "drawdown": [round(x * 100, 3) for x in v["drawdown_series"]],
            }
            for i, v in enumerate(result["variants"])
        ],
    }


def _run_context(run: BacktestRun) -> dict[str, Any]:
    if run.status != BacktestRun.Status.DONE:
        return {"run": run}
    result = run.result
    variants = [{**v, "label": _label(v)} for v in result["variants"]]
    return {"run": run, "result": result, "variants": variants, "chart": _chart(result)}


@login_required
@require_GET
def account(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    portfolio = get_object_or_404(Portfolio.objects.for_user(request.user), pk=pk)
    asked = any(name in request.GET for name in FORM_FIELDS)
    form = BacktestForm(request.GET if asked else None)
    context: dict[str, Any] = {
        "nav": "portfolios",
        "portfolio": portfolio,
        "form": form,
        "policy": policy_selectors.policy_for(portfolio),
    }
    if not asked or form.is_valid():
        wanted = form.request() if asked else backtest_selectors.Request()
        try:
            run = backtests.request_backtest(portfolio, wanted)
        except backtest_selectors.BacktestInputError as exc:
            context["input_error"] = str(exc)
        else:
            context.update(_run_context(run))
    status = 400 if asked and not form.is_valid() else 200
    return render(request, "rebalancing/backtest.html", context, status=status)


@login_required
@require_GET
def status(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The progress partial, polled by htmx; a finished run reloads the page."""
    run = get_object_or_404(BacktestRun.objects.filter(portfolio__owner=request.user), pk=pk)
    backtests.resume_if_stuck(run)
    run.refresh_from_db()
    response = render(request, "rebalancing/_backtest_progress.html", {"run": run})
    if run.status in (BacktestRun.Status.DONE, BacktestRun.Status.FAILED):
        response["HX-Refresh"] = "true"
    return response


def _stress_context(
    request: AuthenticatedRequest, portfolio: Portfolio | None, panel_url: str
) -> dict[str, Any]:
    own, typed, errors = parse_own_shock(request.GET)
    data = stress_selectors.household_stress(
        request.user, own_shock=own if own and not errors else None
    )
    rows = data.rows if data else ()
    return {
        "stress": data,
        "portfolio": portfolio,
        "panel_url": panel_url,
        "typed": typed,
        "shock_errors": errors,
        "worst": stress_selectors.worst(rows),
        "historical": [r for r in rows if r.kind == "historical"],
        "shocks": [r for r in rows if r.kind == "shock"],
    }


@login_required
@require_GET
def account_stress(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    portfolio = get_object_or_404(Portfolio.objects.for_user(request.user), pk=pk)
    url = reverse("backtests:account_stress", args=[portfolio.pk])
    return render(request, "rebalancing/_stress.html", _stress_context(request, portfolio, url))


@login_required
@require_GET
def household_stress(request: AuthenticatedRequest) -> HttpResponse:
    url = reverse("backtests:household_stress")
    return render(request, "rebalancing/_stress.html", _stress_context(request, None, url))
