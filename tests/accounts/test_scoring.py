"""Questionnaire scoring: a hand-computed table, property tests, protected attributes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import scoring
from accounts.questionnaire import DEFAULT_QUESTIONS
from tests.accounts.conftest import BOLD, CAUTIOUS, MIDDLE

SCORED = [q for q in DEFAULT_QUESTIONS if q[2] != "none"]


def answers_for(choices: dict[str, str]) -> list[scoring.Answer]:
    """scoring.Answers for option codes, from the default questionnaire's content (no database)."""
    answers = []
    for code, _step, dimension, _kind, text, _help, options in SCORED:
        by_code = {o[0]: o for o in options}
        _o, label, points, cap = by_code[choices[code]]
        answers.append(
            scoring.Answer(
                code,
                dimension,
                points,
                max(o[2] for o in options),
                level_cap=cap,
                question_text=text,
                answer_text=label,
            )
        )
    return answers


# Hand-computed. Capacity questions: age /4, horizon /4, income /3, emergency /3, liquidity /3,
# net worth /3; tolerance: goal /4, experience /3, attitude /4, reaction /3, outcomes /4, gamble /3.
CASES = [
    # name, choices, tolerance, capacity, level, max_level, limited_by
    ("all cautious", CAUTIOUS, 0.0, 0.0, 1, 1, "tolerance"),  # a tie is put down to willingness
    ("all bold", BOLD, 100.0, 100.0, 10, 10, "tolerance"),
    # capacity (3/4 + 1 + 2/3 + 2/3 + 1 + 2/3) / 6 = 79.17 -> level 8; tolerance 100 -> 10
    ("capacity binds", {**BOLD, "age": "30-44", "income_stability": "stable", "emergency_fund": "3-6", "net_worth_share": "25-50"},
     100.0, 79.17, 8, 8, "capacity"),
    # horizon 2-4 years: capacity (1 + 1/4 + 1 + 1 + 1 + 1) / 6 = 87.5 -> 9, but the answer caps at 4
    ("short horizon caps", {**BOLD, "horizon": "2-4"}, 100.0, 87.5, 4, 4, "cap:horizon"),
    # more than half needed within 5 years: capacity 5/6 = 83.33 -> 9, capped at 3
    ("liquidity caps", {**BOLD, "liquidity": "over-half"}, 100.0, 83.33, 3, 3, "cap:liquidity"),
    # tolerance (2/4 + 2/3 + 2/4 + 2/3 + 2/4 + 2/3) / 6 = 58.33 -> 6; capacity 100
    ("tolerance binds", MIDDLE, 58.33, 100.0, 6, 10, "tolerance"),
    # both caps present: the lower (2, horizon under 2 years) wins; capacity (4 + 1/3) / 6 = 72.22
    ("two caps", {**BOLD, "horizon": "under-2", "liquidity": "quarter-half"}, 100.0, 72.22, 2, 2, "cap:horizon"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "choices", "tolerance", "capacity", "level", "max_level", "limited_by"), CASES
)
def test_hand_computed_cases(
    name, choices, tolerance, capacity, level, max_level, limited_by
) -> None:
    result = scoring.score(answers_for(choices))
    assert result.tolerance == pytest.approx(tolerance, abs=0.01), name
    assert result.capacity == pytest.approx(capacity, abs=0.01), name
    assert (result.level, result.max_level, result.limited_by) == (level, max_level, limited_by), (
        name
    )


@pytest.mark.parametrize(
    ("score", "level"), [(0, 1), (9.99, 1), (10, 2), (55, 6), (89.99, 9), (90, 10), (100, 10)]
)
def test_level_bands(score: float, level: int) -> None:
    assert scoring.level_of(score) == level


def test_inconsistent_answers_are_flagged() -> None:
    panic = scoring.score(answers_for({**BOLD, "drawdown_reaction": "sell-all"}))
    assert "panic_vs_high_risk" in {f.code for f in panic.flags}
    assert "loss_answers_disagree" in {f.code for f in panic.flags}
    novice = scoring.score(answers_for({**BOLD, "experience": "none"}))
    assert "no_experience_high_attitude" in {f.code for f in novice.flags}
    rushed = scoring.score(answers_for({**BOLD, "horizon": "under-2"}))
    assert "growth_goal_short_horizon" in {f.code for f in rushed.flags}
    gap = scoring.score(
        answers_for(
            {
                **CAUTIOUS,
                **{
                    k: BOLD[k]
                    for k in (
                        "goal",
                        "experience",
                        "risk_attitude",
                        "drawdown_reaction",
                        "outcome_range",
                        "loss_gamble",
                    )
                },
            }
        )
    )
    assert "tolerance_exceeds_capacity" in {f.code for f in gap.flags}
    assert scoring.score(answers_for(BOLD)).flags == ()
    assert scoring.score(answers_for(MIDDLE)).flags == ()


def test_explanation_names_the_driving_answers() -> None:
    result = scoring.score(answers_for({**BOLD, "horizon": "2-4"}))
    text = " ".join(scoring.explain(result))
    assert "In 2 to 4 years" in text and "4 of 10" in text
    capped = scoring.score(
        answers_for(
            {
                **BOLD,
                "emergency_fund": "none",
                "income_stability": "none",
                "net_worth_share": "over-75",
            }
        )
    )
    text = " ".join(scoring.explain(capped))
    assert capped.limited_by == "capacity"
    assert "None" in text and "I have no regular income" in text


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError):
        scoring.score([scoring.Answer("a", "tolerance", 5, 4)])
    with pytest.raises(ValueError):
        scoring.score([scoring.Answer("a", "mood", 1, 4)])
    with pytest.raises(ValueError):
        scoring.score(
            [scoring.Answer("a", "tolerance", 1, 4), scoring.Answer("a", "tolerance", 1, 4)]
        )
    with pytest.raises(ValueError):
        scoring.check_caps_monotonic({0: 2, 1: None, 2: 5})


def test_default_questionnaire_caps_never_decrease_with_riskier_answers() -> None:
    for code, *_rest, options in SCORED:
        scoring.check_caps_monotonic({points: cap for _c, _t, points, cap in options})
        assert [o[2] for o in options] == sorted(o[2] for o in options), code


# --- property tests over random questionnaires --------------------------------------------


@st.composite
def questionnaires(draw: st.DrawFn) -> tuple[list[dict], list[int]]:
    """A random questionnaire (caps non-decreasing in points) and a random answer per question."""
    n = draw(st.integers(1, 12))
    spec, picks = [], []
    for i in range(n):
        max_points = draw(st.integers(1, 5))
        caps_sorted = sorted(
            draw(
                st.lists(
                    st.one_of(st.none(), st.integers(1, 10)),
                    min_size=max_points + 1,
                    max_size=max_points + 1,
                )
            ),
            key=lambda c: 11 if c is None else c,
        )
        spec.append({"code": f"q{i}", "dimension": draw(st.sampled_from(scoring.DIMENSIONS)), "max": max_points,
                     "weight": draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])), "caps": caps_sorted})  # fmt: skip
        picks.append(draw(st.integers(0, max_points)))
    return spec, picks


def build(spec: list[dict], picks: list[int]) -> list[scoring.Answer]:
    return [
        scoring.Answer(
            q["code"], q["dimension"], p, q["max"], weight=q["weight"], level_cap=q["caps"][p]
        )
        for q, p in zip(spec, picks, strict=True)
    ]


@settings(max_examples=150, deadline=None)
@given(questionnaires())
def test_scores_and_level_always_in_range_and_caps_respected(
    case: tuple[list[dict], list[int]],
) -> None:
    spec, picks = case
    answers = build(spec, picks)
    result = scoring.score(answers)
    assert 0 <= result.tolerance <= 100 and 0 <= result.capacity <= 100
    assert 1 <= result.level <= 10
    assert result.level <= result.max_level <= result.capacity_level
    assert result.level <= result.tolerance_level
    for answer in answers:
        if answer.level_cap is not None:
            assert result.level <= answer.level_cap


@settings(max_examples=150, deadline=None)
@given(questionnaires(), st.data())
def test_a_riskier_answer_never_lowers_the_level(
    case: tuple[list[dict], list[int]], data: st.DataObject
) -> None:
    spec, picks = case
    i = data.draw(st.integers(0, len(spec) - 1))
    if picks[i] == spec[i]["max"]:
        return
    before = scoring.score(build(spec, picks))
    riskier = list(picks)
    riskier[i] += data.draw(st.integers(1, spec[i]["max"] - picks[i]))
    after = scoring.score(build(spec, riskier))
    assert after.level >= before.level
    assert after.tolerance >= before.tolerance - 1e-9 and after.capacity >= before.capacity - 1e-9
    assert after.max_level >= before.max_level


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=len(SCORED), max_size=len(SCORED)))
def test_default_questionnaire_level_always_within_caps(indexes: list[int]) -> None:
    choices = {}
    for (code, *_rest, options), index in zip(SCORED, indexes, strict=True):
        choices[code] = options[min(index, len(options) - 1)][0]
    result = scoring.score(answers_for(choices))
    horizon_cap = {"under-2": 2, "2-4": 4, "5-9": 7}.get(choices["horizon"], 10)
    liquidity_cap = {"over-half": 3, "quarter-half": 5}.get(choices["liquidity"], 10)
    assert 1 <= result.level <= min(horizon_cap, liquidity_cap, scoring.level_of(result.capacity))
