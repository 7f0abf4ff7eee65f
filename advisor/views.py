"""The dashboard (the page after login) and the methodology page."""

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import scoring
from accounts import selectors as account_selectors
from accounts.http import AuthenticatedRequest
from accounts.models import InvestorProfile
from advisor import dashboard as dashboard_data
from advisor.core import clock
from portfolios.goals import selectors as goals
from rebalancing.engine import wash_sales
from rebalancing.models import RebalancePolicy
from rebalancing.selectors import policies as policy_selectors
from rebalancing.selectors import tax as tax_selectors
from rebalancing.services import proposals


def dashboard(request: HttpRequest) -> HttpResponse:
    """The start page for a visitor who is not signed in; the household dashboard otherwise."""
    if not request.user.is_authenticated:
        return render(request, "landing.html", {"max_level": scoring.MAX_LEVEL})
    return _household_dashboard(request)  # type: ignore[arg-type]


def _household_dashboard(request: AuthenticatedRequest) -> HttpResponse:
    today = clock.today()
    data = dashboard_data.household(request.user, today=today)
    assessment = account_selectors.current_assessment(request.user)
    return render(
        request,
        "dashboard.html",
        {
            "nav": "dashboard",
            **data,
            "goals": goals.goal_success_probabilities(request.user),
            "assessment": assessment,
            "profile_needs_review": assessment is None or assessment.is_stale(clock.now()),
        },
    )


def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), name  # a column, not a reverse relation
    return field


def _default(model: type[models.Model], name: str) -> Any:
    return _field(model, name).default


def _your_settings(user: Any) -> dict[str, Any]:
    """The signed-in investor's own settings, from the rows the scans and estimates read."""
    accounts = list(user.portfolios.filter(is_active=True).order_by("name"))
    policies = policy_selectors.policies_for(accounts)
    harvest_model = apps.get_model("rebalancing", "HarvestSettings")
    return {
        "profile": InvestorProfile.objects.filter(user=user).first() or InvestorProfile(),
        "harvest": harvest_model.objects.filter(user=user).first() or harvest_model(),
        "policies": [(a, policies[a.pk]) for a in accounts],
    }


def methodology(request: HttpRequest) -> HttpResponse:
    """Every number on this page is read from the configuration and the model defaults."""
    policy = RebalancePolicy()
    harvest: dict[str, Any] | None = None
    try:
        model = apps.get_model("rebalancing", "HarvestSettings")
        harvest = {
            name: _default(model, name)
            for name in ("min_loss_amount", "min_loss_fraction", "min_net_benefit")
        }
    except LookupError:
        pass
    profile = getattr(request.user, "profile", None) if request.user.is_authenticated else None
    # The rates every estimate uses (federal + state), read where the estimates read them.
    rates = tax_selectors.households(
        [request.user.pk] if request.user.is_authenticated else [0], year=clock.today().year
    ).iloc[0]
    context = {
        "nav": "methodology",
        "policy": policy,
        "abs_band_pts": float(policy.absolute_band or 0) * 100,
        "rel_band_pct": float(policy.relative_band or 0) * 100,
        "cash_buffer_pct": float(policy.cash_buffer) * 100,
        "frequencies": [
            label for value, label in RebalancePolicy.Frequency.choices if value != "none"
        ],
        "harvest": harvest,
        "harvest_fraction_pct": float(harvest["min_loss_fraction"]) * 100 if harvest else None,
        "wash_days": wash_sales.WINDOW_DAYS,
        "st_rate": float(rates["short_rate"]) * 100,
        "lt_rate": float(rates["long_rate"]) * 100,
        "own_rates": profile is not None,
        "yours": _your_settings(request.user) if request.user.is_authenticated else None,
        "slippage_bps": settings.ADVISOR_PAPER_SLIPPAGE_BPS,
        "commission": settings.ADVISOR_PAPER_COMMISSION,
        "broker": settings.ADVISOR_BROKER,
        "ttl_hours": settings.ADVISOR_PROPOSAL_TTL_HOURS,
        "max_price_age": settings.ADVISOR_MAX_PRICE_AGE_DAYS,
        "max_price_move_pct": proposals._max_price_move() * 100,
        "max_level": scoring.MAX_LEVEL,
        "min_level": scoring.MIN_LEVEL,
        "reauth_minutes": settings.ACCOUNT_REAUTHENTICATION_TIMEOUT // 60,
    }
    return render(request, "methodology.html", context)
