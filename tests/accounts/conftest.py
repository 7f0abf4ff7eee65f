"""Fixtures for onboarding tests: the seeded questionnaire, model portfolios, answer sets."""

import pytest

from accounts import questionnaire
from accounts.models import Questionnaire
from portfolios import demo

# option codes per question (see accounts.questionnaire.DEFAULT_QUESTIONS)
CAUTIOUS = {
    "age": "65-plus", "horizon": "under-2", "goal": "preserve", "income_stability": "none",
    "emergency_fund": "none", "liquidity": "over-half", "net_worth_share": "over-75",
    "experience": "none", "risk_attitude": "very-low", "drawdown_reaction": "sell-all",
    "outcome_range": "r0", "loss_gamble": "never",
}  # fmt: skip
BOLD = {
    "age": "under-30", "horizon": "20-plus", "goal": "max-growth", "income_stability": "very-stable",
    "emergency_fund": "over-6", "liquidity": "none", "net_worth_share": "under-25",
    "experience": "extensive", "risk_attitude": "very-high", "drawdown_reaction": "buy",
    "outcome_range": "r4", "loss_gamble": "1500",
}  # fmt: skip
# tolerance 58.33 (level 6), capacity 100 (level 10): level 6, limited by tolerance
MIDDLE = {
    **BOLD, "goal": "balanced", "experience": "funds", "risk_attitude": "average",
    "drawdown_reaction": "hold", "outcome_range": "r2", "loss_gamble": "2000",
}  # fmt: skip


@pytest.fixture
def questionnaire_v1(db: None) -> Questionnaire:
    return questionnaire.ensure_default_questionnaire()


@pytest.fixture
def model_portfolios(db: None) -> None:
    demo.seed_reference_data()


def selections(version: Questionnaire, choices: dict[str, str]) -> dict[str, int]:
    """Option ids for option codes: {question code: option id}."""
    out = {}
    for question in version.questions.prefetch_related("options"):
        if question.code in choices:
            out[question.code] = next(
                o.pk for o in question.options.all() if o.code == choices[question.code]
            )
    return out
