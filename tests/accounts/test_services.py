"""Submitting a questionnaire and accepting a recommendation: stored, immutable, audited."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts import services as account_services
from accounts.models import (
    AnswerOption,
    AuditEvent,
    InvestorProfile,
    Question,
    QuestionnaireLocked,
    RiskAssessment,
)
from portfolios.models import ModelPortfolio, Portfolio
from portfolios.onboarding import services
from tests.accounts.conftest import BOLD, CAUTIOUS, MIDDLE, selections
from tests.factories import PortfolioFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(user, questionnaire_v1, model_portfolios):
    def submit(choices: dict[str, str], amount: str = "50000", who=None):
        return services.submit_assessment(
            who or user,
            questionnaire_version=questionnaire_v1,
            selections=selections(questionnaire_v1, choices),
            amount=Decimal(amount),
        )

    return submit


def test_ensure_default_questionnaire_is_idempotent(questionnaire_v1) -> None:
    from accounts.questionnaire import ensure_default_questionnaire

    again = ensure_default_questionnaire()
    assert again.pk == questionnaire_v1.pk
    assert Question.objects.count() == 13
    assert questionnaire_v1.questions.filter(dimension="tolerance").count() == 6
    assert questionnaire_v1.questions.filter(dimension="capacity").count() == 6


def test_submitting_stores_scores_recommendation_and_an_audit_event(submit, user) -> None:
    assessment = submit(MIDDLE)
    assert assessment.risk_level == 6
    assert assessment.max_level == 10
    assert assessment.tolerance_score == Decimal("58.33")
    assert assessment.recommended_model.slug == "balanced"  # the level-6 demo model
    assert assessment.amount == Decimal("50000.00")
    assert {a["question"] for a in assessment.answers} >= {"amount", "horizon", "drawdown_reaction"}
    reaction = next(a for a in assessment.answers if a["question"] == "drawdown_reaction")
    assert (
        "$50,000" in reaction["text"]
        and "$37,500" in reaction["text"]
        and "$12,500" in reaction["text"]
    )
    event = AuditEvent.objects.get(action="risk.assessment_submitted")
    assert (
        event.household == user
        and event.data["level"] == 6
        and event.data["recommended_model"] == "balanced"
    )


def test_recommendation_never_above_the_level_when_a_safer_model_exists(submit) -> None:
    # level 9 has no model: the nearest LOWER one (growth, 8) is recommended, not aggressive (10)
    choices = {
        **BOLD,
        "age": "30-44",
        "emergency_fund": "3-6",
    }  # capacity (3/4+1+1+2/3+1+1)/6 = 90.3 -> 10
    choices["goal"] = "growth"  # tolerance (3/4 + 5) / 6 = 95.8 -> 10 ... lower it:
    choices["risk_attitude"] = "high"  # tolerance (3/4 + 3/4 + 4) / 6 = 91.7 -> 10
    choices["outcome_range"] = "r3"  # tolerance (3 * 3/4 + 3) / 6 = 87.5 -> 9
    assessment = submit(choices)
    assert assessment.risk_level == 9
    assert assessment.recommended_model.slug == "growth"
    cautious = submit(CAUTIOUS)
    assert cautious.risk_level == 1
    assert cautious.recommended_model.slug == "conservative"  # the safest model there is (level 2)


def test_missing_or_foreign_answers_are_refused_and_nothing_is_stored(
    submit, questionnaire_v1, user
) -> None:
    partial = dict(MIDDLE)
    del partial["horizon"]
    with pytest.raises(services.OnboardingError, match="horizon"):
        submit(partial)
    ids = selections(questionnaire_v1, MIDDLE)
    ids["horizon"] = ids["goal"]  # an option of another question
    with pytest.raises(services.OnboardingError):
        services.submit_assessment(
            user,
            questionnaire_version=questionnaire_v1, selections=ids, amount=Decimal("1000"),
        )  # fmt: skip
    with pytest.raises(services.OnboardingError):
        submit(MIDDLE, amount="-5")
    assert RiskAssessment.objects.count() == 0
    assert not AuditEvent.objects.filter(action="risk.assessment_submitted").exists()


def test_assessments_are_immutable_and_a_retake_is_a_new_record(submit) -> None:
    first = submit(MIDDLE)
    first.risk_level = 10
    with pytest.raises(PermissionError):
        first.save()
    with pytest.raises(PermissionError):
        first.delete()
    second = submit(BOLD)
    assert RiskAssessment.objects.count() == 2
    first.refresh_from_db()
    assert first.risk_level == 6 and second.risk_level == 10


def test_an_answered_version_cannot_be_edited(submit, questionnaire_v1) -> None:
    question = questionnaire_v1.questions.get(code="horizon")
    option = question.options.first()
    question.text = "Changed?"
    question.save()  # not answered yet: allowed
    submit(MIDDLE)
    question.text = "Changed again?"
    with pytest.raises(QuestionnaireLocked):
        question.save()
    option.points = 4
    with pytest.raises(QuestionnaireLocked):
        option.save()
    with pytest.raises(QuestionnaireLocked):
        AnswerOption.objects.get(pk=option.pk).delete()
    with pytest.raises(QuestionnaireLocked):
        questionnaire_v1.delete()
    questionnaire_v1.is_active = False
    questionnaire_v1.save()  # switching an answered version off is allowed


def test_clone_creates_an_editable_new_version(submit, questionnaire_v1) -> None:
    from accounts.questionnaire import clone_questionnaire

    submit(MIDDLE)
    clone = clone_questionnaire(questionnaire_v1)
    assert clone.version == 2 and not clone.is_active
    assert clone.questions.count() == 13
    q = clone.questions.get(code="horizon")
    q.text = "When do you need the money?"
    q.save()
    assert questionnaire_v1.questions.get(code="horizon").text != q.text


def test_stale_after_twelve_months(submit) -> None:
    assessment = submit(MIDDLE)
    assert not assessment.is_stale(assessment.submitted_at + dt.timedelta(days=365))
    assert assessment.is_stale(assessment.submitted_at + dt.timedelta(days=366))


def test_accepting_sets_the_model_of_several_accounts_and_audits_each(submit, user) -> None:
    assessment = submit(MIDDLE)
    a, b = PortfolioFactory(owner=user, name="Taxable"), PortfolioFactory(owner=user, name="Roth")
    accounts = services.accept_recommendation(
        assessment,
        by=user,
        model=assessment.recommended_model,
        portfolios=[a, b],
        new_account_name="Joint",
    )
    assert {p.name for p in accounts} == {"Taxable", "Roth", "Joint"}
    assert set(Portfolio.objects.filter(owner=user).values_list("model__slug", flat=True)) == {
        "balanced"
    }
    assessment.refresh_from_db()
    assert assessment.accepted_model.slug == "balanced" and assessment.accepted_at is not None
    assert AuditEvent.objects.filter(action="risk.model_accepted").count() == 3
    assert not AuditEvent.objects.filter(action="risk.more_aggressive_acknowledged").exists()


def test_more_conservative_is_allowed_more_aggressive_needs_acknowledgement(submit, user) -> None:
    assessment = submit({**BOLD, "horizon": "2-4"})  # capped at 4
    account = PortfolioFactory(owner=user)
    conservative = ModelPortfolio.objects.get(slug="conservative")
    aggressive = ModelPortfolio.objects.get(slug="aggressive")
    services.accept_recommendation(assessment, by=user, model=conservative, portfolios=[account])
    with pytest.raises(services.AcknowledgementRequired):
        services.accept_recommendation(assessment, by=user, model=aggressive, portfolios=[account])
    account.refresh_from_db()
    assert account.model == conservative  # unchanged by the refused attempt
    services.accept_recommendation(
        assessment,
        by=user,
        model=aggressive,
        portfolios=[account],
        acknowledge_more_aggressive=True,
    )
    account.refresh_from_db()
    assert account.model == aggressive
    event = AuditEvent.objects.get(action="risk.more_aggressive_acknowledged")
    assert event.data == {
        "model": "aggressive",
        "model_level": 10,
        "assessed_level": 4,
        "max_level": 4,
    }
    assert "above the capacity cap 4" in event.summary
    assessment.refresh_from_db()
    assert assessment.acknowledged_more_aggressive


def test_accepting_for_another_users_account_is_refused(submit, user, other_user) -> None:
    assessment = submit(MIDDLE)
    theirs = PortfolioFactory(owner=other_user)
    with pytest.raises(services.OnboardingError):
        services.accept_recommendation(
            assessment, by=user, model=assessment.recommended_model, portfolios=[theirs]
        )
    with pytest.raises(services.OnboardingError):
        services.accept_recommendation(
            assessment, by=other_user, model=assessment.recommended_model, portfolios=[theirs]
        )
    with pytest.raises(services.OnboardingError):
        services.accept_recommendation(
            assessment, by=user, model=assessment.recommended_model, portfolios=[]
        )
    theirs.refresh_from_db()
    assert theirs.model is None
    assert not AuditEvent.objects.filter(action="risk.model_accepted").exists()


SEXES = ["", "female", "male", "other"]
MARITAL = ["", "single", "married", "divorced", "widowed"]


@pytest.mark.parametrize("choices", [CAUTIOUS, MIDDLE, BOLD, {**BOLD, "horizon": "5-9"}])
def test_protected_attributes_never_change_the_level_or_recommendation(
    submit, user, choices
) -> None:
    outcomes = set()
    for i, (sex, marital) in enumerate([(s, m) for s in SEXES for m in MARITAL]):
        account_services.update_profile(
            user, sex=sex, marital_status=marital, date_of_birth=dt.date(1950 + i, 1 + i % 12, 1),
            annual_income=Decimal(10_000 * (i + 1)),
        )  # fmt: skip
        assessment = submit(choices)
        outcomes.add((assessment.risk_level, assessment.max_level, assessment.tolerance_score,
                      assessment.capacity_score, assessment.recommended_model_id, tuple(assessment.explanation)))  # fmt: skip
    assert len(outcomes) == 1
    assert InvestorProfile.objects.get(user=user).sex == "other"


def test_profile_update_is_audited_and_rejects_unknown_fields(user) -> None:
    account_services.update_profile(user, sex="female")
    account_services.update_profile(user, sex="female")  # no change: no second event
    assert AuditEvent.objects.filter(action="profile.updated").count() == 1
    with pytest.raises(services.OnboardingError):
        account_services.update_profile(user, short_term_tax_rate=Decimal("0.5"))


def test_only_the_latest_assessment_can_be_accepted(submit, user) -> None:
    old = submit(MIDDLE)
    submit(BOLD)
    account = PortfolioFactory(owner=user)
    with pytest.raises(services.OnboardingError, match="newer"):
        services.accept_recommendation(
            old, by=user, model=old.recommended_model, portfolios=[account]
        )
    account.refresh_from_db()
    assert account.model is None
