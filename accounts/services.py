"""Onboarding state changes: submit a questionnaire, accept a recommendation, update the profile.

Every step writes an audit event (accounts.audit.record) inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction

from accounts import audit, questionnaire, scoring, selectors
from accounts.models import (
    AnswerOption,
    InvestorProfile,
    Question,
    Questionnaire,
    RiskAssessment,
    User,
)
from advisor.core import clock
from portfolios.models import ModelPortfolio, Portfolio


class OnboardingError(ValueError):
    """Bad input: the message is shown to the investor; nothing was changed."""


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
        f"(tolerance {result.tolerance:.0f}, capacity {result.capacity:.0f})"
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
    if more_aggressive and not acknowledge_more_aggressive:
        raise AcknowledgementRequired(
            f"{model.name} (level {model.risk_level}) is riskier than your assessed level "
            f"{assessment.risk_level}. Tick the acknowledgement to choose it anyway."
        )
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
        if new_account_tax_treatment not in Portfolio.TaxTreatment.values:
            raise OnboardingError("Unknown account type.")
        new = Portfolio.objects.create(owner=by, name=name, tax_treatment=new_account_tax_treatment)
        audit.record(
            "portfolio.created", household=by, actor=by, obj=new, summary=f"Opened account {name}"
        )
        accounts.append(new)
    if not accounts:
        raise OnboardingError("Choose at least one account (or name a new one).")

    if more_aggressive:
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
    for account in accounts:
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
    assessment.accepted_model = model
    assessment.accepted_at = clock.now()
    assessment.acknowledged_more_aggressive = (
        assessment.acknowledged_more_aggressive or more_aggressive
    )
    assessment.save(update_fields=["accepted_model", "accepted_at", "acknowledged_more_aggressive"])
    return accounts


PROFILE_FIELDS = ("date_of_birth", "annual_income", "sex", "marital_status")


@transaction.atomic
def update_profile(user: User, **fields: object) -> InvestorProfile:
    """Update the record-only profile facts (never used by scoring); audited."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise OnboardingError(f"Unknown profile fields: {', '.join(sorted(unknown))}")
    profile, _ = InvestorProfile.objects.select_for_update().get_or_create(user=user)
    changed = [name for name, value in fields.items() if getattr(profile, name) != value]
    for name in changed:
        setattr(profile, name, fields[name])
    if changed:
        profile.save(update_fields=[*changed, "updated_at"])
        audit.record(
            "profile.updated",
            household=user,
            actor=user,
            obj=profile,
            summary="Profile facts updated",
            fields=changed,
        )
    return profile
