"""The questionnaire content and the glue between stored questions and `accounts.scoring`.

`ensure_default_questionnaire()` is idempotent: it creates version 1 (DEFAULT_QUESTIONS) when no
version exists, and otherwise does nothing. A data migration calls it; tests call it too.
Staff change the questionnaire by cloning a version (`clone_questionnaire`, an admin action),
editing the clone and activating it; answered versions are frozen by the model guards.

Points: 0 is the most cautious answer; more points == more able or willing to take risk.
Level caps: a horizon under 2 years caps the level at 2, 2-4 years at 4, 5-9 years at 7;
needing more than half of the money within 5 years caps it at 3, a quarter to a half at 5.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts import scoring
from accounts.models import AnswerOption, Question, Questionnaire

# step titles of the multi-step form
STEPS: dict[int, str] = {
    1: "You and your goal",
    2: "Your finances",
    3: "Experience and attitude",
    4: "Ups and downs",
}

# (code, step, dimension, kind, text, help_text, [(option code, text, points, level_cap), ...])
DEFAULT_QUESTIONS: list[
    tuple[str, int, str, str, str, str, list[tuple[str, str, int, int | None]]]
] = [
    (
        "amount",
        1,
        "none",
        "amount",
        "How much do you plan to invest?",
        "In US dollars. Used to show examples in money.",
        [],
    ),
    (
        "age",
        1,
        "capacity",
        "choice",
        "How old are you?",
        "Younger investors have more working years to recover from losses.",
        [
            ("65-plus", "65 or older", 0, None),
            ("55-64", "55 to 64", 1, None),
            ("45-54", "45 to 54", 2, None),
            ("30-44", "30 to 44", 3, None),
            ("under-30", "Under 30", 4, None),
        ],
    ),
    (
        "horizon",
        1,
        "capacity",
        "choice",
        "When will you need to start withdrawing most of this money?",
        "",
        [
            ("under-2", "In less than 2 years", 0, 2),
            ("2-4", "In 2 to 4 years", 1, 4),
            ("5-9", "In 5 to 9 years", 2, 7),
            ("10-19", "In 10 to 19 years", 3, None),
            ("20-plus", "In 20 years or more", 4, None),
        ],
    ),
    (
        "goal",
        1,
        "tolerance",
        "choice",
        "What is your main goal for this money?",
        "",
        [
            ("preserve", "Keep it safe, even if it barely grows", 0, None),
            ("income", "Steady income with little fluctuation", 1, None),
            ("balanced", "A balance of growth and stability", 2, None),
            ("growth", "Long-term growth", 3, None),
            ("max-growth", "The highest growth, accepting big swings", 4, None),
        ],
    ),
    (
        "income_stability",
        2,
        "capacity",
        "choice",
        "How secure is your income over the next five years?",
        "",
        [
            ("none", "I have no regular income", 0, None),
            ("unstable", "Uncertain: it may fall or stop", 1, None),
            ("stable", "Stable", 2, None),
            ("very-stable", "Very secure and likely to grow", 3, None),
        ],
    ),
    (
        "emergency_fund",
        2,
        "capacity",
        "choice",
        "How many months of expenses do you hold in cash, outside this investment?",
        "",
        [
            ("none", "None", 0, None),
            ("under-3", "Less than 3 months", 1, None),
            ("3-6", "3 to 6 months", 2, None),
            ("over-6", "More than 6 months", 3, None),
        ],
    ),
    (
        "liquidity",
        2,
        "capacity",
        "choice",
        "How much of this money might you need to withdraw in the next 1 to 5 years?",
        "For a home, education, a car or other planned spending.",
        [
            ("over-half", "More than half", 0, 3),
            ("quarter-half", "A quarter to a half", 1, 5),
            ("under-quarter", "Less than a quarter", 2, None),
            ("none", "None of it", 3, None),
        ],
    ),
    (
        "net_worth_share",
        2,
        "capacity",
        "choice",
        "What share of your total savings and investments is this money?",
        "",
        [
            ("over-75", "More than 75%", 0, None),
            ("50-75", "50% to 75%", 1, None),
            ("25-50", "25% to 50%", 2, None),
            ("under-25", "Less than 25%", 3, None),
        ],
    ),
    (
        "experience",
        3,
        "tolerance",
        "choice",
        "Which best describes your investing experience?",
        "",
        [
            ("none", "None: I have only used bank accounts", 0, None),
            ("some", "Some: savings plans, bond or money-market funds", 1, None),
            ("funds", "Stock funds or shares for a few years", 2, None),
            ("extensive", "Many years, including through a market crash", 3, None),
        ],
    ),
    (
        "risk_attitude",
        3,
        "tolerance",
        "choice",
        "Compared with other people, how willing are you to take financial risk?",
        "",
        [
            ("very-low", "Much less willing", 0, None),
            ("low", "Less willing", 1, None),
            ("average", "About the same", 2, None),
            ("high", "More willing", 3, None),
            ("very-high", "Much more willing", 4, None),
        ],
    ),
    (
        "drawdown_reaction",
        4,
        "tolerance",
        "choice",
        "Suppose markets fall and your {amount} drops by 25% to {amount_after_fall} within a few months, a paper loss of {loss}. What would you most likely do?",
        "Falls of 20-30% have happened several times in every decade of stock market history.",
        [
            ("sell-all", "Sell everything to avoid further losses", 0, None),
            ("sell-some", "Sell some of it", 1, None),
            ("hold", "Wait for the market to recover", 2, None),
            ("buy", "Invest more while prices are low", 3, None),
        ],
    ),
    (
        "outcome_range",
        4,
        "tolerance",
        "choice",
        "Which range of one-year results for {amount} would you choose?",
        "Higher possible gains come with larger possible losses.",
        [
            ("r0", "Best +4%, worst 0%", 0, None),
            ("r1", "Best +8%, worst -5%", 1, None),
            ("r2", "Best +15%, worst -12%", 2, None),
            ("r3", "Best +25%, worst -22%", 3, None),
            ("r4", "Best +35%, worst -32%", 4, None),
        ],
    ),
    (
        "loss_gamble",
        4,
        "tolerance",
        "choice",
        "A coin toss: heads you gain some money, tails you lose $1,000. What is the smallest gain that would make you accept?",
        "",
        [
            ("never", "I would not accept even for a $3,000 gain", 0, None),
            ("3000", "A $3,000 gain", 1, None),
            ("2000", "A $2,000 gain", 2, None),
            ("1500", "A $1,500 gain", 3, None),
        ],
    ),
]

# Short names of the questions for the plain-words explanation.
LABELS: dict[str, str] = {
    "age": "your age",
    "horizon": "when you need the money",
    "goal": "your goal",
    "income_stability": "income security",
    "emergency_fund": "emergency savings",
    "liquidity": "money needed within 5 years",
    "net_worth_share": "share of your savings",
    "experience": "investing experience",
    "risk_attitude": "your own view of your risk appetite",
    "drawdown_reaction": "what you would do after a 25% fall",
    "outcome_range": "the range of results you would accept",
    "loss_gamble": "the coin-toss trade-off",
}


@transaction.atomic
def ensure_default_questionnaire() -> Questionnaire:
    """Create questionnaire version 1 with DEFAULT_QUESTIONS if no version exists (idempotent)."""
    existing = Questionnaire.objects.current() or Questionnaire.objects.order_by("-version").first()
    if existing is not None:
        return existing
    questionnaire = Questionnaire.objects.create(version=1, is_active=True)
    for order, (code, step, dimension, kind, text, help_text, options) in enumerate(
        DEFAULT_QUESTIONS
    ):
        question = Question.objects.create(
            questionnaire=questionnaire,
            code=code,
            step=step,
            order=order,
            text=text,
            help_text=help_text,
            dimension=dimension,
            kind=kind,
        )
        AnswerOption.objects.bulk_create(
            AnswerOption(
                question=question, code=o_code, order=i, text=o_text, points=points, level_cap=cap
            )
            for i, (o_code, o_text, points, cap) in enumerate(options)
        )
    return questionnaire


@transaction.atomic
def clone_questionnaire(source: Questionnaire) -> Questionnaire:
    """Copy a version as a new, inactive version (the way staff edit an answered questionnaire)."""
    next_version = (
        Questionnaire.objects.order_by("-version").values_list("version", flat=True).first() or 0
    ) + 1
    clone = Questionnaire.objects.create(version=next_version, title=source.title, is_active=False)
    for question in source.questions.prefetch_related("options"):
        options = list(question.options.all())
        new_q = Question.objects.create(
            questionnaire=clone,
            code=question.code,
            step=question.step,
            order=question.order,
            text=question.text,
            help_text=question.help_text,
            dimension=question.dimension,
            kind=question.kind,
            weight=question.weight,
        )
        AnswerOption.objects.bulk_create(
            AnswerOption(
                question=new_q,
                code=o.code,
                order=o.order,
                text=o.text,
                points=o.points,
                level_cap=o.level_cap,
            )
            for o in options
        )
    return clone


def money(value: Decimal | float) -> str:
    return f"${Decimal(value).quantize(Decimal('1')):,}"


def render_text(text: str, amount: Decimal | None) -> str:
    """Fill the money example placeholders from the investor's own amount ($10,000 if unknown)."""
    amount = amount if amount and amount > 0 else Decimal("10000")
    return text.format(
        amount=money(amount),
        amount_after_fall=money(amount * Decimal("0.75")),
        loss=money(amount * Decimal("0.25")),
    )


def scoring_answers(
    questions: list[Question], selected: dict[str, AnswerOption]
) -> list[scoring.Answer]:
    """Turn stored questions and the chosen options into `scoring.Answer`s (scored questions only)."""
    answers = []
    for question in questions:
        if question.dimension == Question.Dimension.NONE or question.code not in selected:
            continue
        option = selected[question.code]
        max_points = max(o.points for o in question.options.all())
        answers.append(
            scoring.Answer(
                question=question.code,
                dimension=question.dimension,
                points=option.points,
                max_points=max_points,
                weight=float(question.weight),
                level_cap=option.level_cap,
                question_text=LABELS.get(question.code, question.code.replace("_", " ")),
                answer_text=option.text,
            )
        )
    return answers


def snapshot(
    questions: list[Question], selected: dict[str, AnswerOption], amount: Decimal
) -> list[dict[str, Any]]:
    """The answers as stored on the RiskAssessment (kept even if the questionnaire changes)."""
    rows: list[dict[str, Any]] = []
    for question in questions:
        if question.kind == Question.Kind.AMOUNT:
            rows.append(
                {
                    "question": question.code,
                    "text": question.text,
                    "dimension": question.dimension,
                    "amount": str(amount),
                }
            )
            continue
        option = selected[question.code]
        rows.append(
            {
                "question": question.code,
                "text": render_text(question.text, amount),
                "dimension": question.dimension,
                "option": option.code,
                "answer": option.text,
                "points": option.points,
                "max_points": max(o.points for o in question.options.all()),
                "weight": str(question.weight),
                "level_cap": option.level_cap,
            }
        )
    return rows


# The answer that states a loss in so many words: the worst one-year result the investor chose.
LOSS_QUESTION = "outcome_range"
_WORST = re.compile(r"worst\s*[-\u2212]?\s*(\d+(?:\.\d+)?)\s*%", re.IGNORECASE)


def stated_loss_tolerance(answers: Iterable[Mapping[str, Any]]) -> float | None:
    """The loss the investor said they could bear, as a fraction (0.12 == a 12% fall), read from
    the worst result in the text of the range they chose ("Best +15%, worst -12%"); None when
    the assessment has no such answer. The text is the snapshot the investor saw, so a later
    edit of the questionnaire does not change what they said."""
    for answer in answers:
        if answer.get("question") == LOSS_QUESTION:
            found = _WORST.search(str(answer.get("answer", "")))
            return float(found.group(1)) / 100.0 if found else None
    return None
