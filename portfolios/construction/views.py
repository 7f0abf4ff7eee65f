"""Pages of portfolio construction: the staff model builder and review (staff only), the
investor's portfolio lab and choosing a custom target from it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.http import AuthenticatedRequest
from advisor.core import clock
from advisor.security import stepup
from portfolios.analytics import assumptions
from portfolios.analytics.errors import PortfolioError
from portfolios.construction import compute, forms, selectors, services
from portfolios.models import ModelPortfolio, ModelVersion

# What each analytics error code means to a person (the constraint is named where useful).
ERROR_TEXT = {
    "bounds_conflict": "A lower limit is above its upper limit ({constraint}).",
    "budget_unreachable": "The limits cannot add up to 100%: raise the upper limits or "
    "lower the lower ones ({constraint}).",
    "group_conflict": "The group limits cannot be met together with the other limits "
    "({constraint}).",
    "target_return_unreachable": "The target return is above the highest return these asset "
    "classes can reach ({max_return}).",
    "target_volatility_unreachable": "The target volatility is below the lowest volatility "
    "these asset classes can reach ({min_volatility}).",
    "no_excess_return": "No portfolio of these asset classes earns more than the risk-free "
    "rate, so there is no maximum Sharpe ratio: lower the risk-free rate.",
    "covariance_not_psd": "The risk estimates are inconsistent (the covariance matrix is not "
    "positive semi-definite).",
    "covariance_singular": "Two or more of these asset classes move exactly alike (the "
    "covariance matrix is singular): remove one of them.",
    "unknown_asset": "A limit or a view names an asset class that is not chosen ({constraint}).",
    "invalid_input": "These inputs cannot be used: {message}.",
    "missing_data": "There is not enough price history: {message}.",
    "not_converged": "The optimiser could not reach a precise answer for these limits; "
    "loosen a limit or pick another method.",
}


def error_text(exc: PortfolioError) -> str:
    """The sentence a person reads for an analytics error."""
    numbers = {
        k: f"{v:.2%}" for k, v in exc.details.items() if isinstance(v, float) and k != "view"
    }
    template = ERROR_TEXT.get(exc.code, "These inputs cannot be used: {message}.")
    return template.format_map(
        {"constraint": exc.constraint or "-", "message": str(exc), "max_return": "-",
         "min_volatility": "-", **numbers}
    )  # fmt: skip


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Model portfolios are built by staff.")
        return view(request, *args, **kwargs)

    return wrapper


@staff_required
def index(request: AuthenticatedRequest) -> HttpResponse:
    form = forms.NewModelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            model = services.create_model(**form.cleaned_data, by=request.user)
        except services.ConstructionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{model.name} created: build its first version.")
            return redirect("construction:model", pk=model.pk)
    models = ModelPortfolio.objects.prefetch_related("allocations__asset_class")
    drafts = ModelVersion.objects.filter(status=ModelVersion.Status.DRAFT).select_related(
        "model", "author"
    )
    return render(
        request,
        "construction/index.html",
        {"nav": "construction", "models": models, "drafts": drafts, "form": form},
        status=400 if form.errors else 200,
    )


@staff_required
def model_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(ModelPortfolio, pk=pk)
    current = selectors.published_weights(model)
    form = forms.BuildForm(
        request.POST or None,
        initial={"asset_classes": list(current), "method": "max_sharpe"},
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                version = services.build_draft(
                    model, form.inputs(), by=request.user, reason=form.cleaned_data["reason"]
                )
            except PortfolioError as exc:
                form.add_error(None, error_text(exc))
            except services.ConstructionError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, f"Draft v{version.number} built: a second staff member reviews it."
                )
                return redirect("construction:version", pk=version.pk)
    context = {
        "nav": "construction",
        "model": model,
        "current": _weights_rows(current),
        "current_estimate": selectors.estimate(current) if current else None,
        "versions": model.versions.select_related("author", "reviewer"),
        "assumptions": selectors.assumption_rows(),
        "form": form,
    }
    return render(request, "construction/model.html", context, status=status)


def _weights_rows(
    *columns: dict[str, float],
    risk: dict[str, float] | None = None,
    names: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One row per asset in any column, largest first: name, weights (one per column) and its
    share of the risk of the first column."""
    names = names if names is not None else selectors.asset_class_names()
    codes = sorted(
        {c for col in columns for c in col}, key=lambda c: -max(col.get(c, 0) for col in columns)
    )
    return [
        {
            "code": c,
            "name": names.get(c, c),
            "weights": [col.get(c, 0.0) for col in columns],
            "risk": (risk or {}).get(c),
        }
        for c in codes
    ]


@staff_required
def version_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(
        ModelVersion.objects.select_related("model", "author", "reviewer"), pk=pk
    )
    return _render_version(request, version, forms.ReviewForm())


def _render_version(
    request: AuthenticatedRequest, version: ModelVersion, form: forms.ReviewForm, status: int = 200
) -> HttpResponse:
    current = selectors.published_weights(version.model)
    codes = list(dict.fromkeys([*(version.inputs.get("asset_classes") or []), *version.weights]))
    universe = compute.cma_universe(codes)
    try:
        curve = compute.frontier(universe, compute.constraints_of(version.inputs, universe))
    except PortfolioError:
        curve = []  # the version was built; a frontier under its limits may not exist
    points = [compute.placed(f"v{version.number}", universe, version.weights)]
    if current:
        points.append(compute.placed("Current target", universe, current))
    contributions = compute.risk_contributions(universe, version.weights)
    context = {
        "nav": "construction",
        "version": version,
        "rows": _weights_rows(version.weights, current, risk=contributions),
        "current_estimate": selectors.estimate(current) if current else None,
        "followers": version.model.portfolios.filter(is_active=True).count(),
        "can_review": version.status == ModelVersion.Status.DRAFT
        and version.author_id != request.user.pk,
        "form": form,
        "chart": {"frontier": curve, "points": points},
        "method_label": forms.METHOD_LABELS.get(version.method, version.method),
    }
    return render(request, "construction/version.html", context, status=status)


def _decide(
    request: AuthenticatedRequest, pk: int, decide: Callable[..., ModelVersion]
) -> HttpResponse:
    version = get_object_or_404(ModelVersion.objects.select_related("model"), pk=pk)
    if step_up := stepup.challenge(request):
        return step_up
    form = forms.ReviewForm(request.POST)
    if form.is_valid():
        try:
            version = decide(version, by=request.user, note=form.cleaned_data["note"])
        except services.ConstructionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"{version.model.name} v{version.number} {version.get_status_display().lower()}.",
            )
            return redirect("construction:version", pk=version.pk)
    return _render_version(request, version, form, status=400)


@staff_required
@require_POST
def publish(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, services.publish)


@staff_required
@require_POST
def reject(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, services.reject)


def _lab_form(data: Any) -> forms.LabForm:
    """The lab's form: the request's choices, or on a first visit every asset class by
    maximum Sharpe at a 3% risk-free rate."""
    if data:
        return forms.LabForm(data)
    codes = [c.code for c in selectors.asset_classes()]
    return forms.LabForm({"asset_classes": codes, "method": "max_sharpe", "risk_free_rate": "3"})


def _lab_build(
    request: AuthenticatedRequest, form: forms.LabForm
) -> tuple[compute.Built | None, compute.Universe | None, dict[str, float], dict[str, float]]:
    """The method's answer, the universe the household is placed on (securities: the chosen
    ones and the household's own, estimated together) and the household's weights on it."""
    if not (form.is_bound and form.is_valid()):
        return None, None, {}, {}
    inputs = form.inputs()
    try:
        if inputs.get("securities"):
            current, target = selectors.household_securities(request.user)
            plane = _security_plane(inputs["securities"], [*current, *target])
            universe = plane.subset(inputs["securities"])
        else:
            current, target = selectors.household_weights(request.user)
            plane = universe = compute.cma_universe(inputs["asset_classes"])
        return compute.build(inputs, universe=universe), plane, current, target
    except PortfolioError as exc:
        form.add_error(None, error_text(exc))
        return None, None, {}, {}


def _security_plane(chosen: list[str], held: list[str]) -> compute.Universe:
    """The chosen securities estimated together with the household's, so that every point is
    on one plane; the chosen ones alone when the household's shorten the common history too
    much (the household's points are then left off)."""
    today = clock.today()
    try:
        return selectors.security_universe(list(dict.fromkeys([*chosen, *held])), today=today)
    except PortfolioError:
        return selectors.security_universe(chosen, today=today)


def _lab_chart(
    built: compute.Built | None,
    plane: compute.Universe | None,
    current: dict[str, float],
    target: dict[str, float],
) -> dict[str, Any]:
    if built is None or plane is None:
        return {"frontier": [], "points": []}
    points = [compute.placed("This method", plane, built.weights)]
    for label, weights in (("Your portfolio today", current), ("Your target", target)):
        # A holding without price history: no point rather than a wrong one.
        with contextlib.suppress(PortfolioError):
            points += [compute.placed(label, plane, weights)] if weights else []
    try:
        curve = compute.frontier(built.universe, built.constraints)
    except PortfolioError:
        curve = []  # the portfolio was built; a frontier under these limits may not exist
    return {"frontier": curve, "points": points}


def _lab_context(
    request: AuthenticatedRequest, form: forms.LabForm, adopt: forms.AdoptForm
) -> dict[str, Any]:
    built, plane, current, target = _lab_build(request, form)
    assessment = account_selectors.current_assessment(request.user)
    history = bool(built and built.universe.history)
    names = {t: t for t in built.weights} if built and history else selectors.asset_class_names()
    return {
        "nav": "lab",
        "form": form,
        "adopt": adopt,
        "built": built,
        "history": history,
        "rows": _weights_rows(built.weights, risk=built.risk_contributions, names=names)
        if built
        else [],
        "chart": _lab_chart(built, plane, current, target),
        "assessment": assessment,
        "limits": selectors.guardrails(assessment) if assessment else None,
        "method": form.cleaned_data.get("method") if built else None,
        "sharpe": _sharpe(built, form.cleaned_data.get("risk_free_rate")) if built else None,
        "bad_year": assumptions.bad_year_return(
            built.estimate.expected_return, built.estimate.volatility
        )
        if built
        else None,
    }


def _sharpe(built: compute.Built, risk_free_percent: Any) -> float | None:
    """The Sharpe ratio of the weights shown (rounded), at the risk-free rate typed."""
    rf = float(risk_free_percent or 0) / 100
    vol = built.estimate.volatility
    return (built.estimate.expected_return - rf) / vol if vol > 0 else None


@login_required
def lab(request: AuthenticatedRequest) -> HttpResponse:
    form = _lab_form(request.GET if "method" in request.GET else None)
    adopt = forms.AdoptForm(user=request.user)
    return render(request, "construction/lab.html", _lab_context(request, form, adopt))


@login_required
@require_POST
def adopt(request: AuthenticatedRequest) -> HttpResponse:
    form = forms.LabForm(request.POST)
    choice = forms.AdoptForm(request.POST, user=request.user)
    assessment = account_selectors.current_assessment(request.user)
    if assessment is None:
        messages.error(request, "Take the risk questionnaire first: it sets your guardrails.")
        return redirect("onboarding:questionnaire")
    # A target is made of asset classes; a securities build is shown again, with that said.
    if form.is_valid() and not form.cleaned_data.get("securities") and choice.is_valid():
        try:
            accounts = services.set_custom_target(
                assessment,
                form.inputs(),
                by=request.user,
                portfolios=choice.cleaned_data["portfolios"],
                acknowledge_more_aggressive=choice.cleaned_data["acknowledge_more_aggressive"],
            )
        except PortfolioError as exc:
            form.add_error(None, error_text(exc))
        except services.ConstructionError as exc:
            choice.add_error(None, str(exc))
        else:
            names = ", ".join(a.name for a in accounts)
            messages.success(request, f"Your custom target now applies to: {names}.")
            return redirect("portfolios:list")
    return render(request, "construction/lab.html", _lab_context(request, form, choice), status=400)
