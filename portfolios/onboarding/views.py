"""Onboarding pages: the multi-step questionnaire, its result and choosing a model portfolio."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import forms as account_forms
from accounts import questionnaire, selectors
from accounts.http import AuthenticatedRequest
from accounts.models import Question, Questionnaire, RiskAssessment
from accounts.services import OnboardingError
from advisor.core import clock
from portfolios.models import Portfolio
from portfolios.onboarding import forms, services
from portfolios.onboarding.selectors import fund_rows, model_rows, recommendation_gap

SESSION_KEY = "risk_questionnaire"


def _current_questionnaire() -> Questionnaire:
    current = Questionnaire.objects.current()
    if current is None:
        current = questionnaire.ensure_default_questionnaire()
    return current


def _session_answers(request: AuthenticatedRequest, version: Questionnaire) -> dict[str, object]:
    state = request.session.get(SESSION_KEY) or {}
    if state.get("version") != version.pk:
        state = {"version": version.pk, "answers": {}}
        request.session[SESSION_KEY] = state
    return state["answers"]


def _save_answers(
    request: AuthenticatedRequest, version: Questionnaire, answers: dict[str, object]
) -> None:
    request.session[SESSION_KEY] = {"version": version.pk, "answers": answers}


def _amount(answers: dict[str, object]) -> Decimal | None:
    try:
        return Decimal(str(answers["amount"])) if "amount" in answers else None
    except (InvalidOperation, ValueError):
        return None


@login_required
def questionnaire_start(request: AuthenticatedRequest) -> HttpResponse:
    if request.GET.get("restart"):
        request.session.pop(SESSION_KEY, None)
    return redirect("onboarding:questionnaire_step", step=1)


@login_required
def questionnaire_step(request: AuthenticatedRequest, step: int) -> HttpResponse:
    version = _current_questionnaire()
    all_questions = list(version.questions.prefetch_related("options"))
    steps = sorted({q.step for q in all_questions})
    if step not in steps:
        raise Http404("No such step")
    questions = [q for q in all_questions if q.step == step]
    answers = dict(_session_answers(request, version))
    index = steps.index(step)

    if request.method == "POST":
        form = account_forms.QuestionnaireStepForm(
            request.POST, questions=questions, amount=_amount(answers)
        )
        valid = form.is_valid()
        for code, value in (form.cleaned_data if hasattr(form, "cleaned_data") else {}).items():
            if value is not None:
                answers[code] = str(value) if isinstance(value, Decimal) else value
        if request.POST.get("action") == "back":
            _save_answers(request, version, answers)  # keep whatever was answered on this page
            return redirect("onboarding:questionnaire_step", step=steps[max(0, index - 1)])
        if valid:
            _save_answers(request, version, answers)
            if index + 1 < len(steps):
                return redirect("onboarding:questionnaire_step", step=steps[index + 1])
            return _submit(request, version, all_questions, steps, answers)
    else:
        initial = {q.code: answers[q.code] for q in questions if q.code in answers}
        form = account_forms.QuestionnaireStepForm(
            initial=initial, questions=questions, amount=_amount(answers)
        )

    return render(
        request,
        "accounts/questionnaire_step.html",
        {
            "nav": "profile",
            "form": form,
            "version": version,
            "step": step,
            "step_number": index + 1,
            "step_count": len(steps),
            "step_title": questionnaire.STEPS.get(step, f"Step {step}"),
            "step_titles": [(s, questionnaire.STEPS.get(s, f"Step {s}")) for s in steps],
            "percent": round(100 * index / len(steps)),
            "is_last": index + 1 == len(steps),
            "is_first": index == 0,
        },
    )


def _submit(
    request: AuthenticatedRequest,
    version: Questionnaire,
    questions: list[Question],
    steps: list[int],
    answers: dict[str, object],
) -> HttpResponse:
    for question in questions:
        if question.code not in answers:
            messages.error(request, "Please answer every question on this page first.")
            return redirect("onboarding:questionnaire_step", step=question.step)
    selections = {
        q.code: int(str(answers[q.code])) for q in questions if q.kind == Question.Kind.CHOICE
    }
    try:
        assessment = services.submit_assessment(
            request.user,
            questionnaire_version=version,
            selections=selections,
            amount=_amount(answers) or Decimal("0"),
        )
    except OnboardingError as exc:
        messages.error(request, str(exc))
        return redirect("onboarding:questionnaire_step", step=steps[0])
    request.session.pop(SESSION_KEY, None)
    return redirect("onboarding:assessment", pk=assessment.pk)


@login_required
def assessment_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assessment = get_object_or_404(
        RiskAssessment.objects.select_related("recommended_model", "accepted_model"),
        pk=pk,
        user=request.user,
    )
    form = forms.AcceptForm(user=request.user, initial={"model": assessment.recommended_model})
    return _render_assessment(request, assessment, form)


def _render_assessment(
    request: AuthenticatedRequest,
    assessment: RiskAssessment,
    form: forms.AcceptForm,
    status: int = 200,
) -> HttpResponse:
    amount = assessment.amount if assessment.amount > 0 else Decimal("10000")
    rows = model_rows(amount, assessment)
    recommended = next((r for r in rows if r["model"] == assessment.recommended_model), None)
    return render(
        request,
        "accounts/assessment.html",
        {
            "nav": "profile",
            "assessment": assessment,
            "is_current": selectors.current_assessment(request.user) == assessment,
            "stale": assessment.is_stale(clock.now()),
            "amount": amount,
            "recommended": recommended,
            "gap": recommendation_gap(assessment),
            "rows": rows,
            "form": form,
            "answers": [a for a in assessment.answers if "option" in a],
        },
        status=status,
    )


@login_required
@require_POST
def accept(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assessment = get_object_or_404(RiskAssessment, pk=pk, user=request.user)
    form = forms.AcceptForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            accounts = services.accept_recommendation(
                assessment,
                by=request.user,
                model=form.cleaned_data["model"],
                portfolios=form.cleaned_data["portfolios"],
                new_account_name=form.cleaned_data["new_account_name"],
                new_account_tax_treatment=form.cleaned_data["new_account_tax_treatment"],
                acknowledge_more_aggressive=form.cleaned_data["acknowledge_more_aggressive"],
            )
        except OnboardingError as exc:
            form.add_error(None, str(exc))
        else:
            names = ", ".join(a.name for a in accounts)
            messages.success(
                request, f"{form.cleaned_data['model'].name} is now the target of: {names}."
            )
            # The next step is money in the account: the newest one chosen (a new account is
            # opened last), whose funding page also says when it already holds something.
            return redirect("onboarding:fund", pk=accounts[-1].pk)
    return _render_assessment(request, assessment, form, status=400)


@login_required
def fund(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """After choosing a model: how to put money or holdings into the account."""
    portfolio = get_object_or_404(
        Portfolio.objects.for_user(request.user).active().select_related("model"), pk=pk
    )
    assessment = selectors.current_assessment(request.user)
    amount = assessment.amount if assessment is not None and assessment.amount > 0 else None
    funds = (
        fund_rows(portfolio.model.allocations.select_related("asset_class", "security"), amount)
        if portfolio.model is not None and amount is not None
        else None
    )
    return render(
        request,
        "portfolios/fund.html",
        {
            "nav": "portfolios",
            "portfolio": portfolio,
            "funds": funds,
            "holds_something": portfolio.cash > 0 or portfolio.lots.open().exists(),
        },
    )
