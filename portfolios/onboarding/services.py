"""Onboarding state changes: score a submitted questionnaire and recommend a model, then make
a model the target of the investor's accounts. Each writes audit events in its transaction."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction

from accounts import audit, questionnaire, scoring
from accounts.models import AnswerOption, Question, Questionnaire, RiskAssessment, User
from accounts.services import OnboardingError
from advisor.core import clock
from portfolios import services as portfolio_services
from portfolios.models import ModelPortfolio, Portfolio
from portfolios.onboarding import selectors


class AcknowledgementRequired(OnboardingError):
    """A model more aggressive than the recommendation needs an explicit acknowledgement."""


@transaction.atomic
def submit_assessment(
    user: User, *, questionnaire_version: Questionnaire, selections: dict[str, int], amount: Decimal
) -> RiskAssessment:
    """Score and store one completed questionnaire (`selections`: question code -> option id).

    Every choice question must be answered with one of its own options. Creates a new
    RiskAssessment (a retake never changes an old one) and records the recommendation.
    """
    if amount is None or amount < 0:
        raise OnboardingError("The amount to invest must be zero or more.")
    questions = list(questionnaire_version.questions.prefetch_related("options"))
    selected: dict[str, AnswerOption] = {}
    missing = []
    for question in questions:
        if question.kind != Question.Kind.CHOICE:
            continue
        options = {o.pk: o for o in question.options.all()}
        option = options.get(selections.get(question.code))  # type: ignore[arg-type]
        if option is None:
            missing.append(question.code)
        else:
            selected[question.code] = option
    if missing:
        raise OnboardingError(f"Please answer every question (missing: {', '.join(missing)}).")

    result = scoring.score(questionnaire.scoring_answers(questions, selected))
    model = selectors.model_for_level(result.level)
    assessment = RiskAssessment.objects.create(
        user=user,
        questionnaire=questionnaire_version,
        answers=questionnaire.snapshot(questions, selected, amount),
        amount=amount.quantize(Decimal("0.01")),
        tolerance_score=Decimal(str(result.tolerance)),
        capacity_score=Decimal(str(result.capacity)),
        risk_level=result.level,
        max_level=result.max_level,
        limited_by=result.limited_by,
        flags=[{"code": f.code, "message": f.message} for f in result.flags],
        explanation=scoring.explain(result),
        recommended_model=model,
    )
    audit.record(
        "risk.assessment_submitted",
        household=user,
        actor=user,
        obj=assessment,
        summary=f"Questionnaire v{questionnaire_version.version}: level {result.level} "
        f"(tolerance {scoring.whole_score(result.tolerance)}, "
        f"capacity {scoring.whole_score(result.capacity)})"
        + (f", recommended {model.name}" if model else ", no model available"),
        version=questionnaire_version.version,
        level=result.level,
        max_level=result.max_level,
        tolerance=result.tolerance,
        capacity=result.capacity,
        limited_by=result.limited_by,
        flags=[f.code for f in result.flags],
        recommended_model=model.slug if model else None,
    )
    return assessment


@transaction.atomic
def accept_recommendation(
    assessment: RiskAssessment,
    *,
    by: User,
    model: ModelPortfolio,
    portfolios: Iterable[Portfolio] = (),
    new_account_name: str = "",
    new_account_tax_treatment: str = Portfolio.TaxTreatment.TAXABLE,
    acknowledge_more_aggressive: bool = False,
) -> list[Portfolio]:
    """Make `model` the target of the given accounts (and optionally a new one).

    Refused (OnboardingError, nothing changed) when an account is not the investor's, no
    account is chosen, the model is inactive, or the model is more aggressive than the
    assessed level without `acknowledge_more_aggressive` (AcknowledgementRequired). An
    acknowledged aggressive choice is logged separately for the adviser.
    """
    more_aggressive = _acceptable(assessment, by, model, acknowledge_more_aggressive)
    accounts = _chosen_accounts(by, portfolios, new_account_name, new_account_tax_treatment)
    if more_aggressive:
        _record_more_aggressive(assessment, by, model)
    for account in accounts:
        _set_model(account, model, assessment, by)
    assessment.accepted_model = model
    assessment.accepted_at = clock.now()
    assessment.acknowledged_more_aggressive = (
        assessment.acknowledged_more_aggressive or more_aggressive
    )
    assessment.save(update_fields=["accepted_model", "accepted_at", "acknowledged_more_aggressive"])
    return accounts


def _acceptable(
    assessment: RiskAssessment, by: User, model: ModelPortfolio, acknowledge: bool
) -> bool:
    """Refuse what cannot be accepted; True when the model is more aggressive than the
    assessed level (and acknowledged)."""
    if assessment.user_id != by.pk:
        raise OnboardingError("This risk profile belongs to someone else.")
    if not model.is_active:
        raise OnboardingError("That model portfolio is no longer offered.")
    if RiskAssessment.objects.filter(user=by, submitted_at__gt=assessment.submitted_at).exists():
        raise OnboardingError(
            "A newer risk profile replaces this one; accept from the latest result."
        )
    # The recommended model itself never needs an acknowledgement (when no model matches a very
    # low level the safest one on offer is recommended); anything riskier than the level does.
    more_aggressive = (
        model.risk_level > assessment.risk_level and model.pk != assessment.recommended_model_id
    )
    if more_aggressive and not acknowledge:
        raise AcknowledgementRequired(
            f"{model.name} (level {model.risk_level}) is riskier than your assessed level "
            f"{assessment.risk_level}. Tick the acknowledgement to choose it anyway."
        )
    return more_aggressive


def _chosen_accounts(
    by: User, portfolios: Iterable[Portfolio], new_account_name: str, tax_treatment: str
) -> list[Portfolio]:
    """The investor's chosen accounts, locked, and the new one opened when named."""
    ids = {p.pk for p in portfolios}
    accounts = list(
        Portfolio.objects.select_for_update().filter(pk__in=ids, owner=by, is_active=True)
    )
    if len(accounts) != len(ids):
        raise OnboardingError("One of the chosen accounts does not exist.")
    name = new_account_name.strip()
    if name:
        if Portfolio.objects.filter(owner=by, name=name).exists():
            raise OnboardingError(f"You already have an account named \u201c{name}\u201d.")
        if tax_treatment not in Portfolio.TaxTreatment.values:
            raise OnboardingError("Unknown account type.")
        new = Portfolio(name=name, tax_treatment=tax_treatment)
        accounts.append(portfolio_services.open_account(new, by=by))
    if not accounts:
        raise OnboardingError("Choose at least one account (or name a new one).")
    return accounts


def _record_more_aggressive(assessment: RiskAssessment, by: User, model: ModelPortfolio) -> None:
    audit.record(
        "risk.more_aggressive_acknowledged",
        household=by,
        actor=by,
        obj=assessment,
        summary=f"Chose {model.name} (level {model.risk_level}) above assessed level {assessment.risk_level}"
        + (
            f" and above the capacity cap {assessment.max_level}"
            if model.risk_level > assessment.max_level
            else ""
        ),
        model=model.slug,
        model_level=model.risk_level,
        assessed_level=assessment.risk_level,
        max_level=assessment.max_level,
    )


def _set_model(
    account: Portfolio, model: ModelPortfolio, assessment: RiskAssessment, by: User
) -> None:
    previous = account.model
    account.model = model
    account.save(update_fields=["model", "updated_at"])
    audit.record(
        "risk.model_accepted",
        household=by,
        actor=by,
        obj=account,
        summary=f"{account.name}: target set to {model.name}",
        assessment=assessment.pk,
        model=model.slug,
        previous_model=previous.slug if previous else None,
        recommended_model=assessment.recommended_model.slug
        if assessment.recommended_model
        else None,
    )
