"""The yearly tax report page and its Form 8949 CSV export (scoped to request.user)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.http import AuthenticatedRequest
from advisor.core import clock, inputs
from portfolios.models import Portfolio
from rebalancing.selectors import tax_saved
from rebalancing.services import tax_report

MIN_YEAR = 1990


def _year(year: int) -> int:
    if not MIN_YEAR <= year <= clock.today().year:
        raise Http404("No report for that year.")
    return year


def _portfolio(request: AuthenticatedRequest) -> Portfolio | None:
    raw = request.GET.get("portfolio")
    if not raw:
        return None
    pk = inputs.parse_id(raw)
    if pk is None:
        raise Http404("No such account.")
    return get_object_or_404(Portfolio, pk=pk, owner=request.user)


@login_required
def report(request: AuthenticatedRequest, year: int | None = None) -> HttpResponse:
    year = _year(year or clock.today().year)
    portfolio = _portfolio(request)
    data = tax_report.build(request.user, year, portfolio=portfolio)
    accounts = Portfolio.objects.filter(
        owner=request.user, tax_treatment=Portfolio.TaxTreatment.TAXABLE
    )
    this_year = clock.today().year
    return render(
        request,
        "rebalancing/tax_report.html",
        {
            "nav": "taxes",
            "report": data,
            "year": year,
            "years": list(range(this_year, this_year - 5, -1)),
            "portfolio": portfolio,
            "accounts": accounts,
            "short_rows": [r for r in data.rows if not r.long_term],
            "long_rows": [r for r in data.rows if r.long_term],
            "tax_saved": tax_saved.household_tax_saved(
                request.user, today=clock.today(), portfolio=portfolio
            ),
        },
    )


@login_required
def report_csv(request: AuthenticatedRequest, year: int) -> HttpResponse:
    year = _year(year)
    portfolio = _portfolio(request)
    data = tax_report.build(request.user, year, portfolio=portfolio)
    response = HttpResponse(tax_report.form_8949_csv(data), content_type="text/csv; charset=utf-8")
    suffix = f"-{portfolio.pk}" if portfolio else ""
    response["Content-Disposition"] = f'attachment; filename="form-8949-{year}{suffix}.csv"'
    return response
