"""Goal pages: list with success probabilities, create/edit, detail with the Monte Carlo fan chart."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedRequest
from advisor.core import clock
from portfolios.analytics import glide_path
from portfolios.goals import forms, selectors, services
from portfolios.models import Goal


@login_required
def goal_list(request: AuthenticatedRequest) -> HttpResponse:
    summaries = selectors.goal_success_probabilities(request.user, today=clock.today())
    return render(request, "goals/list.html", {"nav": "goals", "summaries": summaries})


@login_required
def goal_edit(request: AuthenticatedRequest, pk: int | None = None) -> HttpResponse:
    goal = get_object_or_404(Goal, pk=pk, user=request.user) if pk is not None else None
    form = forms.GoalForm(request.POST or None, instance=goal, user=request.user)
    if request.method == "POST" and form.is_valid():
        saved = services.save_goal(
            request.user,
            goal=goal,
            data=form.cleaned_data,
            portfolios=form.cleaned_data["portfolios"],
        )
        messages.success(request, f"Goal \u201c{saved.name}\u201d saved.")
        return redirect("goals:detail", pk=saved.pk)
    return render(
        request,
        "goals/form.html",
        {"nav": "goals", "form": form, "goal": goal},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def goal_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    goal = get_object_or_404(Goal.objects.prefetch_related("portfolios"), pk=pk, user=request.user)
    projection = selectors.project_goal(goal, today=clock.today())
    return render(
        request,
        "goals/detail.html",
        {
            "nav": "goals",
            "goal": goal,
            "p": projection,
            "target": selectors.SUCCESS_TARGET,
            "chart": {
                "labels": projection.fan_labels,
                "target": float(goal.target_amount),
                **projection.fan,
            },
            "schedule": glide_path.SCHEDULE,
        },
    )


@login_required
@require_POST
def goal_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    goal = get_object_or_404(Goal, pk=pk, user=request.user)
    services.delete_goal(request.user, goal=goal)
    messages.success(request, "Goal deleted.")
    return redirect("goals:list")
