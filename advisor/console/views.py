"""The console's pages. Staff only (an investor gets 403); an adviser reaches only the
households assigned to them (another household is a 404) unless ADVISOR_CONSOLE_SEE_ALL."""

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import services as account_services
from accounts.http import AuthenticatedRequest
from accounts.models import ReviewNote, ReviewSignOff, User
from advisor.console import exports, records, selectors
from advisor.core import clock, inputs
from advisor.security import stepup
from portfolios import overview
from portfolios.models import Portfolio
from rebalancing.models import Proposal

FLAG_LABELS = {
    "riskier": "Riskier than the profile",
    "stale": "Stale questionnaire",
    "pending": "Pending over 7 days",
    "rejections": "Repeated rejections",
    "concentration": "Concentration",
    "losses": "Large unrealised losses",
    "drawdown": "Drawdown beyond tolerance",
    "failed": "Failed executions",
    "wash_sales": "Wash sales on imports",
    "override": "Recommendation overridden",
}
PAGE_SIZE = 50
TIMELINE_LENGTH = 200

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: AuthenticatedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("The console is for advisers.")
        return view(request, *args, **kwargs)

    return wrapped


def _scope(request: AuthenticatedRequest) -> selectors.Scope:
    return selectors.Scope.for_user(request.user, see_all=settings.ADVISOR_CONSOLE_SEE_ALL)


def _household(request: AuthenticatedRequest, pk: int) -> User:
    """The household if the caller may see it; 404 otherwise (staff are no household)."""
    scope = _scope(request)
    households = User.objects.filter(pk=pk, is_staff=False)
    if scope.adviser_id is not None:
        households = households.filter(advisers__adviser_id=scope.adviser_id)
    household = households.first()
    if household is None:
        raise Http404("No such household.")
    return household


@require_GET
@staff_required
def households(request: AuthenticatedRequest) -> HttpResponse:
    flag = request.GET.get("flag", "")
    flag = flag if flag in selectors.FLAG_CODES else ""
    search = inputs.note(request.GET.get("q", ""), 100)
    try:
        page = inputs.parse_int(request.GET.get("page"), default=1, minimum=1, maximum=10**6)
    except inputs.InputError:
        page = 1
    if not selectors.flags_available():
        return render(request, "console/needs_postgresql.html", {"nav": "console"})
    listing = selectors.household_list(
        _scope(request), now=clock.now(), today=clock.today(), flag=flag or None,
        search=search, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
    )  # fmt: skip
    pages = max(1, -(-listing.total // PAGE_SIZE))
    for row in listing.rows:
        row.flag_items = [(code, FLAG_LABELS[code]) for code in row.flags]  # type: ignore[attr-defined]
    return render(
        request,
        "console/households.html",
        {
            "nav": "console", "listing": listing, "flags": [(c, FLAG_LABELS[c], listing.counts[c]) for c in selectors.FLAG_CODES],
            "flag_label": FLAG_LABELS.get(flag, ""), "flag": flag,
            "search": search, "page": page, "pages": pages,
            "previous_page": page - 1 if page > 1 else None,
            "next_page": page + 1 if page < pages else None,
        },
    )  # fmt: skip


@require_GET
@staff_required
def household(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    person = _household(request, pk)
    account_services.record_staff_view(person, staff=request.user, what="viewed_household")
    today = clock.today()
    portfolios = list(
        Portfolio.objects.filter(owner=person, is_active=True).select_related("model")
    )
    row = (
        selectors.household_flags(_scope(request), pk, now=clock.now(), today=today)
        if selectors.flags_available()
        else None
    )
    context = {
        "nav": "console",
        "household": person,
        "row": row,
        "flag_items": [(c, FLAG_LABELS[c]) for c in row.flags] if row else [],
        "accounts": [overview.account_overview(p, today=today) for p in portfolios],
        "proposals": Proposal.objects.filter(portfolio__owner=person)
        .select_related("portfolio", "decided_by")
        .order_by("-created_at", "-id")[:50],
        "timeline": person.audit_events.select_related("actor").order_by("-id")[:TIMELINE_LENGTH],
        "notes": ReviewNote.objects.filter(household=person).select_related("author")[:50],
        "sign_offs": ReviewSignOff.objects.filter(household=person).select_related("reviewer")[:20],
        "results": ReviewSignOff.Result.choices,
        "next_review_default": today + relativedelta(years=1),
        "export_start": today - relativedelta(years=1),
        "today": today,
    }
    return render(request, "console/household.html", context)


@require_POST
@staff_required
def add_note(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    person = _household(request, pk)
    try:
        account_services.add_review_note(
            person, author=request.user, text=inputs.note(request.POST.get("text", ""), 4000)
        )
    except account_services.ReviewError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Note added.")
    return redirect("console:household", pk=person.pk)


@require_POST
@staff_required
def sign_off(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A review sign-off is an attestation: it asks for a recent second factor (step-up)."""
    person = _household(request, pk)
    if step_up := stepup.challenge(request):
        return step_up
    try:
        next_review = inputs.parse_date(
            request.POST.get("next_review_on", ""), "Next review date",
            latest=clock.today() + relativedelta(years=5),
        )  # fmt: skip
        if next_review is None:
            raise account_services.ReviewError("Give the next review date.")
        account_services.sign_off_review(
            person,
            reviewer=request.user,
            result=request.POST.get("result", ""),
            next_review_on=next_review,
            comment=inputs.note(request.POST.get("comment", ""), 4000),
        )
    except (account_services.ReviewError, inputs.InputError) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Review signed off.")
    return redirect("console:household", pk=person.pk)


def _period(request: AuthenticatedRequest) -> records.Period:
    today = clock.today()
    start = inputs.parse_date(request.GET.get("start", ""), "Start", latest=today)
    end = inputs.parse_date(request.GET.get("end", ""), "End", latest=today)
    period = records.Period(start or today - relativedelta(years=1), end or today)
    if period.start > period.end:
        raise inputs.InputError("The start date is after the end date.")
    return period


@require_GET
@staff_required
def export_csv(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    person = _household(request, pk)
    try:
        period = _period(request)
    except inputs.InputError as error:
        messages.error(request, str(error))
        return redirect("console:household", pk=person.pk)
    account_services.record_staff_view(person, staff=request.user, what="exported_csv")
    body = exports.record_csv(records.household_record(person, period))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = f"household-{person.pk}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@staff_required
def report(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    person = _household(request, pk)
    try:
        period = _period(request)
    except inputs.InputError as error:
        messages.error(request, str(error))
        return redirect("console:household", pk=person.pk)
    account_services.record_staff_view(person, staff=request.user, what="printed_report")
    return render(
        request,
        "console/report.html",
        {
            "nav": "console",
            "record": records.household_record(person, period),
            "generated_at": clock.now(),
            "generated_by": request.user,
            "period_days": (period.end - period.start + dt.timedelta(days=1)).days,
        },
    )
