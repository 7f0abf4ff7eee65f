"""The investor's profile page: record-only facts and the history of risk assessments."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render

from accounts import forms, services
from accounts.http import AuthenticatedRequest
from accounts.models import InvestorProfile, RiskAssessment
from advisor.core import clock


@login_required
def profile(request: AuthenticatedRequest) -> HttpResponse:
    facts, _ = InvestorProfile.objects.get_or_create(user=request.user)
    if request.method == "POST":
        form = forms.ProfileFactsForm(
            request.POST, instance=InvestorProfile.objects.get(pk=facts.pk)
        )
        if form.is_valid():
            services.update_profile(
                request.user, **{f: form.cleaned_data[f] for f in services.PROFILE_FIELDS}
            )
            messages.success(request, "Profile saved.")
            return redirect("accounts:profile")
    else:
        form = forms.ProfileFactsForm(instance=facts)
    history = list(
        RiskAssessment.objects.for_user(request.user).select_related(
            "recommended_model", "accepted_model", "questionnaire"
        )
    )
    current = history[0] if history else None
    now = clock.now()
    return render(
        request,
        "accounts/profile.html",
        {
            "nav": "profile",
            "current": current,
            "stale": current.is_stale(now) if current else False,
            "history": history,
            "form": form,
            "accounts": request.user.portfolios.filter(is_active=True).select_related("model"),
        },
        status=400 if request.method == "POST" else 200,
    )
