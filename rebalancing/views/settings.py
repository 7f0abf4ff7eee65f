"""The investor's settings pages. Thin: each form parses, one service validates, saves and
audits; a refused value shows the service's message and changes nothing. Accounts are fetched
scoped to request.user (another user's id is a 404)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.http import AuthenticatedRequest
from accounts.models import InvestorProfile
from advisor.core import clock
from portfolios.models import Portfolio
from rebalancing import forms
from rebalancing.models import HarvestSettings, PolicyGuardrails
from rebalancing.selectors import policies as policy_selectors
from rebalancing.selectors import tax as tax_selectors
from rebalancing.services import investor_settings


def _profile(request: AuthenticatedRequest) -> InvestorProfile:
    return InvestorProfile.objects.filter(user=request.user).first() or InvestorProfile()


def _harvest(request: AuthenticatedRequest) -> HarvestSettings:
    return HarvestSettings.objects.filter(user=request.user).first() or HarvestSettings()


@login_required
def index(request: AuthenticatedRequest) -> HttpResponse:
    year = clock.today().year
    accounts = list(Portfolio.objects.filter(owner=request.user, is_active=True).order_by("name"))
    policies = policy_selectors.policies_for(accounts)
    return render(
        request,
        "rebalancing/settings/index.html",
        {
            "nav": "settings",
            "profile": _profile(request),
            "tax_year": tax_selectors.households([request.user.pk], year=year).iloc[0],
            "year": year,
            "harvest": _harvest(request),
            "accounts": [(a, policies[a.pk]) for a in accounts],
        },
    )


def _edit(
    request: AuthenticatedRequest,
    form_class: type[django_forms.Form],
    initial: dict[str, Any],
    save: Callable[[dict[str, Any]], object],
    *,
    title: str,
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """GET shows the form with the current values; POST saves through `save` (a service call)
    and goes back to the settings page, or shows the form with the refusal."""
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except investor_settings.SettingsError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{title} saved.")
            return redirect("settings:index")
    return render(
        request,
        "rebalancing/settings/form.html",
        {"nav": "settings", "form": form, "title": title, **(context or {})},
    )


@login_required
def tax_profile(request: AuthenticatedRequest) -> HttpResponse:
    profile, year = _profile(request), clock.today().year
    carried = profile.carryover_tax_year == year
    initial = {
        "filing_status": profile.filing_status,
        "federal_short_term_rate": forms.percent(profile.short_term_tax_rate),
        "federal_long_term_rate": forms.percent(profile.long_term_tax_rate),
        "state_rate": forms.percent(profile.state_tax_rate),
        "carryover_short_term_loss": profile.carryover_short_term_loss if carried else 0,
        "carryover_long_term_loss": profile.carryover_long_term_loss if carried else 0,
    }

    def save(d: dict[str, Any]) -> object:
        return investor_settings.update_tax_profile(
            request.user, by=request.user, filing_status=d["filing_status"],
            federal_short_term_rate=forms.fraction(d["federal_short_term_rate"]),
            federal_long_term_rate=forms.fraction(d["federal_long_term_rate"]),
            state_rate=forms.fraction(d["state_rate"]),
            carryover_short_term_loss=d["carryover_short_term_loss"],
            carryover_long_term_loss=d["carryover_long_term_loss"], carryover_tax_year=year,
        )  # fmt: skip

    return _edit(
        request, forms.TaxProfileForm, initial, save, title="Tax profile",
        context={"intro": f"Losses carried in count for {year} only."},
    )  # fmt: skip


@login_required
def harvesting(request: AuthenticatedRequest) -> HttpResponse:
    current = _harvest(request)
    initial = {
        "enabled": current.enabled,
        "min_loss_amount": current.min_loss_amount,
        "min_loss_percent": forms.percent(current.min_loss_fraction),
        "min_net_benefit": current.min_net_benefit,
    }

    def save(d: dict[str, Any]) -> object:
        return investor_settings.update_harvesting(
            request.user, by=request.user, enabled=d["enabled"],
            min_loss_amount=d["min_loss_amount"],
            min_loss_fraction=forms.fraction(d["min_loss_percent"]),
            min_net_benefit=d["min_net_benefit"],
        )  # fmt: skip

    return _edit(request, forms.HarvestingForm, initial, save, title="Tax-loss harvesting")


@login_required
def lot_relief(request: AuthenticatedRequest) -> HttpResponse:
    def save(d: dict[str, Any]) -> object:
        return investor_settings.update_lot_relief(
            request.user, by=request.user, method=d["method"]
        )

    initial = {"method": _profile(request).lot_relief_method}
    return _edit(
        request, forms.LotReliefForm, initial, save, title="Lot relief",
        context={"intro": "Used by the proposals' sells and by the sells you record or "
                 "import. Tax-minimising keeps the estimated tax lowest."},
    )  # fmt: skip


@login_required
def notifications(request: AuthenticatedRequest) -> HttpResponse:
    profile = _profile(request)
    names = ("email_waiting", "email_executed", "email_problems")

    def save(d: dict[str, Any]) -> object:
        return investor_settings.update_notifications(
            request.user, by=request.user, **{n: d[n] for n in names}
        )

    initial = {n: getattr(profile, n) for n in names}
    return _edit(
        request, forms.NotificationsForm, initial, save, title="Email notifications",
        context={"intro": "Every notification stays in your notification centre; these "
                 "choose which are also emailed."},
    )  # fmt: skip


@login_required
def policy(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    current = policy_selectors.policy_for(portfolio)
    initial = {
        "absolute_band": forms.percent(current.absolute_band),
        "relative_band": forms.percent(current.relative_band),
        "calendar_frequency": current.calendar_frequency,
        "calendar_day": current.calendar_day,
        "rebalance_to": current.rebalance_to,
        "cash_buffer": forms.percent(current.cash_buffer),
        "min_trade_amount": current.min_trade_amount,
    }

    def save(d: dict[str, Any]) -> object:
        return investor_settings.update_policy(
            portfolio, by=request.user, absolute_band=forms.optional_fraction(d["absolute_band"]),
            relative_band=forms.optional_fraction(d["relative_band"]),
            calendar_frequency=d["calendar_frequency"], calendar_day=d["calendar_day"],
            rebalance_to=d["rebalance_to"], cash_buffer=forms.fraction(d["cash_buffer"]),
            min_trade_amount=d["min_trade_amount"],
        )  # fmt: skip

    return _edit(
        request, forms.PolicyForm, initial, save, title=f"Rebalancing policy: {portfolio.name}",
        context={"guardrails": PolicyGuardrails.current()},
    )  # fmt: skip
