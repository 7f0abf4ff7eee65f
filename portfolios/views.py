"""Account pages and the CSV import wizard. Every object is fetched scoped to request.user."""

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import audit
from accounts.http import AuthenticatedRequest
from advisor.core import clock
from advisor.security import stepup
from portfolios import ledger, overview, services
from portfolios.forms import ImportUploadForm, PortfolioForm, TransactionForm
from portfolios.imports import services as imports
from portfolios.imports.parse import Row
from portfolios.models import ImportBatch, Portfolio
from portfolios.performance import selectors as performance

PREVIEW_ROW_LIMIT = 2000


def _portfolio(request: AuthenticatedRequest, pk: int) -> Portfolio:
    return get_object_or_404(Portfolio.objects.select_related("model"), pk=pk, owner=request.user)


@login_required
def account_list(request: AuthenticatedRequest) -> HttpResponse:
    portfolios = list(
        Portfolio.objects.for_user(request.user)
        .select_related("model")
        .order_by("-is_active", "name")
    )
    summary = overview.household_summary(portfolios)
    rows: list[dict[str, Any]] = []
    for p in portfolios:
        s = summary[p.pk]
        rows.append({"portfolio": p, **s, "total": s["invested"] + float(p.cash)})
    totals = {
        "total": sum(r["total"] for r in rows),
        "gain": sum(r["gain"] for r in rows),
        "cash": sum(float(p.cash) for p in portfolios),
    }
    return render(
        request,
        "portfolios/account_list.html",
        {"nav": "portfolios", "rows": rows, "totals": totals},
    )


@login_required
def account_create(request: AuthenticatedRequest) -> HttpResponse:
    form = PortfolioForm(request.POST or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        portfolio = services.open_account(
            form.save(commit=False),
            by=request.user,
            opening_cash=form.cleaned_data.get("opening_cash"),
        )
        messages.success(request, f"Account “{portfolio.name}” created.")
        return redirect("portfolios:detail", pk=portfolio.pk)
    return render(
        request,
        "portfolios/account_form.html",
        {"nav": "portfolios", "form": form, "creating": True},
    )


@login_required
def account_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    portfolio = _portfolio(request, pk)
    if step_up := stepup.challenge(request):  # broker and account number: bank-like details
        return step_up
    form = PortfolioForm(request.POST or None, instance=portfolio, owner=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            audit.record("portfolio.updated", household=request.user, actor=request.user, obj=portfolio,
                         summary=f"Edited account {portfolio.name}", fields=sorted(form.changed_data))  # fmt: skip
        messages.success(request, "Account saved.")
        return redirect("portfolios:detail", pk=portfolio.pk)
    return render(
        request, "portfolios/account_form.html",
        {"nav": "portfolios", "form": form, "portfolio": portfolio, "creating": False},
    )  # fmt: skip


@login_required
def account_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    portfolio = _portfolio(request, pk)
    data = overview.account_overview(portfolio, today=clock.today())
    transactions = portfolio.transactions.select_related("security").order_by("-trade_date", "-id")[
        :25
    ]
    chart = {
        "labels": [c["name"] for c in data.classes],
        "current": [round(c["weight"] * 100, 2) for c in data.classes],
        "target": [round(c["target"] * 100, 2) for c in data.classes],
    }
    return render(
        request,
        "portfolios/account_detail.html",
        {
            "nav": "portfolios",
            "portfolio": portfolio,
            "data": data,
            "transactions": transactions,
            "chart": chart,
            "imports": portfolio.import_batches.order_by("-created_at")[:5],
            "ledger_value": performance.household_value([portfolio], today=clock.today()),
            # An account holding nothing has no drift: it shows how to fund it instead.
            "empty": not data.positions and not data.cash,
            # The rebalancing app's "Check drift now" button, once there is something to check.
            "account_actions_template": "rebalancing/_check_now.html"
            if data.positions or data.cash
            else None,
        },
    )


@login_required
def transaction_create(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    portfolio = _portfolio(request, pk)
    form = TransactionForm(request.POST or None, portfolio=portfolio)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if d["kind"] in ("buy", "sell"):
                trade = {
                    "security": d["security"], "quantity": d["quantity"], "price": d["price"],
                    "trade_date": d["trade_date"], "fees": d["fees"] or Decimal("0"),
                    "note": d["note"],
                }  # fmt: skip
                if d["kind"] == "buy":
                    ledger.record_buy(portfolio, **trade)
                elif d["lots"]:
                    picks = ledger.picks_from(list(d["lots"]), d["quantity"])
                    ledger.record_sell(portfolio, method="specific", picks=picks, **trade)
                else:
                    ledger.record_sell(portfolio, **trade)
            else:
                ledger.record_cash(
                    portfolio, kind=d["kind"], amount=d["amount"], trade_date=d["trade_date"],
                    security=d["security"], note=d["note"],
                )  # fmt: skip
        except ledger.LedgerError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Transaction recorded.")
            return redirect("portfolios:detail", pk=portfolio.pk)
    return render(
        request,
        "portfolios/transaction_form.html",
        {"nav": "portfolios", "form": form, "portfolio": portfolio},
    )


# --- import wizard ---------------------------------------------------------------------------


def _upload(request: AuthenticatedRequest, portfolio: Portfolio | None) -> HttpResponse:
    form = ImportUploadForm(
        request.POST or None, request.FILES or None, allow_prices=portfolio is None
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        limit = imports.max_upload_bytes()
        if upload.size > limit:
            # Refused before reading it; nothing is stored.
            form.add_error(
                "file",
                f"The file is {upload.size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB.",
            )
        else:
            batch = imports.preview_import(
                upload.read(), owner=request.user, kind=form.cleaned_data["kind"], portfolio=portfolio,
                layout=form.cleaned_data["layout"], filename=upload.name,
            )  # fmt: skip
            return redirect("portfolios:import_preview", pk=batch.pk)
    return render(
        request,
        "portfolios/import_upload.html",
        {
            "nav": "portfolios",
            "form": form,
            "portfolio": portfolio,
            "max_mb": imports.max_upload_bytes() // 1_048_576,
        },
    )


@login_required
def import_upload(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _upload(request, _portfolio(request, pk))


@login_required
def price_import_upload(request: AuthenticatedRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise PermissionDenied("Prices are shared by every user; only staff import them.")
    return _upload(request, None)


def _batch(request: AuthenticatedRequest, pk: int) -> ImportBatch:
    return get_object_or_404(
        ImportBatch.objects.select_related("portfolio").defer("data"), pk=pk, owner=request.user
    )


@login_required
def import_preview(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    batch = _batch(request, pk)
    rows = [Row.from_json(r) for r in batch.rows[:PREVIEW_ROW_LIMIT]]
    header = list(rows[0].values) if rows and rows[0].values else []
    if not header:
        header = next((list(r.values) for r in rows if r.values), [])
    return render(
        request,
        "portfolios/import_preview.html",
        {
            "nav": "portfolios",
            "batch": batch,
            "rows": rows,
            "header": [h.replace("_", " ") for h in header],
            "shown": len(rows),
            "total": len(batch.rows),
            "skipped": sum(1 for r in batch.rows if r.get("skipped")),
            "error_rows": sum(1 for r in batch.rows if r.get("errors")),
            "progress": imports.progress(batch),
        },
    )


@login_required
@require_POST
def import_confirm(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    batch = _batch(request, pk)
    if batch.status == ImportBatch.Status.INVALID:
        messages.error(
            request, "This file has errors; fix them and upload it again. Nothing was imported."
        )
    elif batch.status == ImportBatch.Status.PREVIEW:
        imports.start_import(batch, by=request.user)
    # Queued, importing or imported: the page shows where it stands.
    return redirect("portfolios:import_preview", pk=batch.pk)


@login_required
def import_status(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The progress partial the preview page polls while the import task runs."""
    batch = _batch(request, pk)
    return render(
        request,
        "portfolios/_import_progress.html",
        # oob: the page's status badge is replaced too, so it never says "Importing" above
        # the result.
        {"batch": batch, "progress": imports.progress(batch), "oob": True},
    )
