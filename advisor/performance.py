"""Performance pages: the household's and each account's returns, benchmark, drawdown and
attribution, computed from the ledger (portfolios/performance/selectors.py), and the tax saved
by executed harvests (rebalancing/selectors/tax_saved.py)."""

from __future__ import annotations

import math

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedRequest
from advisor.core import clock
from portfolios.models import AssetClass, Portfolio
from portfolios.performance import selectors
from rebalancing.selectors import tax_saved

PERIOD_LABELS = {
    "mtd": "Month to date",
    "qtd": "Quarter to date",
    "ytd": "Year to date",
    "1y": "1 year",
    "3y": "3 years",
    "5y": "5 years",
    "inception": "Since inception",
}


def _number(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None


def chart_data(report: selectors.Report) -> dict[str, object]:
    """What static/js/performance-chart.js draws: value vs benchmark and the drawdown."""
    return {
        "labels": [d.isoformat() for d in report.dates],
        "value": [_number(v) for v in report.value],
        "benchmark": (
            None if report.benchmark_value is None else [_number(v) for v in report.benchmark_value]
        ),
        "drawdown": [_number(v * 100) for v in report.drawdown],
    }


def _context(report: selectors.Report | None) -> dict[str, object]:
    if report is None:
        return {"report": None}
    names = dict(AssetClass.objects.values_list("code", "name"))
    names[selectors.CASH] = "Cash"
    return {
        "report": report,
        "periods": [(PERIOD_LABELS[p.name], p) for p in report.periods],
        "attribution": [
            (
                PERIOD_LABELS[table.period],
                table,
                [(names.get(row.code, row.code), row) for row in table.rows],
            )
            for table in reversed(report.attribution)
        ],
        "benchmark_mix": [(names.get(c, c), w) for c, w in report.benchmark_weights.items()],
        "chart": chart_data(report),
    }


@login_required
@require_GET
def household(request: AuthenticatedRequest) -> HttpResponse:
    today = clock.today()
    report = selectors.household_report(request.user, today=today)
    return render(
        request,
        "performance/page.html",
        {
            "tax_saved": tax_saved.household_tax_saved(request.user, today=today),
            "nav": "performance",
            "title": "Household performance",
            "household": True,
            **_context(report),
        },
    )


@login_required
@require_GET
def account(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    today = clock.today()
    report = selectors.account_report(portfolio, today=today)
    return render(
        request,
        "performance/page.html",
        {
            "tax_saved": tax_saved.household_tax_saved(
                request.user, today=today, portfolio=portfolio
            ),
            "nav": "performance",
            "title": f"{portfolio.name}: performance",
            "portfolio": portfolio,
            **_context(report),
        },
    )


app_name = "performance"
urlpatterns = [
    path("", household, name="household"),
    path("accounts/<int:pk>/", account, name="account"),
]
